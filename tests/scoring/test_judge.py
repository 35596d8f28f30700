"""The LLM judge: lmms-owc prompt wording, reply parsing, batching and deduplication."""

from __future__ import annotations

import json

import numpy as np
import pytest

from classbench.backends.base import BackendError
from classbench.backends.text_judge import (
    INCLUSION_PROMPT,
    LMMS_OWC_QUESTION,
    PAIRWISE_PROMPT,
    LLMJudge,
    inclusion_prompt,
    pairwise_prompt,
    parse_inclusion,
)

# lmms-owc's textual_inclusion_llama32 prompt, typed out with an answer and target filled in.
LMMS_OWC_INCLUSION = (
    "You are a model that determines whether an answer is a good reply to a question given also "
    "its target value.\n\nThis is the question: What type of object is in this photo?\n"
    "This is the answer: a tabby cat\nThis is the target value: cat\n\n"
    "If the answer describes the target, reply positively. If the answer includes the target "
    "value or a synonym of it, reply positively. If the target is generic but it is related to "
    'the answer, reply positively. Reply only with "1" if yes, or "0" if no.'
)

# lmms-owc's Elo judge prompt, typed out with two labels and a target filled in.
LMMS_OWC_PAIRWISE = (
    "You are a model that discriminates whether labels A or B better align with a target value."
    "\n\nThis is label A: tabby cat\nThis is label B: dog\nThis is the target value: cat\n\n"
    "Does A align better with the target value? Does B align better with the target value? "
    'Reply only with "1" if A wins over B, or "0" if B wins over A.'
)

# Short prompts of different lengths: left padding is exercised and the tiny random model's
# replies differ between them.
PROMPTS = [
    "cat",
    "the quick brown fox jumps over the lazy dog again and again",
    "1",
    "hello world",
    "This is the target value: cat",
    "zzzz qqqq",
    "answer",
]


@pytest.fixture(scope="module")
def judge(tmp_path_factory: pytest.TempPathFactory):
    from classbench.demo import build_tiny_model

    out = build_tiny_model("qwen2_judge", tmp_path_factory.mktemp("judge") / "model", seed=0)
    llm = LLMJudge(str(out), device="cpu", batch_size=3, max_new_tokens=6, progress=False)
    yield llm
    llm.close()


def test_inclusion_prompt_is_lmms_owc_verbatim() -> None:
    assert inclusion_prompt(LMMS_OWC_QUESTION, "a tabby cat", "cat") == LMMS_OWC_INCLUSION
    # The question is a slot, not hard-coded.
    other = inclusion_prompt("Name the flower.", "a rose", "rose")
    assert "This is the question: Name the flower.\n" in other
    assert LMMS_OWC_QUESTION not in other
    assert INCLUSION_PROMPT.count("{") == 3


def test_pairwise_prompt_is_lmms_owc_verbatim() -> None:
    assert pairwise_prompt("tabby cat", "dog", "cat") == LMMS_OWC_PAIRWISE
    assert PAIRWISE_PROMPT.count("{") == 3


def test_prompts_keep_braces_and_show_missing_answers_as_empty() -> None:
    assert "This is the answer: {x}\n" in inclusion_prompt("q", "{x}", "t")
    assert "This is the answer: \n" in inclusion_prompt("q", None, "t")
    assert "This is label B: \n" in pairwise_prompt("a", None, "t")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", 1.0), (" 1\n", 1.0), ("1.", 0.0), ("0", 0.0), ("yes", 0.0), ("", 0.0), (None, 0.0)],
)
def test_parse_inclusion(raw: str | None, expected: float) -> None:
    assert parse_inclusion(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", 1.0), (" 1", 0.0), ("1\n", 0.0), ("0", 0.0), (None, 0.0)]
)
def test_raw_reply_is_compared_unstripped_as_lmms_owc_does(raw, expected) -> None:
    # lmms-owc: int(score) if score in ["0", "1"] else 0, on the reply as generated
    assert parse_inclusion(raw, "raw") == expected


def test_unknown_reply_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="reply mode"):
        parse_inclusion("1", "lenient")


def test_batched_equals_unbatched(judge: LLMJudge) -> None:
    batched = judge.complete(PROMPTS)
    judge.batch_size = 1
    try:
        single = judge.complete(PROMPTS)
    finally:
        judge.batch_size = 3
    assert batched == single
    assert len(set(batched)) > 1  # otherwise the comparison would prove nothing


