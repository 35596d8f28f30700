"""Laws every rating must obey, checked by hypothesis on generated game lists."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classbench.ranking import ratings as ranking

NAMES = ["m0", "m1", "m2", "m3", "m4"]
SCORES = st.sampled_from([0.0, 0.5, 1.0])


@st.composite
def games(draw, min_size: int = 1, max_size: int = 40):
    """(a, b, score_a) over up to five models; a model never plays itself."""
    n_models = draw(st.integers(2, len(NAMES)))
    pairs = st.tuples(st.integers(0, n_models - 1), st.integers(0, n_models - 1)).filter(
        lambda pair: pair[0] != pair[1]
    )
    played = draw(st.lists(st.tuples(pairs, SCORES), min_size=min_size, max_size=max_size))
    a = np.array([pair[0] for pair, _ in played], dtype=np.int64)
    b = np.array([pair[1] for pair, _ in played], dtype=np.int64)
    score = np.array([s for _, s in played], dtype=np.float64)
    return n_models, a, b, score


def named_elo(a, b, score, **kwargs):
    return ranking.elo([NAMES[i] for i in a], [NAMES[i] for i in b], score.tolist(), **kwargs)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(games(), st.sampled_from([4.0, 16.0, 32.0]), st.sampled_from([0.0, 1000.0, 1500.0]))
def test_elo_conserves_the_total_rating(played, k, initial):
    n_models, a, b, score = played
    ratings = named_elo(a, b, score, k=k, initial=initial)
    assert sum(ratings.values()) == pytest.approx(initial * len(ratings), abs=1e-6)
    vectorised = ranking.elo_replicas(a, b, score, n_models, np.arange(a.size)[None], k, initial)
    assert vectorised.sum() == pytest.approx(initial * n_models, abs=1e-6)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(games())
def test_elo_is_symmetric_under_swapping_seats(played):
    n_models, a, b, score = played
    swapped = named_elo(b, a, 1.0 - score)
    original = named_elo(a, b, score)
    assert swapped.keys() == original.keys()
    for name in original:
        assert swapped[name] == pytest.approx(original[name], abs=1e-9)
    index = np.arange(a.size)[None]
    np.testing.assert_allclose(
        ranking.elo_replicas(b, a, 1.0 - score, n_models, index),
        ranking.elo_replicas(a, b, score, n_models, index),
        atol=1e-9,
    )


@settings(max_examples=60, deadline=None, derandomize=True)
@given(games(), st.integers(0, 39))
def test_a_win_raises_the_winner_and_lowers_the_loser(played, at):
    n_models, a, b, score = played
    at = at % a.size
    before = named_elo(a[:at], b[:at], score[:at])
    after = named_elo(a[: at + 1], b[: at + 1], score[: at + 1])
    winner, loser = NAMES[a[at]], NAMES[b[at]]
    if score[at] == 0.0:
        winner, loser = loser, winner
    if score[at] != 0.5:
        assert after[winner] > before.get(winner, 1000.0)
        assert after[loser] < before.get(loser, 1000.0)
    index = np.arange(at + 1)[None]
    np.testing.assert_allclose(
        ranking.elo_replicas(a, b, score, n_models, index)[0],
        [after.get(name, 1000.0) for name in NAMES[:n_models]],
        atol=1e-9,
    )


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    st.integers(2, 6).flatmap(lambda n: st.permutations(range(n))),
    st.integers(1, 4),
    st.randoms(use_true_random=False),
)
def test_bradley_terry_ranks_by_wins_on_a_transitive_round_robin(strength_order, rounds, rnd):
    # Every pair meets `rounds` times, in random seats, and the stronger model always wins:
    # wins then order the models strictly, and Bradley-Terry must give the same order.
    n_models = len(strength_order)
    strength = {model: rank for rank, model in enumerate(strength_order)}
    a, b, score = [], [], []
    for i in range(n_models):
        for j in range(i + 1, n_models):
            for _ in range(rounds):
                first, second = (i, j) if rnd.random() < 0.5 else (j, i)
                a.append(first)
                b.append(second)
                score.append(1.0 if strength[first] > strength[second] else 0.0)
    ratings = ranking.bradley_terry(a, b, score, n_models)
    table = ranking.leaderboard(
        [f"m{i}" for i in range(n_models)], a, b, score, method="bradley_terry", n_rounds=5
    )
    by_wins = table.sort_values("wins", ascending=False)["model"].tolist()
    assert table["model"].tolist() == by_wins
    assert np.all(np.diff(ratings[list(strength_order)]) > 0)
    assert ratings.mean() == pytest.approx(1000.0)
