"""The LLM-judge Elo criterion: same games as the similarity criterion, judged and rated.

Unit tests drive :func:`leaderboards.judge_games` with scripted judges and with the
tiny random judge; one slow test runs the ``elo_judge_games`` and ``elo`` rules of the real
workflow on one small dataset.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classbench.ranking.leaderboards import (
    GAME_COLUMNS,
    judge_games,
    rank_games,
    rank_models,
    sample_scope_games,
    scope_table,
)
from classbench.ranking.ratings import judge_outcome

MODELS = ["alpha", "beta", "gamma"]
KEYS = ("owc-base", "all")
SETTINGS = {"criterion": "llm_judge", "games": 400, "randomize_order": True, "rounds": 20}


def _predictions(invalid: dict[str, set[int]] | None = None) -> dict[str, pd.DataFrame]:
    """Three models over ten documents of two datasets; ``invalid`` marks failed samples."""
    docs = [f"{d}/{i}" for d in ("shapes", "patterns") for i in range(5)]
    labels = ["circle", "square", "star", "ring", "cross"] * 2
    frames = {}
    for m, model in enumerate(MODELS):
        answers = [f"{model} {i % (m + 2)}" for i in range(len(docs))]
        answers[3] = ""  # a valid but empty answer is judged as empty
        errors = [
            "boom" if i in (invalid or {}).get(model, set()) else None for i in range(len(docs))
        ]
        frames[model] = pd.DataFrame(
            {"doc": docs, "sample_id": docs, "answer": answers, "label": labels, "error": errors}
        )
    return frames


class ScriptedJudge:
    """Replies by a fixed rule and records every prompt it was asked."""

    def __init__(self, reply=lambda a, b, t: "1" if len(a) >= len(b) else "0") -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.reply = reply

    def __call__(self, a: Sequence[str], b: Sequence[str], t: Sequence[str]) -> list[str]:
        triples = list(zip(a, b, t, strict=True))
        self.calls += triples
        return [self.reply(*triple) for triple in triples]


def test_games_are_the_similarity_criterions_games() -> None:
    """Same docs, same seats, same order as rank_models would play on the same scope."""
    predictions = _predictions(invalid={"beta": {2, 7}})
    games, stats = judge_games(predictions, ScriptedJudge(), settings=SETTINGS, seed=7, keys=KEYS)
    docs = scope_table(predictions, "answer").index.to_numpy()
    doc, a, b = sample_scope_games(len(docs), len(MODELS), SETTINGS, 7, KEYS)
    invalid = {("beta", "shapes/2"), ("beta", "patterns/2")}
    names = np.array(MODELS)
    expected = [
        (i, docs[d], names[x], names[y])
        for i, (d, x, y) in enumerate(zip(doc, a, b, strict=True))
        if (names[x], docs[d]) not in invalid and (names[y], docs[d]) not in invalid
    ]
    got = list(games[["game", "doc", "model_a", "model_b"]].itertuples(index=False, name=None))
    assert got == expected
    assert list(games.columns) == GAME_COLUMNS
    assert stats["games_sampled"] == 400
    assert stats["games_played"] + stats["games_skipped_invalid"] == 400
    assert stats["games_skipped_invalid"] > 0
    # The similarity criterion skips exactly the same games when the failed samples have no score.
    scores = {
        model: frame.assign(semantic_similarity=np.where(frame["error"].isna(), 0.5, np.nan))
        for model, frame in predictions.items()
    }
    _, similarity_stats = rank_models(
        scores, settings={**SETTINGS, "criterion": "semantic_similarity"}, seed=7, keys=KEYS
    )
    assert similarity_stats["games_played"] == stats["games_played"]


def test_seats_are_randomised_unless_lmms_owc_order_is_asked_for() -> None:
    games, _ = judge_games(_predictions(), ScriptedJudge(), settings=SETTINGS, seed=1, keys=KEYS)
    assert (games["model_a"] > games["model_b"]).any()
    fixed, _ = judge_games(
        _predictions(), ScriptedJudge(), settings={**SETTINGS, "randomize_order": False},
        seed=1, keys=KEYS,
    )  # fmt: skip
    # lmms-owc: the alphabetically earlier model always sits in seat A.
    assert (fixed["model_a"] < fixed["model_b"]).all()


def test_identical_prompts_are_judged_once_and_replies_parsed() -> None:
    judge = ScriptedJudge()
    games, stats = judge_games(_predictions(), judge, settings=SETTINGS, seed=3, keys=KEYS)
    triples = set(zip(games["answer_a"], games["answer_b"], games["target"], strict=True))
    assert len(judge.calls) == len(set(judge.calls)) == len(triples) == stats["judged_prompts"]
    assert len(games) > len(triples)  # 400 games over 10 docs repeat a lot
    for row in games.itertuples():
        assert row.judge_raw == judge.reply(row.answer_a, row.answer_b, row.target)
        assert row.score_a == judge_outcome(row.judge_raw)
    # A valid empty answer is played (shown as empty), a failed one is not.
    assert (games["answer_a"] == "").any()


def test_raw_replies_with_whitespace_are_draws_as_in_lmms_owc() -> None:
    # A wins every game with a reply padded by whitespace: stripped, "1" is A's win; read raw
    # as lmms-owc reads it, " 1\n" is neither "0" nor "1", so every game is a draw.
    judge = ScriptedJudge(lambda a, b, t: " 1\n")
    stripped, _ = judge_games(_predictions(), judge, settings=SETTINGS, seed=2, keys=KEYS)
    raw, stats = judge_games(
        _predictions(), judge, settings=SETTINGS, seed=2, keys=KEYS, reply="raw"
    )
    assert set(stripped["score_a"]) == {1.0}
    assert set(raw["score_a"]) == {0.5}
    assert stats["reply"] == "raw"
    exact, _ = judge_games(
        _predictions(), ScriptedJudge(lambda a, b, t: "0"), settings=SETTINGS, seed=2,
        keys=KEYS, reply="raw",
    )  # fmt: skip
    assert set(exact["score_a"]) == {0.0}


def test_unclear_replies_are_draws_and_rating_counts_them() -> None:
    replies = {"alpha": "1", "beta": "0", "gamma": "maybe"}

    def reply(a: str, b: str, t: str) -> str:
        return replies[a.split()[0]] if a else "1"

    games, _ = judge_games(
        _predictions(), ScriptedJudge(reply), settings=SETTINGS, seed=5, keys=KEYS
    )
    assert set(games["score_a"]) == {0.0, 0.5, 1.0}
    board, stats = rank_games(games, MODELS, settings=SETTINGS, seed=5, keys=KEYS)
    assert sorted(board["model"]) == MODELS
    assert board["wins"].sum() == board["losses"].sum()
    assert board["draws"].sum() == 2 * stats["draws"]
    assert stats["a_wins"] + stats["b_wins"] + stats["draws"] == len(games)
    # The rating follows play order, so it is the same whatever order the file is in.
    shuffled = games.sample(frac=1.0, random_state=0)
    again, _ = rank_games(shuffled, MODELS, settings=SETTINGS, seed=5, keys=KEYS)
    pd.testing.assert_frame_equal(board, again)


def _dead(predictions: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The three models plus "delta", whose server was down: every sample failed."""
    dead = predictions["alpha"].assign(answer=None, error="ConnectError: refused")
    return {**predictions, "delta": dead}


