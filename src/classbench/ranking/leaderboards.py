"""Elo leaderboards of one task over a scope (a dataset, a granularity group, or everything).

Games follow lmms-owc: a random image of the scope and a random pair of models. Two criteria
decide a game:

- ``semantic_similarity``: the answer whose semantic similarity to the ground truth is higher by
  more than the draw band wins (:func:`rank_models`);
- ``llm_judge``: an LLM judge is shown both answers and the ground truth with lmms-owc's pairwise
  prompt ("1": A wins, "0": B wins, anything else a draw). The judge runs once per scope in its
  own job (:func:`judge_games`), which writes the games; :func:`rank_games` rates them.

Both criteria draw the same games from the same seeded generator, so they can be compared game
for game. Images on which either model has no valid answer are not played (their count is
recorded). A model with no valid answer in the scope (its server was down, say) is left out
before the games are drawn, with a logged note and a ``left_out`` entry in the statistics, so
it is not listed at the initial rating after 0 games and the others play the games they would
play without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from classbench.ranking.ratings import judge_outcomes, leaderboard, sample_games, similarity_outcome
from classbench.seeding import rng_for

# Columns of the judged games file (``results/elo/{task}/{scope}.games.parquet``), in play order.
GAME_COLUMNS = ["game", "doc", "model_a", "model_b", "answer_a", "answer_b", "target",
                "judge_raw", "score_a"]  # fmt: skip

# A pairwise judge: (answers A, answers B, targets) -> one raw reply per game.
PairwiseJudge = Callable[[list[str], list[str], list[str]], list[str]]

NO_VALID_ANSWER = "no valid answer in this scope"
NO_GAME = "played no game"

log = logging.getLogger(__name__)


def _with_results(
    frames: Mapping[str, pd.DataFrame],
    valid: Callable[[pd.DataFrame], pd.Series],
    keys: tuple[object, ...],
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """The models with at least one ``valid`` row, and the others with the reason they are left
    out (each logged); two models at least must remain to play."""
    kept = {model: frame for model, frame in frames.items() if bool(valid(frame).any())}
    left_out = {model: NO_VALID_ANSWER for model in sorted(frames) if model not in kept}
    _note(left_out, keys)
    if len(kept) < 2:
        raise ValueError(
            f"Elo {'/'.join(map(str, keys))}: fewer than two models have a valid answer "
            f"(left out: {', '.join(left_out) or 'none'})"
        )
    return kept, left_out


def _note(left_out: Mapping[str, str], keys: tuple[object, ...]) -> None:
    for model, reason in left_out.items():
        log.warning("Elo %s: %s left out of the leaderboard: %s", "/".join(map(str, keys)),
                    model, reason)  # fmt: skip


def scope_table(frames: Mapping[str, pd.DataFrame], column: str) -> pd.DataFrame:
    """Docs x models table of ``column`` (models sorted, docs the outer union of every model's).

    Both criteria build their games on this table, so its row order, and hence which image a
    sampled game index points to, is the same for scores and for predictions of one scope.
    """
    models = sorted(frames)
    return pd.concat(
        [frame.set_index("doc")[column].rename(model) for model, frame in frames.items()],
        axis=1,
        join="outer",
    )[models]


def sample_scope_games(
    n_docs: int, n_models: int, settings: Mapping[str, Any], seed: int, keys: tuple[object, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scope's ``(doc, a, b)`` games: one generator keyed by (seed, "elo-games", *keys)."""
    rng = rng_for(seed, "elo-games", *keys)
    return sample_games(
        n_docs, n_models, int(settings.get("games", 10_000)), rng,
        randomize_order=bool(settings.get("randomize_order", True)),
    )  # fmt: skip


def _rate(
    models: Sequence[str],
    a: np.ndarray | Sequence[Any],
    b: np.ndarray | Sequence[Any],
    score_a: np.ndarray | Sequence[float],
    settings: Mapping[str, Any],
    seed: int,
    keys: tuple[object, ...],
) -> pd.DataFrame:
    return leaderboard(
        models,
        a,
        b,
        score_a,
        method=settings.get("method", "elo"),
        n_rounds=settings.get("rounds"),
        seed=seed,
        keys=keys,
        k=float(settings.get("k", 16)),
        initial=float(settings.get("initial", 1000)),
    )


def rank_models(
    scores: Mapping[str, pd.DataFrame],
    *,
    settings: Mapping[str, Any],
    seed: int,
    keys: tuple[object, ...],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Semantic-similarity criterion. ``scores``: model -> its per-sample scores over the scope
    (``doc`` column + metric).

    Returns the leaderboard and the game statistics for the file's metadata.
    """
    criterion = settings.get("criterion", "semantic_similarity")
    if criterion != "semantic_similarity":
        raise ValueError(
            f"rank_models decides games by semantic similarity, not '{criterion}'"
            " (llm_judge games are judged by judge_games and rated by rank_games)"
        )
    scores, left_out = _with_results(scores, lambda frame: frame[criterion].notna(), keys)
    models = sorted(scores)
    table = scope_table(scores, criterion)
    docs = table.index.to_numpy()
    values = table.to_numpy(dtype=np.float64)
    doc, a, b = sample_scope_games(len(docs), len(models), settings, seed, keys)
    sim_a, sim_b = values[doc, a], values[doc, b]
    played = ~(np.isnan(sim_a) | np.isnan(sim_b))
    outcome = similarity_outcome(
        sim_a[played], sim_b[played], float(settings.get("draw_band", 0.05))
    )
    board = _rate(models, a[played], b[played], outcome, settings, seed, keys)
    stats = {
        "games_sampled": len(doc),
        "games_played": int(played.sum()),
        "games_skipped_invalid": int((~played).sum()),
        "docs": len(docs),
        "criterion": criterion,
        "settings": dict(settings),
        "left_out": left_out,
    }
    return board, stats


def judge_games(
    predictions: Mapping[str, pd.DataFrame],
    judge: PairwiseJudge,
    *,
    settings: Mapping[str, Any],
    seed: int,
    keys: tuple[object, ...],
    reply: str = "stripped",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """LLM-judge criterion: sample the scope's games and have ``judge`` decide each one.

    ``predictions``: model -> its predictions over the scope (``doc``, ``answer``, ``label``,
    ``error``). The games are the ones :func:`rank_models` would play on the same scope (same
    table, same generator). A game is skipped when either model's sample failed (``error`` set)
    or is missing; an answer that is valid but empty is judged as empty, as the similarity
    criterion scores it. Identical (answer A, answer B, target) triples are judged once; A and B
    swapped is a different prompt, so randomised seats reach the judge in both orders.
    ``reply`` says how a reply is read ("stripped", or "raw" as lmms-owc compares it).

    Returns the played games in play order (columns :data:`GAME_COLUMNS`) and statistics.
    """
    predictions, left_out = _with_results(predictions, lambda frame: frame["error"].isna(), keys)
    models = sorted(predictions)
    frames = {
        model: frame.assign(_ok=frame["error"].isna(), _answer=frame["answer"].map(_as_text))
        for model, frame in predictions.items()
    }
    answers = scope_table(frames, "_answer")
    ok = scope_table(frames, "_ok").eq(True).to_numpy()  # a missing doc is not valid
    labels = scope_table(frames, "label").bfill(axis=1).iloc[:, 0]
    docs = answers.index.to_numpy()
    doc, a, b = sample_scope_games(len(docs), len(models), settings, seed, keys)
    played = ok[doc, a] & ok[doc, b]
    index = np.flatnonzero(played)
    text = answers.to_numpy(dtype=object)
    games = pd.DataFrame(
        {
            "game": index,
            "doc": docs[doc[index]],
            "model_a": np.asarray(models, dtype=object)[a[index]],
            "model_b": np.asarray(models, dtype=object)[b[index]],
            "answer_a": text[doc[index], a[index]],
            "answer_b": text[doc[index], b[index]],
            "target": labels.to_numpy(dtype=object)[doc[index]].astype(str),
        }
    )
    triples = games[["answer_a", "answer_b", "target"]].drop_duplicates(ignore_index=True)
    raw: list[str] = []
    if len(triples):
        raw = list(judge(*(triples[c].tolist() for c in ("answer_a", "answer_b", "target"))))
        if len(raw) != len(triples):
            raise ValueError(f"the judge gave {len(raw)} replies to {len(triples)} games")
    triples["judge_raw"] = pd.Series(raw, dtype=object)
    games = games.merge(triples, on=["answer_a", "answer_b", "target"], how="left", sort=False)
    games["score_a"] = judge_outcomes(games["judge_raw"].tolist(), reply)
    stats = {
        "models": models,
        "games_sampled": len(doc),
        "games_played": len(games),
        "games_skipped_invalid": int((~played).sum()),
        "judged_prompts": len(triples),
        "docs": len(docs),
        "criterion": "llm_judge",
        "reply": reply,
        "settings": dict(settings),
        "left_out": left_out,
    }
    return games[GAME_COLUMNS], stats


def rank_games(
    games: pd.DataFrame,
    models: Sequence[str],
    *,
    settings: Mapping[str, Any],
    seed: int,
    keys: tuple[object, ...],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rate judged games (:func:`judge_games`) in play order. A model of ``models`` that played
    no game (no valid answer in the scope) is left out, with a logged note."""
    games = games.sort_values("game", kind="stable")
    played = set(games["model_a"]) | set(games["model_b"])
    rated = [model for model in sorted(models) if model in played]
    left_out = {model: NO_GAME for model in sorted(models) if model not in played}
    _note(left_out, keys)
    board = _rate(
        rated, games["model_a"].to_numpy(dtype=str), games["model_b"].to_numpy(dtype=str),
        games["score_a"].to_numpy(dtype=np.float64), settings, seed, keys,
    )  # fmt: skip
    scores = games["score_a"].to_numpy(dtype=np.float64)
    stats = {
        "games_played": len(games),
        "a_wins": int((scores == 1).sum()),
        "b_wins": int((scores == 0).sum()),
        "draws": int((scores == 0.5).sum()),
        "criterion": "llm_judge",
        "settings": dict(settings),
        "left_out": left_out,
    }
    return board, stats


def _as_text(answer: object) -> str:
    # A missing (unparsed) answer is shown to the judge as an empty one, as the similarity
    # criterion encodes it; failed samples never get here.
    return "" if answer is None or (isinstance(answer, float) and np.isnan(answer)) else str(answer)
