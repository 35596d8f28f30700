"""Elo and Bradley-Terry bootstrap intervals against an independent computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from classbench.ranking import ratings as ranking
from classbench.seeding import rng_for

A = np.array([0, 1, 2, 0, 2, 1, 0, 2, 1])
B = np.array([1, 2, 0, 2, 1, 0, 1, 0, 2])
SCORE = np.array([1.0, 0.5, 0.0, 1.0, 1.0, 0.0, 0.5, 1.0, 0.0])
NAMES = ["p", "q", "r"]


def percentile(values, q):
    """Linear interpolation between sorted values (numpy's default percentile)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def interval(replicas, confidence):
    alpha = (1 - confidence) / 2
    columns = list(zip(*replicas, strict=True))
    return (
        np.array([percentile(c, alpha) for c in columns]),
        np.array([percentile(c, 1 - alpha) for c in columns]),
    )


def elo_by_hand(games, k, initial):
    result = ranking.elo([NAMES[A[g]] for g in games], [NAMES[B[g]] for g in games],
                         [SCORE[g] for g in games], k=k, initial=initial)  # fmt: skip
    return [result.get(name, float(initial)) for name in NAMES]


@pytest.mark.parametrize(
    ("kwargs", "n_rounds", "seed", "keys", "k", "initial", "confidence"),
    [({}, 1000, 0, (), 16, 1000, 0.95),
     ({"n_rounds": 40, "seed": 3, "keys": ("t", 1), "k": 8, "initial": 0, "confidence": 0.5},
      40, 3, ("t", 1), 8, 0, 0.5)],
)  # fmt: skip
def test_elo_bootstrap_is_elo_over_resampled_games(kwargs, n_rounds, seed, keys, k, initial,
                                                   confidence):  # fmt: skip
    rating, low, high = ranking.elo_bootstrap(A, B, SCORE, 3, **kwargs)
    np.testing.assert_allclose(rating, elo_by_hand(range(len(A)), k, initial), atol=1e-9)
    draws = rng_for(seed, "elo_bootstrap", *keys).integers(0, len(A), size=(n_rounds, len(A)))
    expected_low, expected_high = interval([elo_by_hand(row, k, initial) for row in draws],
                                           confidence)  # fmt: skip
    np.testing.assert_allclose(low, expected_low, atol=1e-9)
    np.testing.assert_allclose(high, expected_high, atol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "n_rounds", "seed", "keys", "l2", "initial", "confidence"),
    [({}, 1000, 0, (), 0.01, 1000, 0.95),
     ({"n_rounds": 30, "seed": 2, "keys": ("u",), "l2": 0.5, "initial": 0, "confidence": 0.5},
      30, 2, ("u",), 0.5, 0, 0.5)],
)  # fmt: skip
def test_bradley_terry_bootstrap_is_a_fit_to_resampled_games(kwargs, n_rounds, seed, keys, l2,
                                                             initial, confidence):  # fmt: skip
    rating, low, high = ranking.bradley_terry_bootstrap(A, B, SCORE, 3, **kwargs)
    np.testing.assert_allclose(rating, ranking.bradley_terry(A, B, SCORE, 3, l2, initial))
    rng = rng_for(seed, "bradley_terry_bootstrap", *keys)
    replicas = []
    for _ in range(n_rounds):
        games = rng.integers(0, len(A), size=len(A))  # the resampled games, listed one by one
        replicas.append(ranking.bradley_terry(A[games], B[games], SCORE[games], 3, l2, initial))
    expected_low, expected_high = interval(replicas, confidence)
    np.testing.assert_allclose(low, expected_low, atol=1e-6)
    np.testing.assert_allclose(high, expected_high, atol=1e-6)


@pytest.mark.parametrize("method", [ranking.elo_bootstrap, ranking.bradley_terry_bootstrap])
def test_one_round_is_a_real_replica_and_none_is_the_point_rating(method):
    rating, low, high = method(A, B, SCORE, 3, n_rounds=0)
    np.testing.assert_array_equal(low, rating)
    np.testing.assert_array_equal(high, rating)
    _, low, high = method(A, B, SCORE, 3, n_rounds=1)
    np.testing.assert_array_equal(low, high)
    assert not np.allclose(low, rating)
    one_game = method(A[:1], B[:1], SCORE[:1], 3, n_rounds=5)
    np.testing.assert_allclose(one_game[1], one_game[0])  # one game resampled is that game
