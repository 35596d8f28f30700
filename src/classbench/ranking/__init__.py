"""Ranking: games between models (:mod:`.leaderboards`), rated by Elo or Bradley-Terry
(:mod:`.ratings`)."""

from classbench.ranking.ratings import (
    ELO_SCALE,
    LEADERBOARD_COLUMNS,
    bradley_terry,
    bradley_terry_bootstrap,
    elo,
    elo_bootstrap,
    elo_replicas,
    elo_sharded_median,
    judge_outcome,
    judge_outcomes,
    leaderboard,
    sample_games,
    shard_bounds,
    similarity_outcome,
)

__all__ = [
    "ELO_SCALE",
    "LEADERBOARD_COLUMNS",
    "bradley_terry",
    "bradley_terry_bootstrap",
    "elo",
    "elo_bootstrap",
    "elo_replicas",
    "elo_sharded_median",
    "judge_outcome",
    "judge_outcomes",
    "leaderboard",
    "sample_games",
    "shard_bounds",
    "similarity_outcome",
]
