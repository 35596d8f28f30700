"""Pairwise ranking of models: lmms-owc's Elo, a real bootstrap of it, and Bradley-Terry.

lmms-owc (Conti et al., ICCV 2025, ``eval_ranking.py``) samples games (a random image and a random
pair of models), decides each game with a judge (an LLM, or the difference of semantic similarities
with a ±0.05 draw band), and rates the models with sequential Elo: K = 16, initial rating 1000,

    E_A = 1 / (1 + 10^((R_B - R_A) / 400)),   R_A += K (S_A - E_A),   R_B -= K (S_A - E_A).

It prints an "online" rating (one pass over all games) and a "final" one (median over 100 disjoint
shards of the shuffled games). Both are reproduced here, plus two improvements: a bootstrap that
resamples games with replacement for real confidence intervals, and a Bradley-Terry maximum
likelihood fit, which does not depend on the order of the games.

Games are given as integer arrays ``a``, ``b`` (model indices) and ``score_a`` (1 win for A,
0 loss, 0.5 draw). All randomness comes from :func:`classbench.seeding.rng_for`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from itertools import combinations
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import expit, log_expit

from classbench.backends.text_judge import read_reply
from classbench.seeding import rng_for

ELO_SCALE = 400.0 / math.log(10.0)  # Elo points per unit of logit
LEADERBOARD_COLUMNS = ["model", "rating", "ci_low", "ci_high", "games", "wins", "draws", "losses"]
# Bound on the (games x replicas) index matrix held at once by the bootstrap.
_MAX_INDEX_ELEMENTS = 10_000_000


# --------------------------------------------------------------------------------------------
# Games and outcomes
# --------------------------------------------------------------------------------------------


def sample_games(
    n_docs: int,
    n_models: int,
    n_games: int,
    rng: np.random.Generator,
    randomize_order: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lmms-owc game sampling: returns ``(doc, a, b)`` int arrays of length ``n_games``.

    Each game draws a document uniformly with replacement and an unordered pair uniformly from
    ``itertools.combinations(range(n_models), 2)``. lmms-owc always puts the lower index in the A
    seat (``randomize_order=False``); with True, A and B are swapped with probability 1/2, so a
    position-biased judge favours no model.
    """
    if n_models < 2:
        raise ValueError("at least two models are needed for a game")
    if n_docs < 1:
        raise ValueError("at least one document is needed for a game")
    pairs = np.array(list(combinations(range(n_models), 2)), dtype=np.int64)
    doc = rng.integers(0, n_docs, size=n_games)
    pair = pairs[rng.integers(0, len(pairs), size=n_games)]
    a, b = pair[:, 0].copy(), pair[:, 1].copy()
    if randomize_order:
        swap = rng.random(n_games) < 0.5
        a[swap], b[swap] = b[swap], a[swap]
    return doc, a, b


def similarity_outcome(
    sim_a: np.ndarray | float, sim_b: np.ndarray | float, draw_band: float = 0.05
) -> np.ndarray:
    """A's score from semantic similarities: 1 if sim_a - sim_b > band, 0 if < -band, else 0.5.

    A NaN similarity (no prediction) makes the game a draw.
    """
    diff = np.asarray(sim_a, dtype=np.float64) - np.asarray(sim_b, dtype=np.float64)
    return np.where(diff > draw_band, 1.0, np.where(diff < -draw_band, 0.0, 0.5))


def judge_outcome(raw: str | None, reply: str = "stripped") -> float:
    """A's score from a judge's reply: "1" -> 1.0 (A wins), "0" -> 0.0 (B wins), else 0.5.

    ``reply="stripped"`` ignores surrounding whitespace; ``"raw"`` compares the reply as
    generated, as lmms-owc does.
    """
    text = read_reply(raw, reply)
    return 1.0 if text == "1" else 0.0 if text == "0" else 0.5


def judge_outcomes(raws: Sequence[str | None], reply: str = "stripped") -> np.ndarray:
    """:func:`judge_outcome` for many replies."""
    return np.fromiter(
        (judge_outcome(raw, reply) for raw in raws), dtype=np.float64, count=len(raws)
    )