def test_a_model_without_a_valid_answer_is_left_out_of_the_games(caplog) -> None:
    """A model that failed everywhere is not rated 1000 [1000, 1000] after 0 games: it plays
    no game, the others play exactly the games they would play without it, and a note says so."""
    with caplog.at_level(logging.INFO, logger="classbench.ranking.leaderboards"):
        games, stats = judge_games(
            _dead(_predictions()), ScriptedJudge(), settings=SETTINGS, seed=7, keys=KEYS
        )
    alone, _ = judge_games(_predictions(), ScriptedJudge(), settings=SETTINGS, seed=7, keys=KEYS)
    pd.testing.assert_frame_equal(games, alone)
    assert stats["models"] == MODELS
    assert stats["left_out"] == {"delta": "no valid answer in this scope"}
    assert "delta" in caplog.text and "left out" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="classbench.ranking.leaderboards"):
        board, stats = rank_games(games, [*MODELS, "delta"], settings=SETTINGS, seed=5, keys=KEYS)
    assert sorted(board["model"]) == MODELS
    assert stats["left_out"] == {"delta": "played no game"}
    assert "delta" in caplog.text and "left out" in caplog.text


def test_a_model_without_a_valid_score_is_left_out_of_the_similarity_board(caplog) -> None:
    settings = {**SETTINGS, "criterion": "semantic_similarity"}

    def scores(predictions: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        return {
            model: frame.assign(
                semantic_similarity=np.where(frame["error"].isna(), (m + 1) / 4, np.nan)
            )
            for m, (model, frame) in enumerate(predictions.items())
        }

    with caplog.at_level(logging.INFO, logger="classbench.ranking.leaderboards"):
        board, stats = rank_models(scores(_dead(_predictions())), settings=settings, seed=7,
                                   keys=KEYS)  # fmt: skip
    alone, alone_stats = rank_models(scores(_predictions()), settings=settings, seed=7, keys=KEYS)
    pd.testing.assert_frame_equal(board, alone)
    assert sorted(board["model"]) == MODELS
    assert stats["left_out"] == {"delta": "no valid answer in this scope"}
    assert stats["games_played"] == alone_stats["games_played"]
    assert "delta" in caplog.text and "left out" in caplog.text


def test_judge_with_wrong_number_of_replies_fails() -> None:
    with pytest.raises(ValueError, match="replies"):
        judge_games(_predictions(), lambda a, b, t: ["1"], settings=SETTINGS, seed=0, keys=KEYS)


def test_tiny_judge_decides_games(tmp_path: Path) -> None:
    """The real judge class, with the tiny random model, end to end through judge_games."""
    from classbench.backends.text_judge import LLMJudge, pairwise_prompt
    from classbench.demo import build_tiny_model

    checkpoint = build_tiny_model("qwen2_judge", tmp_path / "judge", seed=0)
    judge = LLMJudge(str(checkpoint), device="cpu", batch_size=4, max_new_tokens=4,
                     progress=False)  # fmt: skip
    try:
        settings = {**SETTINGS, "games": 40}
        games, stats = judge_games(
            _predictions(), judge.pairwise, settings=settings, seed=2, keys=KEYS
        )
        assert len(games) == 40 and stats["judged_prompts"] <= 40
        assert games["judge_raw"].map(type).eq(str).all()
        assert set(games["score_a"]) <= {0.0, 0.5, 1.0}
        row = games.iloc[0]
        alone = judge.complete([pairwise_prompt(row.answer_a, row.answer_b, row.target)])
        assert alone == [row.judge_raw]  # batching and deduplication change no reply
    finally:
        judge.close()


@pytest.mark.slow
def test_llm_judge_criterion_through_the_workflow(tmp_path: Path) -> None:
    """elo_judge_games + elo on one small dataset; changing the judge re-runs only the judge
    rules and what follows, changing how games are rated never asks the judge again."""
    from workflow_helpers import make_workdir, planned_jobs, snakemake, write_config

    from classbench.io import read_metadata, read_parquet

    workdir = make_workdir(tmp_path / "judge-elo")
    base = {
        "datasets": ["shapes"],
        "models": ["qwen2-vl-tiny", "llava-tiny"],
        "tasks": ["owc-base"],
        "limit": 8,
        "elo": {"criterion": "llm_judge", "games": 200, "rounds": 50, "scopes": ["all"]},
    }
    configfile = write_config(workdir, "judge-elo.yaml", base)
    board_path = "results/elo/owc-base/all.parquet"
    snakemake(workdir, board_path, configfile=configfile)

    games = read_parquet(workdir / "results/elo/owc-base/all.games.parquet")
    assert list(games.columns) == GAME_COLUMNS
    assert 0 < len(games) <= 200
    assert set(games["score_a"]) <= {0.0, 0.5, 1.0}
    assert set(games["model_a"]) | set(games["model_b"]) == {"qwen2-vl-tiny", "llava-tiny"}
    assert games["doc"].str.startswith("shapes/").all()
    meta = read_metadata(workdir / "results/elo/owc-base/all.games.parquet")
    assert meta["criterion"] == "llm_judge"
    assert meta["judge"]["pairwise_prompt"].startswith("lmms-owc/elo_score_llama32@")
    assert meta["judged_prompts"] <= len(games)
    board = read_parquet(workdir / board_path)
    assert sorted(board["model"]) == ["llava-tiny", "qwen2-vl-tiny"]
    assert board["games"].sum() == 2 * len(games)

    def plan(changes: dict) -> dict[str, int]:
        name = write_config(workdir, "changed.yaml", {**base, **changes})
        result = snakemake(workdir, board_path, "-n", configfile=name)
        return planned_jobs(result.stdout + result.stderr)

    assert plan({}) == {}  # up to date
    rerated = plan({"elo": {**base["elo"], "k": 32}})
    assert set(rerated) == {"elo"}
    rejudged = plan({"judge": {"model": "qwen2-judge-tiny", "max_new_tokens": 4}})
    # the board needs no scores under llm_judge, so the inclusion judge is not upstream of it
    assert set(rejudged) == {"elo_judge_games", "elo"}
    similarity = plan({"elo": {**base["elo"], "criterion": "semantic_similarity"}})
    # rated from the scores (not made yet: only the board was asked for), no pairwise judge
    assert set(similarity) == {"judge", "score", "elo"}
