"""The leaderboard passes every setting through, and bad games are refused with a clear error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from classbench.ranking import ratings as ranking

A = np.array([0, 1, 2, 0, 2, 1, 0, 2])
B = np.array([1, 2, 0, 2, 1, 0, 1, 0])
SCORE = np.array([1.0, 0.5, 0.0, 1.0, 1.0, 0.0, 0.5, 1.0])
MODELS = ["x", "y", "z"]


def by_model(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("model").loc[MODELS]


@pytest.mark.parametrize(
    ("method", "settings", "reference"),
    [
        ("elo", {}, lambda: ranking.elo_bootstrap(A, B, SCORE, 3, 1000, 0, (), 16, 1000, 0.95)),
        ("elo", {"n_rounds": 30, "seed": 2, "keys": ("t",), "k": 8, "initial": 1500,
                 "confidence": 0.8},
         lambda: ranking.elo_bootstrap(A, B, SCORE, 3, 30, 2, ("t",), 8, 1500, 0.8)),
        ("elo_shards", {}, lambda: ranking.elo_sharded_median(A, B, SCORE, 3, 100, 0, (), 16,
                                                              1000, 0.95)),
        ("elo_shards", {"n_rounds": 3, "seed": 1, "k": 32, "initial": 0, "confidence": 0.5},
         lambda: ranking.elo_sharded_median(A, B, SCORE, 3, 3, 1, (), 32, 0, 0.5)),
        ("bradley_terry", {"n_rounds": 20},
         lambda: ranking.bradley_terry_bootstrap(A, B, SCORE, 3, 20, 0, (), 0.01, 1000, 0.95)),
        ("bradley_terry", {"n_rounds": 20, "seed": 3, "l2": 1.0, "initial": 0,
                           "confidence": 0.5},
         lambda: ranking.bradley_terry_bootstrap(A, B, SCORE, 3, 20, 3, (), 1.0, 0, 0.5)),
    ],
)  # fmt: skip
def test_the_leaderboard_passes_every_setting_through(method, settings, reference):
    table = by_model(ranking.leaderboard(MODELS, A, B, SCORE, method=method, **settings))
    rating, low, high = reference()
    np.testing.assert_allclose(table["rating"], rating, atol=1e-9)
    np.testing.assert_allclose(table["ci_low"], low, atol=1e-9)
    np.testing.assert_allclose(table["ci_high"], high, atol=1e-9)


def test_the_default_leaderboard_is_bootstrapped_elo():
    default = ranking.leaderboard(MODELS, A, B, SCORE)
    pd.testing.assert_frame_equal(default, ranking.leaderboard(MODELS, A, B, SCORE, method="elo"))
    assert list(default.columns) == ranking.LEADERBOARD_COLUMNS
    assert ranking.LEADERBOARD_COLUMNS[2:4] == ["ci_low", "ci_high"]


def test_equal_ratings_are_listed_by_name():
    table = ranking.leaderboard(["b", "c", "a"], [0, 1, 2], [1, 2, 0], [0.5, 0.5, 0.5])
    assert table["model"].tolist() == ["a", "b", "c"]


def test_a_single_game_with_pauses():
    # Replica 2 pauses (-1) for two steps; a pause must not read a game that does not exist.
    out = ranking.elo_replicas([0], [1], [1.0], 2, np.array([[0, -1, -1], [-1, -1, 0]]))
    np.testing.assert_allclose(out, [[1008.0, 992.0], [1008.0, 992.0]])


def test_similarity_on_the_band_edge_is_a_draw():
    np.testing.assert_array_equal(
        ranking.similarity_outcome([0.75, 0.5], [0.5, 0.75], draw_band=0.25), [0.5, 0.5]
    )


def test_one_shard_is_every_game():
    np.testing.assert_array_equal(ranking.shard_bounds(5, 1), [[0, 5]])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ranking.elo(["a"], ["b", "c"], [1.0]),
         "model_a, model_b and score_a differ in length"),
        (lambda: ranking.elo(["a"], ["a"], [1.0]), "a model cannot play itself: 'a'"),
        (lambda: ranking.elo_replicas([0], [1], [1.0], 2, np.array([0])),
         r"game_index must be \(replicas, steps\)"),
        (lambda: ranking.elo_replicas([0], [1], [1.0], 2, np.array([[1]])),
         "game_index refers to a game that does not exist"),
        (lambda: ranking.shard_bounds(5, 0), "n_shards must be >= 1"),
        (lambda: ranking.bradley_terry([0], [1], [1.0], 2, l2=0.0), "l2 must be positive"),
        (lambda: ranking.bradley_terry([0, 1], [1], [1.0], 2), "a, b and score_a differ in length"),
        (lambda: ranking.bradley_terry([0], [2], [1.0], 2), r"model indices must be in \[0, 2\)"),
        (lambda: ranking.bradley_terry([-1], [1], [1.0], 2), r"model indices must be in \[0, 2\)"),
        (lambda: ranking.bradley_terry([1], [1], [1.0], 2), "a model cannot play itself"),
        (lambda: ranking.bradley_terry([0], [1], [1.5], 2), r"score_a must be in \[0, 1\]"),
        (lambda: ranking.bradley_terry([0], [1], [-0.5], 2), r"score_a must be in \[0, 1\]"),
        (lambda: ranking.leaderboard(["a", "a"], [0], [1], [1.0]), "model names must be unique"),
        (lambda: ranking.elo_bootstrap([0], [1], [1.0], 2, confidence=1.0),
         r"confidence must be in \(0, 1\), got 1.0"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_its_reason(call, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        call()
