"""The LLM-inclusion judge over a predictions file (lmms-owc's ``textual_inclusion_llama32``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from classbench.backends import JUDGE, load_model
from classbench.backends.text_judge import LMMS_OWC_QUESTION
from classbench.io import as_objects


def judge_predictions(
    predictions: pd.DataFrame,
    judge_spec: Mapping[str, Any],
    *,
    question_mode: str = "task",
    reply: str = "stripped",
    batch_size: int = 16,
    max_new_tokens: int = 16,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Ask the judge whether each valid answer names its ground truth.

    ``question_mode="task"`` shows the judge the question the model was really asked;
    ``"lmms-owc"`` reproduces lmms-owc's fixed "What type of object is in this photo?".
    ``reply`` says how a reply is read: ``"stripped"``, or ``"raw"`` as lmms-owc compares it.
    Invalid samples (``error`` set) are not judged: their verdict stays null.
    """
    valid = predictions["error"].isna().to_numpy()
    subset = predictions[valid]
    verdicts = pd.DataFrame(
        {
            "sample_id": predictions["sample_id"].to_numpy(),
            "judge_prompt_question": None,
            "judge_raw": None,
            "llm_inclusion": float("nan"),
        }
    )
    info: dict[str, Any] = {
        "question_mode": question_mode,
        "reply": reply,
        "judged": int(valid.sum()),
    }
    if len(subset):
        questions = (
            [LMMS_OWC_QUESTION] * len(subset) if question_mode == "lmms-owc"
            else subset["prompt"].tolist()
        )  # fmt: skip
        judge = load_model(
            {"backend": "text", **judge_spec},
            role=JUDGE,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
        )
        answers = ["" if a is None else str(a) for a in as_objects(subset["answer"])]
        labels = subset["label"].astype(str).tolist()
        raw, scores = judge.inclusion(questions, answers, labels, reply=reply)
        info["judge"] = judge.info()
        judge.close()
        verdicts.loc[valid, "judge_prompt_question"] = questions
        verdicts.loc[valid, "judge_raw"] = raw
        verdicts.loc[valid, "llm_inclusion"] = scores
    return verdicts, info
