"""Open world: the model names the class freely (lmms-owc, VLMClassifier).

The whole stripped answer is the prediction, as lmms-owc scores it; reasoning variants can also
keep an extracted final answer (``answer_extraction: final``) next to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from classbench.protocols.common import fill

# Final-answer markers reasoning models use (<answer>, LLaVA-CoT's <CONCLUSION>, "Answer: X",
# "the answer is X", "**X**"), the explicit tags first: a LLaVA-CoT summary that mentions "the
# answer" must not win over its conclusion.
_FINAL_PATTERNS = [
    re.compile(r"<answer>\s*(.+?)\s*</answer>", re.IGNORECASE | re.DOTALL),
    re.compile(r"<CONCLUSION>\s*(.+?)\s*(?:</CONCLUSION>|$)", re.IGNORECASE | re.DOTALL),
    re.compile(r"(?:final answer|answer)\s*(?:is|:)\s*(.+)", re.IGNORECASE),
]


def build_requests(
    manifest: pd.DataFrame,
    classes: list[str],
    task: Mapping[str, Any],
    dataset: Mapping[str, Any],
    **_: Any,
) -> pd.DataFrame:
    """One request per sample with the task's question (its ``{noun}`` filled per dataset);
    a multi-turn task's ``follow_ups`` (filled likewise) go in their own column."""
    prompt = fill(task["prompt"], dataset)
    requests = pd.DataFrame(
        {
            "sample_id": manifest["sample_id"].to_numpy(),
            "image": manifest["image"].to_numpy(),
            "label": manifest["label"].to_numpy(),
            "prompt": prompt,
            "options": None,
        }
    )
    if task.get("follow_ups"):
        turns = [fill(turn, dataset) for turn in task["follow_ups"]]
        requests["follow_ups"] = [list(turns) for _ in range(len(requests))]
    return requests


def parse(raw: str | None, options: list[str] | None, task: Mapping[str, Any]) -> dict[str, Any]:
    """The prediction is the stripped answer; ``final`` extraction also keeps the last verdict."""
    if raw is None:
        return {"answer": None, "parse_status": "no_output"}
    answer = raw.strip()
    result: dict[str, Any] = {"answer": answer, "parse_status": "text" if answer else "empty"}
    if task.get("answer_extraction") == "final":
        result["answer_final"] = extract_final_answer(answer)
    return result


def extract_final_answer(text: str) -> str:
    """The final verdict of a reasoning answer; the last non-empty line when there is no marker."""
    for pattern in _FINAL_PATTERNS:
        matches = pattern.findall(text)
        if matches:
            # Markdown emphasis and a closing full stop, in either order ("**Dog**.", "**Dog.**").
            return matches[-1].strip().strip("*.").strip().strip("*.").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1].rstrip(".") if lines else ""
