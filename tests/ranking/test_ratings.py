"""Elo (lmms-owc), its bootstrap and shard median, Bradley-Terry and the leaderboard."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classbench.config import load_yaml
from classbench.ranking import ratings as ranking
from classbench.seeding import rng_for


def simulate(strength: np.ndarray, n_games: int, seed: int, draw: float = 0.2):
    """Games between models whose win probability is logistic in the strength gap."""
    rng = np.random.default_rng(seed)
    _, a, b = ranking.sample_games(100, len(strength), n_games, rng)
    p_win = 1.0 / (1.0 + 10.0 ** ((strength[b] - strength[a]) / 400.0))
    u = rng.random(n_games)
    score = np.where(
        u < p_win * (1 - draw), 1.0, np.where(u > 1 - (1 - p_win) * (1 - draw), 0, 0.5)
    )
    return a, b, score


def test_elo_three_games_by_hand():
    # Game 1, A beats B from 1000/1000: E_A = 0.5, delta = 16 * 0.5 = 8 -> A 1008, B 992.
    # Game 2, B draws C: E_B = 1/(1 + 10^(8/400)) = 1/(1 + 1.0471285) = 0.4884891,
    #   delta = 16 * (0.5 - 0.4884891) = 0.1841743 -> B 992.1841743, C 999.8158257.
    # Game 3, C beats A (S_A = 0): E_A = 1/(1 + 10^((999.8158257 - 1008)/400))
    #   = 1/(1 + 10^-0.0204604) = 1/(1 + 0.9539806) = 0.5117758,
    #   delta = 16 * (0 - 0.5117758) = -8.1884127 -> A 999.8115873, C 1008.0042385.
    ratings = ranking.elo(["A", "B", "A"], ["B", "C", "C"], [1, 0.5, 0])
    assert list(ratings) == ["A", "B", "C"]
    np.testing.assert_allclose(
        [ratings["A"], ratings["B"], ratings["C"]],
        [999.8115873, 992.1841743, 1008.0042385],
        atol=1e-6,
    )
    # Zero-sum: the mean rating never moves.
    assert sum(ratings.values()) == pytest.approx(3000.0)


def test_elo_replicas_identity_equals_elo():
    strength = np.array([0.0, 50.0, 150.0, 300.0])
    a, b, score = simulate(strength, 500, seed=1)
    names = np.array(["w", "x", "y", "z"])
    expected = ranking.elo(names[a].tolist(), names[b].tolist(), score.tolist())
    out = ranking.elo_replicas(a, b, score, 4, np.arange(500)[None, :])
    np.testing.assert_allclose(out[0], [expected[n] for n in names], atol=1e-9)
    # Several replicas: each row is its own sequential pass; -1 entries are skipped.
    index = np.array([np.arange(500), np.arange(500)[::-1]])
    index_padded = np.concatenate([index, np.full((2, 3), -1)], axis=1)
    out2 = ranking.elo_replicas(a, b, score, 4, index_padded)
    reversed_ = ranking.elo(names[a][::-1].tolist(), names[b][::-1].tolist(), score[::-1].tolist())
    np.testing.assert_allclose(out2[0], out[0], atol=1e-9)
    np.testing.assert_allclose(out2[1], [reversed_[n] for n in names], atol=1e-9)


def test_sample_games_pairs_and_order():
    rng = np.random.default_rng(0)
    doc, a, b = ranking.sample_games(7, 4, 6000, rng, randomize_order=False)
    assert doc.min() >= 0 and doc.max() < 7
    assert np.all(a < b)  # lmms-owc: A is always the earlier model
    pairs = set(combinations(range(4), 2))
    assert set(zip(a.tolist(), b.tolist(), strict=True)) == pairs
    counts = np.bincount(a * 4 + b, minlength=16)[[x * 4 + y for x, y in pairs]]
    assert counts.min() > 800  # ~1000 each of 6 pairs
    _, a2, b2 = ranking.sample_games(7, 4, 6000, np.random.default_rng(0))
    assert 0.45 < np.mean(a2 > b2) < 0.55  # randomised seats
    assert set(zip(np.minimum(a2, b2).tolist(), np.maximum(a2, b2).tolist(), strict=True)) == pairs
    again = ranking.sample_games(7, 4, 6000, np.random.default_rng(0))
    np.testing.assert_array_equal(again[1], a2)


def test_outcomes():
    np.testing.assert_array_equal(
        ranking.similarity_outcome(
            np.array([0.9, 0.5, 0.5, 0.5, 0.5]), np.array([0.8, 0.56, 0.53, 0.47, np.nan])
        ),
        [1.0, 0.0, 0.5, 0.5, 0.5],
    )
    assert ranking.judge_outcome("1") == 1.0
    assert ranking.judge_outcome(" 0\n") == 0.0
    assert ranking.judge_outcome("A") == 0.5
    assert ranking.judge_outcome("1.") == 0.5
    assert ranking.judge_outcome(None) == 0.5
    np.testing.assert_array_equal(ranking.judge_outcomes(["1", "0", "10"]), [1.0, 0.0, 0.5])
    # lmms-owc reads the reply as generated: surrounding whitespace makes it a draw
    assert ranking.judge_outcome(" 0\n", "raw") == 0.5
    assert ranking.judge_outcome("0", "raw") == 0.0
    np.testing.assert_array_equal(ranking.judge_outcomes(["1", " 1"], "raw"), [1.0, 0.5])


def test_elo_bootstrap_intervals():
    strength = np.array([0.0, 150.0, 300.0])
    widths = []
    for n_games in (200, 5000):
        a, b, score = simulate(strength, n_games, seed=3)
        rating, low, high = ranking.elo_bootstrap(a, b, score, 3, n_rounds=200, seed=0)
        # The point rating is the sequential pass over the games in their given order.
        np.testing.assert_allclose(
            rating, ranking.elo_replicas(a, b, score, 3, np.arange(n_games)[None])[0]
        )
        assert np.all(low <= high)
        widths.append((high - low).mean())
    assert rating[2] > rating[0]
    assert low[2] > high[0]  # with 5000 games the strongest model is clearly above the weakest
    # Sequential Elo with a fixed K forgets old games, so its spread has a floor set by K
    # (about +-50 points at K = 16): unlike Bradley-Terry, the interval does not shrink with
    # more games.
    assert widths[1] > 0.7 * widths[0]
    again = ranking.elo_bootstrap(a, b, score, 3, n_rounds=200, seed=0)
    np.testing.assert_array_equal(again[1], low)
    smaller_k = ranking.elo_bootstrap(a, b, score, 3, n_rounds=200, seed=0, k=4)
    assert (smaller_k[2] - smaller_k[1]).mean() < widths[1]


def test_bradley_terry_bootstrap_intervals_narrow_with_more_games():
    strength = np.array([0.0, 100.0, 200.0])
    widths = []
    for n_games in (200, 5000):
        a, b, score = simulate(strength, n_games, seed=3)
        rating, low, high = ranking.bradley_terry_bootstrap(a, b, score, 3, n_rounds=200, seed=1)
        assert np.all(low <= rating) and np.all(rating <= high)
        widths.append((high - low).mean())
    # Roughly 1/sqrt(n): 25x the games, about 1/5 the width.
    assert widths[1] < 0.35 * widths[0]
    assert low[2] > high[1] > high[0]


@pytest.mark.parametrize(
    ("n_rows", "n_shards"), [(10, 3), (7, 7), (100, 100), (10_000, 100), (10_007, 100), (99, 10)]
)
def test_shard_bounds_match_datasets(n_rows, n_shards):
    datasets = pytest.importorskip("datasets")
    data = datasets.Dataset.from_dict({"i": list(range(n_rows))})
    bounds = ranking.shard_bounds(n_rows, n_shards)
    for index, (start, stop) in enumerate(bounds):
        shard = data.shard(n_shards, index, contiguous=True)["i"]
        assert shard == list(range(start, stop))
    assert data.shard(n_shards, 0)["i"] == list(range(*bounds[0]))  # contiguous is the default


def test_shard_bounds_more_shards_than_rows():
    # datasets refuses to build the empty shards; here they are empty and the rest get one row.
    bounds = ranking.shard_bounds(7, 10)
    np.testing.assert_array_equal(bounds[:, 1] - bounds[:, 0], [1] * 7 + [0] * 3)
    assert bounds[-1, 0] == 7


def test_elo_sharded_median_is_median_of_per_shard_elo():
    strength = np.array([0.0, 100.0, 200.0])
    a, b, score = simulate(strength, 1003, seed=4)
    rating, low, high = ranking.elo_sharded_median(a, b, score, 3, n_rounds=10, seed=9)
    perm = rng_for(9, "elo_shards").permutation(1003)
    per_shard = []
    for start, stop in ranking.shard_bounds(1003, 10):
        games = perm[start:stop]
        names = np.array(["p", "q", "r"])
        result = ranking.elo(names[a[games]].tolist(), names[b[games]].tolist(), score[games])
        per_shard.append([result.get(n, 1000.0) for n in names])
    np.testing.assert_allclose(rating, np.median(per_shard, axis=0), atol=1e-9)
    assert np.all(low <= rating) and np.all(rating <= high)
    assert rating[2] > rating[0]


def test_bradley_terry_recovers_order_and_scale():
    strength = np.array([0.0, 200.0, 100.0])
    a, b, score = simulate(strength, 20_000, seed=5, draw=0.0)
    ratings = ranking.bradley_terry(a, b, score, 3)
    assert list(np.argsort(-ratings)) == [1, 2, 0]
    assert ratings.mean() == pytest.approx(1000.0)
    # True gaps are 100 and 200 Elo points; 20k games pin them to a few points.
    np.testing.assert_allclose(ratings - ratings[0], [0.0, 200.0, 100.0], atol=15)


def test_bradley_terry_draws_are_half_wins_and_all_wins_stay_finite():
    # 0 and 1 only draw with each other; 2 beats each of them twice.
    a = np.array([0, 0, 1, 2, 2, 0, 1])
    b = np.array([1, 1, 0, 0, 1, 2, 2])
    score = np.array([0.5, 0.5, 0.5, 1.0, 1.0, 0.0, 0.0])
    ratings = ranking.bradley_terry(a, b, score, 3)
    assert np.all(np.isfinite(ratings))
    assert ratings[0] == pytest.approx(ratings[1], abs=1e-6)
    assert ratings[2] > ratings[0] + 400


@pytest.mark.parametrize("method", ["elo", "elo_shards", "bradley_terry"])
def test_leaderboard(method):
    strength = np.array([0.0, 300.0, 150.0])
    a, b, score = simulate(strength, 2000, seed=7)
    models = ["weak", "strong", "middle"]
    table = ranking.leaderboard(models, a, b, score, method=method, n_rounds=50, seed=0)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == [
        "model",
        "rating",
        "ci_low",
        "ci_high",
        "games",
        "wins",
        "draws",
        "losses",
    ]
    assert table["model"].tolist() == ["strong", "middle", "weak"]
    assert table["rating"].is_monotonic_decreasing
    assert (table["wins"] + table["draws"] + table["losses"] == table["games"]).all()
    assert table["games"].sum() == 2 * len(a)
    assert table["wins"].sum() == table["losses"].sum()
    # Names work as well as indices.
    names = np.array(models)
    by_name = ranking.leaderboard(models, names[a], names[b], score, method=method, n_rounds=50)
    pd.testing.assert_frame_equal(by_name, table)


def test_invalid_games_are_rejected():
    with pytest.raises(ValueError):
        ranking.elo_replicas([0], [0], [1.0], 2, np.zeros((1, 1), dtype=int))
    with pytest.raises(ValueError):
        ranking.bradley_terry([0], [2], [1.0], 2)
    with pytest.raises(ValueError):
        ranking.leaderboard(["a", "b"], [0], [1], [1.0], method="glicko")


def test_online_elo_order_can_put_fewer_wins_first_bradley_terry_cannot():
    # A beats B six times, then loses five times. lmms-owc's single online pass (K = 16, from
    # 1000) remembers the last games best: A ends at 997.4, below B at 1002.6, with more wins.
    # Bradley-Terry reads only the record, 6-5: A = 1000 + (400 / ln 10) * ln(6/5) / 2 = 1015.8
    # (the small prior shrinks it by a hair), whatever the order of the games.
    a, b = ["A"] * 11, ["B"] * 11
    score_a = [1.0] * 6 + [0.0] * 5
    online = ranking.elo(a, b, score_a)
    assert round(online["A"], 1) == 997.4 and round(online["B"], 1) == 1002.6
    board = ranking.leaderboard(["A", "B"], a, b, score_a, method="bradley_terry", n_rounds=20)
    assert list(board["model"]) == ["A", "B"]
    assert board.loc[0, "rating"] == pytest.approx(1015.8, abs=0.3)
    reversed_board = ranking.leaderboard(
        ["A", "B"], a, b, score_a[::-1], method="bradley_terry", n_rounds=20
    )
    assert reversed_board["rating"].tolist() == pytest.approx(board["rating"].tolist())
    # The online pass stays selectable and keeps lmms-owc's order effect.
    elo_board = ranking.leaderboard(["A", "B"], a, b, score_a, method="elo", n_rounds=20)
    assert list(elo_board["model"]) == ["B", "A"]


def test_the_demo_ranks_with_a_method_the_game_order_cannot_change():
    demo = load_yaml(Path(__file__).resolve().parents[2] / "config" / "demo.yaml")
    a, b = ["A"] * 11, ["B"] * 11
    score_a = [1.0] * 6 + [0.0] * 5  # the record favours A; the last games favour B
    boards = [
        ranking.leaderboard(["A", "B"], a, b, order, method=demo["elo"]["method"], n_rounds=20)
        for order in (score_a, score_a[::-1])
    ]
    assert list(boards[0]["model"]) == list(boards[1]["model"]) == ["A", "B"]