def test_identical_prompts_are_generated_once(
    judge: LLMJudge, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows: list[int] = []
    generate = judge.model.generate

    def counting_generate(*args, **kwargs):
        rows.append(kwargs["input_ids"].shape[0])
        return generate(*args, **kwargs)

    monkeypatch.setattr(judge.model, "generate", counting_generate)
    prompts = ["cat", "hello world", "cat", "cat", "answer", "hello world"]
    replies = judge.complete(prompts)
    assert sum(rows) == 3
    assert len(rows) == 1  # three unique prompts fit in one batch of three
    assert replies[0] == replies[2] == replies[3]
    assert replies[1] == replies[5]
    assert judge.complete([]) == []


def test_inclusion_scores_are_aligned_with_inputs(
    judge: LLMJudge, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in judge that says "1" exactly when the answer contains the target, to check that
    # sorting by length and deduplication put every reply back in its place.
    def fake_batch(texts: list[str]) -> list[str]:
        replies = []
        for text in texts:
            answer = text.split("This is the answer: ")[1].split("\n")[0]
            target = text.split("This is the target value: ")[1].split("\n")[0]
            replies.append("1" if target in answer else "0")
        return replies

    monkeypatch.setattr(judge, "_generate_batch", fake_batch)
    answers = ["a tabby cat", "dog", None, "a rose in a long sentence about gardens", "cat", ""]
    targets = ["cat", "cat", "cat", "rose", "dog", "cat"]
    raw, scores = judge.inclusion(LMMS_OWC_QUESTION, answers, targets)
    assert raw == ["1", "0", "0", "1", "0", "0"]
    np.testing.assert_array_equal(scores, [1, 0, 0, 1, 0, 0])


def test_inclusion_and_pairwise_with_tiny_model(judge: LLMJudge) -> None:
    answers = ["a tabby cat", "dog", None, ""]
    targets = ["cat", "cat", "cat", "cat"]
    questions = ["What is this?", "What is this?", "Name it.", "Name it."]
    raw, scores = judge.inclusion(questions, answers, targets)
    assert len(raw) == len(scores) == len(answers)
    assert scores.dtype == np.float64
    assert set(scores.tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(scores, [parse_inclusion(r) for r in raw])
    replies = judge.pairwise(["tabby cat", "dog"], ["dog", "tabby cat"], ["cat", "cat"])
    assert len(replies) == 2 and all(isinstance(r, str) for r in replies)
    with pytest.raises(ValueError):
        judge.inclusion(questions, answers[:2], targets)
    with pytest.raises(ValueError):
        judge.pairwise(["a"], ["b", "c"], ["t"])


def test_info(judge: LLMJudge) -> None:
    info = judge.info()
    assert info["dtype"] == "float32" and info["device"] == "cpu"
    assert info["max_new_tokens"] == 6
    assert info["inclusion_prompt"].startswith("lmms-owc/textual_inclusion_llama32@")
    assert info["pairwise_prompt"].startswith("lmms-owc/elo_score_llama32@")
    assert {"checkpoint", "revision", "transformers"} <= info.keys()
    json.dumps(info)


def test_judge_predictions_loads_the_judge_through_the_registry(judge: LLMJudge) -> None:
    """The judge model comes from its registry entry (backend ``text``); the study's judge
    settings override the entry's, and failed samples are not judged."""
    import pandas as pd

    from classbench.scoring.judge import judge_predictions

    predictions = pd.DataFrame(
        {
            "sample_id": ["a", "b", "c"],
            "prompt": ["What is this?", "Name it.", "Name it."],
            "answer": ["a tabby cat", None, "dog"],
            "label": ["cat", "cat", "cat"],
            "error": [None, "HTTPStatus 503: overloaded", None],
        }
    )
    spec = {"backend": "text", "checkpoint": judge.checkpoint, "batch_size": 64, "dtype": "auto"}
    verdicts, info = judge_predictions(predictions, spec, batch_size=2, max_new_tokens=6)
    assert info["judged"] == 2 and info["judge"]["max_new_tokens"] == 6
    assert info["judge"]["checkpoint"] == judge.checkpoint
    assert verdicts["llm_inclusion"].isna().tolist() == [False, True, False]
    direct, _ = judge.inclusion(["What is this?", "Name it."], ["a tabby cat", "dog"], ["cat"] * 2)
    assert verdicts.loc[[0, 2], "judge_raw"].tolist() == direct
    with pytest.raises(BackendError, match="a judge model is needed"):
        judge_predictions(predictions, {**spec, "backend": "hf"})
