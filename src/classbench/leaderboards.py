"""Elo leaderboards of one task over a scope (a dataset, a granularity group, or everything).

Games follow lmms-owc: a random image of the scope and a random pair of models; the winner is the
answer whose semantic similarity to the ground truth is higher by more than the draw band. Images
on which either model has no valid answer are not played (their count is recorded).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from classbench.ranking import leaderboard, sample_games, similarity_outcome
from classbench.seeding import rng_for


def rank_models(
    scores: Mapping[str, pd.DataFrame],
    *,
    settings: Mapping[str, Any],
    seed: int,
    keys: tuple[object, ...],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``scores``: model -> its per-sample scores over the scope (``doc`` column + metric).

    Returns the leaderboard and the game statistics for the file's metadata.
    """
    criterion = settings.get("criterion", "semantic_similarity")
    if criterion != "semantic_similarity":
        raise ValueError(f"unsupported Elo criterion '{criterion}'")
    models = sorted(scores)
    table = pd.concat(
        [frame.set_index("doc")[criterion].rename(model) for model, frame in scores.items()],
        axis=1,
        join="outer",
    )[models]
    docs = table.index.to_numpy()
    values = table.to_numpy(dtype=np.float64)
    rng = rng_for(seed, "elo-games", *keys)
    doc, a, b = sample_games(
        len(docs), len(models), int(settings.get("games", 10_000)), rng,
        randomize_order=bool(settings.get("randomize_order", True)),
    )  # fmt: skip
    sim_a, sim_b = values[doc, a], values[doc, b]
    played = ~(np.isnan(sim_a) | np.isnan(sim_b))
    outcome = similarity_outcome(
        sim_a[played], sim_b[played], float(settings.get("draw_band", 0.05))
    )
    board = leaderboard(
        models,
        a[played],
        b[played],
        outcome,
        method=settings.get("method", "elo"),
        n_rounds=settings.get("rounds"),
        seed=seed,
        keys=keys,
        k=float(settings.get("k", 16)),
        initial=float(settings.get("initial", 1000)),
    )
    stats = {
        "games_sampled": len(doc),
        "games_played": int(played.sum()),
        "games_skipped_invalid": int((~played).sum()),
        "docs": len(docs),
        "criterion": criterion,
        "settings": dict(settings),
    }
    return board, stats