def _as_games(
    a: Sequence[int] | np.ndarray,
    b: Sequence[int] | np.ndarray,
    score_a: Sequence[float] | np.ndarray,
    n_models: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.int64).ravel()
    b = np.asarray(b, dtype=np.int64).ravel()
    score_a = np.asarray(score_a, dtype=np.float64).ravel()
    if not a.shape == b.shape == score_a.shape:
        raise ValueError("a, b and score_a differ in length")
    if a.size:
        if min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= n_models:
            raise ValueError(f"model indices must be in [0, {n_models})")
        if (a == b).any():
            raise ValueError("a model cannot play itself")
        if not ((score_a >= 0) & (score_a <= 1)).all():
            raise ValueError("score_a must be in [0, 1]")
    return a, b, score_a


# --------------------------------------------------------------------------------------------
# Elo
# --------------------------------------------------------------------------------------------


def elo(
    model_a: Sequence[str],
    model_b: Sequence[str],
    score_a: Sequence[float],
    k: float = 16,
    initial: float = 1000,
) -> dict[str, float]:
    """Sequential Elo over the games in the given order (lmms-owc's "online" rating).

    ``E_A = 1/(1+10^((R_B-R_A)/400))``, ``R_A += K(S_A-E_A)``, ``R_B -= K(S_A-E_A)``; every model
    starts at ``initial``. Returns the final rating of every model that plays, in order of first
    appearance.
    """
    if not len(model_a) == len(model_b) == len(score_a):
        raise ValueError("model_a, model_b and score_a differ in length")
    ratings: dict[str, float] = {}
    for name_a, name_b, score in zip(model_a, model_b, score_a, strict=True):
        if name_a == name_b:
            raise ValueError(f"a model cannot play itself: {name_a!r}")
        rating_a = ratings.setdefault(name_a, float(initial))
        rating_b = ratings.setdefault(name_b, float(initial))
        expected_a = 1.0 / (1.0 + 10.0 ** ((rating_b - rating_a) / 400.0))
        delta = k * (float(score) - expected_a)
        ratings[name_a] = rating_a + delta
        ratings[name_b] = rating_b - delta
    return ratings


def elo_replicas(
    a: Sequence[int] | np.ndarray,
    b: Sequence[int] | np.ndarray,
    score_a: Sequence[float] | np.ndarray,
    n_models: int,
    game_index: np.ndarray,
    k: float = 16,
    initial: float = 1000,
) -> np.ndarray:
    """R independent sequential Elo passes at once; returns (R, n_models) ratings.

    Row r of the (R, G) ``game_index`` lists the games replica r plays, in order (indices into
    a/b/score_a; repeats allowed). A negative entry is a pause: that replica skips the step, which
    lets replicas of different lengths share one matrix. The loop runs over the G steps; each step
    updates every replica at once, which is exact because a replica plays one game per step.
    """
    a, b, score_a = _as_games(a, b, score_a, n_models)
    game_index = np.asarray(game_index, dtype=np.int64)
    if game_index.ndim != 2:
        raise ValueError("game_index must be (replicas, steps)")
    n_replicas = game_index.shape[0]
    if game_index.size and game_index.max() >= a.size:
        raise ValueError("game_index refers to a game that does not exist")
    ratings = np.full((n_replicas, n_models), float(initial))
    if a.size == 0:
        return ratings
    rows = np.arange(n_replicas)
    steps = np.ascontiguousarray(game_index.T)  # one contiguous row per step
    for step in steps:
        active = step >= 0
        game = np.where(active, step, 0)
        player_a, player_b = a[game], b[game]
        rating_a = ratings[rows, player_a]
        rating_b = ratings[rows, player_b]
        expected_a = 1.0 / (1.0 + np.power(10.0, (rating_b - rating_a) / 400.0))
        delta = np.where(active, k * (score_a[game] - expected_a), 0.0)
        ratings[rows, player_a] = rating_a + delta
        ratings[rows, player_b] = rating_b - delta
    return ratings


