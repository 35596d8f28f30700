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


def test_the_other_methods_default_to_their_published_rounds():
    """Shards default to lmms-owc's 100 (seed 0), Bradley-Terry to 1000 bootstrap rounds."""
    shards = ranking.leaderboard(MODELS, A, B, SCORE, method="elo_shards")
    rating, low, high = ranking.elo_sharded_median(A, B, SCORE, 3)
    np.testing.assert_allclose(by_model(shards)[["rating", "ci_low", "ci_high"]].to_numpy().T,
                               [rating, low, high])  # fmt: skip
    # Enough games that most shards play some, so the seed shows.
    many = np.random.default_rng(5)
    a = many.integers(0, 3, 600)
    b = (a + many.integers(1, 3, 600)) % 3
    score = many.choice([0.0, 0.5, 1.0], 600)
    default = np.array(ranking.elo_sharded_median(a, b, score, 3))
    np.testing.assert_array_equal(default, ranking.elo_sharded_median(a, b, score, 3, 100, 0))
    assert not np.array_equal(default[0], ranking.elo_sharded_median(a, b, score, 3, 100, 1)[0])
    bt = ranking.leaderboard(MODELS, A, B, SCORE, method="bradley_terry")
    reference = ranking.bradley_terry_bootstrap(A, B, SCORE, 3, 1000, 0, (), 0.01, 1000, 0.95)
    np.testing.assert_allclose(by_model(bt)[["rating", "ci_low", "ci_high"]].to_numpy().T,
                               np.array(reference))  # fmt: skip


def test_shards_follow_their_keys_and_start_from_initial():
    """The shuffle is seeded by the keys, and every shard starts from ``initial``: the median of
    per-shard Elo, recomputed here from the same permutation."""
    rating, _, _ = ranking.elo_sharded_median(A, B, SCORE, 3, n_rounds=3, seed=4, keys=("t",),
                                              initial=1500)  # fmt: skip
    order = ranking.rng_for(4, "elo_shards", "t").permutation(A.size)
    names = np.array(MODELS)
    per_shard = []
    for start, stop in ranking.shard_bounds(A.size, 3):
        games = order[start:stop]
        played = ranking.elo(names[A[games]].tolist(), names[B[games]].tolist(), SCORE[games],
                             initial=1500)  # fmt: skip
        per_shard.append([played.get(name, 1500.0) for name in MODELS])
    np.testing.assert_allclose(rating, np.median(per_shard, axis=0), atol=1e-9)
    untagged, _, _ = ranking.elo_sharded_median(A, B, SCORE, 3, n_rounds=3, seed=4, initial=1500)
    assert not np.allclose(rating, untagged)


def test_a_single_game_between_named_models():
    table = ranking.leaderboard(["a", "b"], ["a"], ["b"], [1.0], n_rounds=5)
    assert table[["model", "games", "wins", "losses"]].values.tolist() == [
        ["a", 1, 1, 0], ["b", 1, 0, 1]
    ]  # fmt: skip


def test_an_unknown_method_is_refused_by_name():
    with pytest.raises(ValueError, match=r"^unknown method 'glicko'$"):
        ranking.leaderboard(MODELS, A, B, SCORE, method="glicko")


def test_bootstrap_blocks_hold_every_round_and_no_more(monkeypatch):
    """However the rounds are split into blocks to bound memory, there are n_rounds of them."""
    monkeypatch.setattr(ranking, "_MAX_INDEX_ELEMENTS", 40)
    blocks = list(ranking.bootstrap_indices(10, 25, np.random.default_rng(0)))
    assert [len(block) for block in blocks] == [4, 4, 4, 4, 4, 4, 1]
    assert all(block.shape[1] == 10 and block.min() >= 0 and block.max() < 10 for block in blocks)


def test_a_missing_similarity_is_a_draw():
    np.testing.assert_array_equal(
        ranking.similarity_outcome([0.9, None, np.nan], [0.1, 0.2, 0.9]), [1.0, 0.5, 0.5]
    )
    np.testing.assert_array_equal(
        ranking.similarity_outcome([0.1, 0.2, 0.9], [0.9, None, np.nan]), [0.0, 0.5, 0.5]
    )


def _scipy_bradley_terry(a, b, score, n_models, l2):
    """The penalised Bradley-Terry likelihood maximised by a generic optimiser, on the Elo scale."""
    from scipy.optimize import minimize
    from scipy.special import log_expit

    points = np.zeros((n_models, n_models))
    np.add.at(points, (a, b), score)
    np.add.at(points, (b, a), 1.0 - score)

    def loss(theta):
        return (
            -(points * log_expit(theta[:, None] - theta[None, :])).sum() + 0.5 * l2 * theta @ theta
        )

    theta = minimize(loss, np.zeros(n_models), method="BFGS", options={"gtol": 1e-10}).x
    return 1000 + ranking.ELO_SCALE * (theta - theta.mean())


@pytest.mark.parametrize("l2", [0.01, 1.0])
def test_bradley_terry_is_the_penalised_maximum_likelihood(l2):
    """The fit lands on the optimum a generic optimiser finds: on a mixed game set and on one
    where a model wins every game (the backtracking case)."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 200)
    b = (a + rng.integers(1, 5, 200)) % 5
    score = rng.choice([0.0, 0.5, 1.0], 200)
    np.testing.assert_allclose(ranking.bradley_terry(a, b, score, 5, l2=l2),
                               _scipy_bradley_terry(a, b, score, 5, l2), atol=1e-3)  # fmt: skip
    a, b, score = np.array([0, 0, 0, 1]), np.array([1, 2, 2, 2]), np.ones(4)
    np.testing.assert_allclose(ranking.bradley_terry(a, b, score, 3, l2=l2),
                               _scipy_bradley_terry(a, b, score, 3, l2), atol=1e-3)  # fmt: skip


def test_sample_games_draws_every_document_and_needs_two_models_one_document():
    doc, a, b = ranking.sample_games(5, 2, 400, np.random.default_rng(1))
    assert doc.shape == a.shape == b.shape == (400,)
    assert set(doc.tolist()) == set(range(5))  # the first and the last document too
    assert set(zip(a.tolist(), b.tolist(), strict=True)) == {(0, 1), (1, 0)}
    doc, _, _ = ranking.sample_games(1, 3, 10, np.random.default_rng(1))
    assert doc.tolist() == [0] * 10
    with pytest.raises(ValueError, match=r"^at least two models are needed for a game$"):
        ranking.sample_games(5, 1, 10, np.random.default_rng(1))
    with pytest.raises(ValueError, match=r"^at least one document is needed for a game$"):
        ranking.sample_games(0, 3, 10, np.random.default_rng(1))


def test_model_indices_given_as_floats_are_read_as_integers():
    """Indices read back from a table column of floats index models like integers."""
    as_int = ranking.elo_bootstrap(A, B, SCORE, 3, n_rounds=20)
    as_float = ranking.elo_bootstrap(A.astype(float), B.astype(float), SCORE, 3, n_rounds=20)
    np.testing.assert_array_equal(np.array(as_int), np.array(as_float))


def test_a_zero_confidence_interval_is_refused():
    with pytest.raises(ValueError, match=r"^confidence must be in \(0, 1\), got 0$"):
        ranking.elo_bootstrap(A, B, SCORE, 3, n_rounds=5, confidence=0)
