"""Elo bootstrap: replicas vectorised over numpy vs a per-game Python loop.

Workload: 13 models (lmms-owc's count), 10,000 sampled games decided with the ±0.05 draw band,
1,000 bootstrap replicas (each plays 10,000 games drawn with replacement, in the drawn order).

- ``ranking.ratings.elo_bootstrap``: one Python step per game position, each step updating
  all replicas at once with numpy.
- Baseline "lmms-owc loop": the way lmms-owc rates (``eval_ranking.py``): the games are a
  ``datasets.Dataset``, each replica iterates over its rows (``for row in data``) and calls an
  ``_elo_rating(rating_a, rating_b, score, k_factor, zero_sum=True)`` function per game (both
  expectations, then the "zero-sum" adjustment, on by default). Here the replica's rows are
  selected with ``Dataset.select`` (lmms-owc shards instead of resampling; the per-row cost is
  the same).
- Baseline "plain loop": the same per-game function over Python lists, the fastest a per-game
  Python loop gets (a lower bound on any loop-based implementation).

Only ``--baseline-rounds`` replicas of each baseline are timed and the time is scaled to the full
number of rounds (a replica's cost does not depend on which games it drew); the output says so.
Both sides play the very same replicas (the generator ``elo_bootstrap`` uses), and the script
checks that their ratings agree replica by replica.

Run: ``.venv/bin/python bench/ranking.py``
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping

import numpy as np
from _common import header, table, timed, verdict

from classbench.ranking.ratings import (
    bootstrap_indices,
    elo_bootstrap,
    elo_replicas,
    sample_games,
    similarity_outcome,
)
from classbench.seeding import rng_for

GOAL = 20.0


def _elo_rating(
    rating_a: float, rating_b: float, score_a: float, k_factor: float = 16, zero_sum: bool = True
) -> tuple[float, float]:
    """One Elo update with lmms-owc's arithmetic (both expectations, zero-sum adjustment)."""
    expected_a = 1 / (1 + 10 ** ((rating_b - rating_a) / 400))
    expected_b = 1 / (1 + 10 ** ((rating_a - rating_b) / 400))
    change_a = k_factor * (score_a - expected_a)
    change_b = k_factor * ((1 - score_a) - expected_b)
    if zero_sum:
        average = (change_a - change_b) / 2
        change_a, change_b = average, -average
    return rating_a + change_a, rating_b + change_b


def rate_rows(names: Iterable[str], rows: Iterable[Mapping]) -> dict[str, float]:
    """Sequential Elo over game rows (``player_a_name``, ``player_b_name``, ``score``)."""
    ratings = {name: 1000.0 for name in names}
    for row in rows:
        a, b = row["player_a_name"], row["player_b_name"]
        ratings[a], ratings[b] = _elo_rating(ratings[a], ratings[b], row["score"])
    return ratings


def rate_lists(
    names: Iterable[str], a: list[str], b: list[str], score: list[float], order: np.ndarray
) -> dict[str, float]:
    """Sequential Elo over ``order`` (indices into the game lists)."""
    ratings = {name: 1000.0 for name in names}
    for game in order.tolist():
        model_a, model_b = a[game], b[game]
        ratings[model_a], ratings[model_b] = _elo_rating(
            ratings[model_a], ratings[model_b], score[game]
        )
    return ratings


def _runs(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=13)
    parser.add_argument("--games", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1_000)
    parser.add_argument("--baseline-rounds", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="timings per figure (median)")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    header("Elo bootstrap (ranking)")
    import datasets

    datasets.disable_progress_bars()

    rng = np.random.default_rng(args.seed)
    _, a, b = sample_games(500, args.models, args.games, rng)
    strength = rng.normal(0.7, 0.1, args.models)  # per-model mean similarity
    sim_a = strength[a] + rng.normal(0, 0.1, args.games)
    sim_b = strength[b] + rng.normal(0, 0.1, args.games)
    score = similarity_outcome(sim_a, sim_b)
    names = [f"model-{i:02d}" for i in range(args.models)]

    # The replicas elo_bootstrap plays: the same generator, keys and chunking.
    replica_rng = rng_for(args.seed, "elo_bootstrap")
    index = np.concatenate(list(bootstrap_indices(args.games, args.rounds, replica_rng)))

    fast_s, fast_runs, (_, low, high) = timed(
        lambda: elo_bootstrap(a, b, score, args.models, n_rounds=args.rounds, seed=args.seed),
        repeat=args.repeat,
    )

    name_a = [names[i] for i in a]
    name_b = [names[i] for i in b]
    scores = score.tolist()
    sample = index[: args.baseline_rounds]
    data = datasets.Dataset.from_dict(
        {"player_a_name": name_a, "player_b_name": name_b, "score": scores}
    )
    scale = args.rounds / len(sample)

    def owc_loop() -> list[dict[str, float]]:
        return [rate_rows(names, data.select(row)) for row in sample]

    def plain_loop() -> list[dict[str, float]]:
        return [rate_lists(names, name_a, name_b, scores, row) for row in sample]

    owc_sample_s, owc_runs, owc_ratings = timed(owc_loop, repeat=args.repeat)
    plain_sample_s, plain_runs, plain_ratings = timed(plain_loop, repeat=args.repeat)
    owc_s, plain_s = owc_sample_s * scale, plain_sample_s * scale

    # Agreement: the same replicas through elo_replicas vs the loops.
    vector = elo_replicas(a, b, score, args.models, sample)
    diffs = []
    for ratings in (owc_ratings, plain_ratings):
        loop = np.array([[r[name] for name in names] for r in ratings])
        diffs.append(
            (float(np.abs(vector - loop).max()), bool((vector.round() == loop.round()).all()))
        )
    # elo_bootstrap's interval is the percentiles of exactly these replicas.
    all_replicas = elo_replicas(a, b, score, args.models, index)
    ci_match = np.allclose(np.percentile(all_replicas, 2.5, axis=0), low) and np.allclose(
        np.percentile(all_replicas, 97.5, axis=0), high
    )

    print(f"workload: {args.models} models, {args.games:,} games, {args.rounds:,} rounds")
    print(f"elo_bootstrap: {fast_s:.2f} s (runs: {_runs(fast_runs)})")
    for label, sample_s, runs, total in (
        ("lmms-owc loop (datasets rows)", owc_sample_s, owc_runs, owc_s),
        ("plain per-game loop (lists)", plain_sample_s, plain_runs, plain_s),
    ):
        print(
            f"{label}: {sample_s:.2f} s for {len(sample)} rounds (runs: {_runs(runs)}), "
            f"extrapolated x{scale:.0f} to {total:.1f} s"
        )
    for label, (diff, same) in zip(("lmms-owc loop", "plain loop"), diffs, strict=True):
        print(
            f"agreement with {label} on {len(sample)} replicas: max |rating difference| = "
            f"{diff:.1e}, rounded ratings identical: {same}"
        )
    print(f"bootstrap interval = percentiles of the same replicas: {ci_match}")
    rows = []
    for label, total in (("lmms-owc loop", owc_s), ("plain per-game loop", plain_s)):
        ratio = total / fast_s
        rows.append(
            [
                f"Elo, {args.games:,} games x {args.rounds:,} rounds vs {label}",
                f"{fast_s:.2f} s",
                f"{total:.1f} s (extrapolated from {len(sample)} rounds)",
                f"{ratio:.0f}x",
                f">= {GOAL:.0f}x",
                verdict(ratio, GOAL),
            ]
        )
    print(table(rows, ["figure", "classbench", "baseline", "ratio", "goal", "met"]))


if __name__ == "__main__":
    main()