def _percentiles(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(samples, [100.0 * alpha, 100.0 * (1.0 - alpha)], axis=0)
    return low, high


def _with_intervals(
    ratings: np.ndarray,
    n_games: int,
    n_rounds: int,
    seed: int,
    rng_keys: Sequence[object],
    confidence: float,
    replicas: Callable[[np.random.Generator], np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ratings, ci_low, ci_high)``: the percentile interval of the bootstrap ``replicas``
    (R, n_models), drawn from the generator of ``seed`` and ``rng_keys``; without games or
    rounds, the ratings themselves."""
    if n_games == 0 or n_rounds <= 0:
        return ratings, ratings.copy(), ratings.copy()
    low, high = _percentiles(replicas(rng_for(seed, *rng_keys)), confidence)
    return ratings, low, high


def bootstrap_indices(
    n_games: int, n_rounds: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """The bootstrap replicas' game indices (each row G draws with replacement from G games),
    in chunks of rows that bound the index matrix held at once; together ``n_rounds`` rows."""
    chunk = max(1, _MAX_INDEX_ELEMENTS // max(n_games, 1))
    for start in range(0, n_rounds, chunk):
        yield rng.integers(0, n_games, size=(min(chunk, n_rounds - start), n_games))


def elo_bootstrap(
    a: Sequence[int] | np.ndarray,
    b: Sequence[int] | np.ndarray,
    score_a: Sequence[float] | np.ndarray,
    n_models: int,
    n_rounds: int = 1000,
    seed: int = 0,
    keys: Sequence[object] = (),
    k: float = 16,
    initial: float = 1000,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sequential Elo with bootstrap intervals; returns ``(ratings, ci_low, ci_high)``.

    ``ratings`` is one pass over the games in their given order. Each of the ``n_rounds``
    replicas plays G games drawn with replacement from the G games (in the drawn order); the
    interval is the (α/2, 1-α/2) percentiles of the replica ratings, α = 1 - confidence.
    """
    a, b, score_a = _as_games(a, b, score_a, n_models)
    n_games = a.size
    ratings = elo_replicas(a, b, score_a, n_models, np.arange(n_games)[None, :], k, initial)[0]

    def replicas(rng: np.random.Generator) -> np.ndarray:
        return np.concatenate(
            [
                elo_replicas(a, b, score_a, n_models, index, k, initial)
                for index in bootstrap_indices(n_games, n_rounds, rng)
            ]
        )

    rng_keys = ("elo_bootstrap", *keys)
    return _with_intervals(ratings, n_games, n_rounds, seed, rng_keys, confidence, replicas)


def shard_bounds(n_rows: int, n_shards: int) -> np.ndarray:
    """Start/stop of each contiguous shard, as ``datasets.Dataset.shard(n, i, contiguous=True)``.

    Shard i starts at ``i * (n_rows // n_shards) + min(i, n_rows % n_shards)``; the first
    ``n_rows % n_shards`` shards get one extra row. Returns an (n_shards, 2) int array.
    """
    if n_shards < 1:
        raise ValueError("n_shards must be >= 1")
    div, mod = divmod(n_rows, n_shards)
    index = np.arange(n_shards)
    start = div * index + np.minimum(index, mod)
    stop = start + div + (index < mod)
    return np.stack([start, stop], axis=1)


def elo_sharded_median(
    a: Sequence[int] | np.ndarray,
    b: Sequence[int] | np.ndarray,
    score_a: Sequence[float] | np.ndarray,
    n_models: int,
    n_rounds: int = 100,
    seed: int = 0,
    keys: Sequence[object] = (),
    k: float = 16,
    initial: float = 1000,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lmms-owc's "final" Elo: median over disjoint shards of the shuffled games.

    The games are shuffled once, split into ``n_rounds`` contiguous shards (sizes as
    :func:`shard_bounds`), Elo restarts from ``initial`` on each shard, and the rating is the
    per-model median across shards. The shards are a partition, not resamples, so the returned
    (α/2, 1-α/2) percentiles across shards are only a rough spread. Returns
    ``(ratings, ci_low, ci_high)``.
    """
    a, b, score_a = _as_games(a, b, score_a, n_models)
    order = rng_for(seed, "elo_shards", *keys).permutation(a.size)
    bounds = shard_bounds(a.size, n_rounds)
    lengths = bounds[:, 1] - bounds[:, 0]
    width = int(lengths.max()) if lengths.size else 0
    index = np.full((n_rounds, width), -1, dtype=np.int64)
    for row, (start, stop) in enumerate(bounds):
        index[row, : stop - start] = order[start:stop]
    shard_ratings = elo_replicas(a, b, score_a, n_models, index, k, initial)
    low, high = _percentiles(shard_ratings, confidence)
    return np.median(shard_ratings, axis=0), low, high


# --------------------------------------------------------------------------------------------
# Bradley-Terry
# --------------------------------------------------------------------------------------------


def _pair_totals(
    a: np.ndarray, b: np.ndarray, score_a: np.ndarray, n_models: int, weights: np.ndarray | None
) -> np.ndarray:
    """(n, n) matrix W: W[i, j] = points i scored against j (win 1, draw 1/2), weighted."""
    w = np.ones_like(score_a) if weights is None else weights
    size = n_models * n_models
    points = np.bincount(a * n_models + b, weights=w * score_a, minlength=size)
    points += np.bincount(b * n_models + a, weights=w * (1.0 - score_a), minlength=size)
    return points.reshape(n_models, n_models)


def _fit_bradley_terry(points: np.ndarray, l2: float, tol: float = 1e-10) -> np.ndarray:
    """Maximise sum_ij W_ij log σ(θ_i - θ_j) - (l2/2)|θ|² by damped Newton; returns θ (logits)."""
    n_models = points.shape[0]
    games = points + points.T
    theta = np.zeros(n_models)

    def objective(t: np.ndarray) -> float:
        return float((points * log_expit(t[:, None] - t[None, :])).sum() - 0.5 * l2 * t @ t)

    value = objective(theta)
    for _ in range(100):
        p = expit(theta[:, None] - theta[None, :])
        gradient = (points - games * p).sum(axis=1) - l2 * theta
        weight = games * p * p.T
        # Negative Hessian: graph Laplacian of the game weights plus the prior; positive definite.
        hessian = np.diag(weight.sum(axis=1)) - weight + l2 * np.eye(n_models)
        step = np.linalg.solve(hessian, gradient)
        slope = float(gradient @ step)
        if slope < tol:
            break
        size = 1.0
        while size > 1e-12:  # backtracking keeps Newton stable when one model wins everything
            candidate = theta + size * step
            candidate_value = objective(candidate)
            if candidate_value >= value + 1e-4 * size * slope:
                break
            size /= 2.0
        theta, value = candidate, candidate_value
        if np.abs(size * step).max() < tol:
            break
    return theta


def bradley_terry(
    a: Sequence[int] | np.ndarray,
    b: Sequence[int] | np.ndarray,
    score_a: Sequence[float] | np.ndarray,
    n_models: int,
    l2: float = 0.01,
    initial: float = 1000,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Bradley-Terry ratings on the Elo scale, independent of game order.

    Maximum likelihood of P(i beats j) = σ(θ_i - θ_j) with a draw counted as half a win and half a
    loss, plus a small Gaussian prior (``l2``) that keeps models with only wins or only losses
    finite. Ratings are ``initial + θ · 400/ln 10`` with θ centred, so a gap of 400 points means
    10:1 odds, as in Elo. ``weights`` counts each game that many times (used by the bootstrap).
    """
    a, b, score_a = _as_games(a, b, score_a, n_models)
    if l2 <= 0:
        raise ValueError("l2 must be positive")
    theta = _fit_bradley_terry(_pair_totals(a, b, score_a, n_models, weights), l2)
    return initial + ELO_SCALE * (theta - theta.mean())


def bradley_terry_bootstrap(
    a: Sequence[int] | np.ndarray,
    b: Sequence[int] | np.ndarray,
    score_a: Sequence[float] | np.ndarray,
    n_models: int,
    n_rounds: int = 1000,
    seed: int = 0,
    keys: Sequence[object] = (),
    l2: float = 0.01,
    initial: float = 1000,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bradley-Terry ratings with bootstrap intervals over games resampled with replacement.

    Returns ``(ratings, ci_low, ci_high)``; a replica reweights each game by how often it was drawn.
    """
    a, b, score_a = _as_games(a, b, score_a, n_models)
    ratings = bradley_terry(a, b, score_a, n_models, l2, initial)
    n_games = a.size

    def replicas(rng: np.random.Generator) -> np.ndarray:
        fits = np.empty((n_rounds, n_models))
        for r in range(n_rounds):
            counts = np.bincount(rng.integers(0, n_games, size=n_games), minlength=n_games)
            fits[r] = bradley_terry(a, b, score_a, n_models, l2, initial, weights=counts)
        return fits

    rng_keys = ("bradley_terry_bootstrap", *keys)
    return _with_intervals(ratings, n_games, n_rounds, seed, rng_keys, confidence, replicas)


# --------------------------------------------------------------------------------------------
# Leaderboard
# --------------------------------------------------------------------------------------------


def leaderboard(
    models: Sequence[str],
    a: Sequence[int] | Sequence[str] | np.ndarray,
    b: Sequence[int] | Sequence[str] | np.ndarray,
    score_a: Sequence[float] | np.ndarray,
    method: Literal["elo", "elo_shards", "bradley_terry"] = "elo",
    n_rounds: int | None = None,
    seed: int = 0,
    keys: Sequence[object] = (),
    k: float = 16,
    initial: float = 1000,
    confidence: float = 0.95,
    l2: float = 0.01,
) -> pd.DataFrame:
    """Ratings, intervals and win/draw/loss counts, best model first.

    ``a`` and ``b`` are indices into ``models`` (or model names). Methods: ``"elo"`` = sequential
    Elo in game order with bootstrap intervals (``n_rounds`` default 1000); ``"elo_shards"`` =
    lmms-owc's median over ``n_rounds`` shards (default 100); ``"bradley_terry"`` = BT with
    bootstrap intervals (default 1000). Columns: model, rating, ci_low, ci_high, games, wins,
    draws, losses.
    """
    models = list(models)
    n_models = len(models)
    if len(set(models)) != n_models:
        raise ValueError("model names must be unique")
    position = {name: i for i, name in enumerate(models)}

    def to_index(players: Sequence[int] | Sequence[str] | np.ndarray) -> np.ndarray:
        players = np.asarray(players)
        if players.dtype.kind in "iu":
            return players.astype(np.int64)
        if players.size == 0:
            return players.astype(np.int64)
        return np.array([position[str(name)] for name in players], dtype=np.int64)

    a, b, score_a = _as_games(to_index(a), to_index(b), score_a, n_models)
    if method == "elo":
        rating, low, high = elo_bootstrap(
            a, b, score_a, n_models, n_rounds or 1000, seed, keys, k, initial, confidence
        )
    elif method == "elo_shards":
        rating, low, high = elo_sharded_median(
            a, b, score_a, n_models, n_rounds or 100, seed, keys, k, initial, confidence
        )
    elif method == "bradley_terry":
        rating, low, high = bradley_terry_bootstrap(
            a, b, score_a, n_models, n_rounds or 1000, seed, keys, l2, initial, confidence
        )
    else:
        raise ValueError(f"unknown method {method!r}")

    def count(mask_a: np.ndarray, mask_b: np.ndarray) -> np.ndarray:
        return np.bincount(a[mask_a], minlength=n_models) + np.bincount(
            b[mask_b], minlength=n_models
        )

    everything = np.ones(a.size, dtype=bool)
    table = pd.DataFrame(
        {
            "model": models,
            "rating": rating,
            "ci_low": low,
            "ci_high": high,
            "games": count(everything, everything),
            "wins": count(score_a > 0.5, score_a < 0.5),
            "draws": count(score_a == 0.5, score_a == 0.5),
            "losses": count(score_a < 0.5, score_a > 0.5),
        },
        columns=LEADERBOARD_COLUMNS,
    )
    table = table.sort_values(["rating", "model"], ascending=[False, True], kind="stable")
    return table.reset_index(drop=True)
