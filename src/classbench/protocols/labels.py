"""Label list: the question plus K candidate class names (VLMClassifier; the label-list thesis).

Each sample is shown the ground truth plus K-1 other classes drawn at random, in a random order;
both draws come from a generator keyed by (seed, "labels", dataset, sample_id, K), so every model
and backend sees the same list and a sample's list does not depend on the other samples. With K at
least the number of classes (or ``k: all``) every class is listed, in a per-sample random order
(VLMClassifier shuffles the full list per image).

Two wordings:

- ``vlmclassifier``: ``What type of object is in this photo? Choose one from "c1, c2, c3".``
- ``thesis``: ``{introduction}: c1, c2, c3. {question}``

The free answer is mapped onto one candidate by string rules here (exact match, then inclusion);
what they leave unmapped is mapped by a model at scoring time
(:mod:`classbench.scoring.label_mapping`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from classbench.protocols.common import fill
from classbench.seeding import rng_for

VLMCLASSIFIER_QUERY = "What type of object is in this photo?"
VLMCLASSIFIER_TEMPLATE = '{query} Choose one from "{labels}".'
THESIS_INTRODUCTION = "This image represents an object that belongs to one of the following classes"
THESIS_QUESTION = (
    "What is the most probable class that the object in the image belongs to, given the "
    "provided classes?"
)
THESIS_TEMPLATE = "{introduction}: {labels}. {question}"
LABEL_SEPARATOR = ", "  # VLMClassifier's ', '.join(choice); the thesis's ", ".join(random_labels)
WORDINGS = ("vlmclassifier", "thesis")


def candidate_count(k: int | str, n_classes: int) -> int:
    """How many labels are listed: K, or every class when K is ``all`` or at least the classes."""
    if k == "all":
        return n_classes
    k = int(k)
    if k < 2:
        raise ValueError(f"a label list needs K >= 2, got {k}")
    return min(k, n_classes)


def candidate_labels(
    classes: Sequence[str], label_idx: int, k: int | str, seed: int, dataset: str, sample_id: str
) -> list[str]:
    """The ground truth plus K-1 distinct other classes, in the seeded per-sample order."""
    n = len(classes)
    size = candidate_count(k, n)
    rng = rng_for(seed, "labels", dataset, sample_id, size)
    others = np.delete(np.arange(n), label_idx)
    picked = others if size == n else rng.choice(others, size=size - 1, replace=False)
    chosen = [label_idx, *(int(i) for i in picked)]
    return [classes[chosen[i]] for i in rng.permutation(size)]


def format_prompt(task: Mapping[str, Any], dataset: Mapping[str, Any], labels: list[str]) -> str:
    """The task's wording around the comma-separated candidate list."""
    listed = LABEL_SEPARATOR.join(labels)
    wording = task.get("wording", "vlmclassifier")
    if wording == "vlmclassifier":
        query = fill(task.get("query", VLMCLASSIFIER_QUERY), dataset)
        return VLMCLASSIFIER_TEMPLATE.format(query=query, labels=listed)
    if wording == "thesis":
        return THESIS_TEMPLATE.format(
            introduction=fill(task.get("introduction", THESIS_INTRODUCTION), dataset),
            labels=listed,
            question=fill(task.get("question", THESIS_QUESTION), dataset),
        )
    raise ValueError(f"unknown label-list wording '{wording}' (known: {', '.join(WORDINGS)})")


def build_requests(
    manifest: pd.DataFrame,
    classes: list[str],
    task: Mapping[str, Any],
    dataset: Mapping[str, Any],
    *,
    dataset_name: str,
    seed: int,
    **_: Any,
) -> pd.DataFrame:
    """One request per sample: its seeded candidate list and the filled prompt."""
    k = task.get("k", "all")
    shown = [
        candidate_labels(classes, int(idx), k, seed, dataset_name, str(sid))
        for sid, idx in zip(manifest["sample_id"], manifest["label_idx"], strict=True)
    ]
    return pd.DataFrame(
        {
            "sample_id": manifest["sample_id"].to_numpy(),
            "image": manifest["image"].to_numpy(),
            "label": manifest["label"].to_numpy(),
            "prompt": [format_prompt(task, dataset, labels) for labels in shown],
            "options": shown,
        }
    )


def answer_choices(options: Sequence[str], task: Mapping[str, Any]) -> list[str]:
    """The strings a constrained decoder may emit, or log-likelihood scoring scores: the names."""
    return list(options)


def choice_text(index: int, options: Sequence[str], task: Mapping[str, Any]) -> str:
    """The answer text equivalent to choosing option ``index`` (its name)."""
    return options[index]


def parse(raw: str | None, options: list[str] | None, task: Mapping[str, Any]) -> dict[str, Any]:
    """Map the answer onto one candidate by exact match, then inclusion; else leave it unmapped.

    ``mapping`` says which rule decided (``exact``, ``inclusion``) or ``none``; the model-based
    fallback of the task runs later, at scoring
    (:func:`classbench.scoring.label_mapping.map_answers`).
    """
    if options is None:
        raise ValueError("label-list parsing needs the candidate labels as presented")
    if raw is None:
        return {"answer": None, "mapping": "none", "parse_status": "no_output"}
    answer, status = match_label(raw, options)
    return {"answer": answer, "mapping": status if answer else "none", "parse_status": status}


def normalise(text: str) -> str:
    """Lowercased, stripped of whitespace, wrapping quotes / emphasis and a final full stop."""
    text = " ".join(text.split()).lower()
    while True:  # '"Dog."', '**dog**.' and '"**Dog.**".' all reduce to 'dog'
        unwrapped = text.strip("\"'`*").strip().removesuffix(".").strip()
        if unwrapped == text:
            return text
        text = unwrapped


def _mentions(text: str, name: str) -> bool:
    # Whole words only: "cat" is not named by "category", "ring" not by "earring".
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None


def match_label(raw: str, options: Sequence[str]) -> tuple[str | None, str]:
    """``(candidate, status)``, status one of ``exact``, ``inclusion``, ``ambiguous``,
    ``no_match``, ``empty``.

    Exact: the normalised answer equals a normalised name. Inclusion: names contained in the
    answer as whole words (case-insensitive); the longest wins when it contains the others
    ("sea lion" over "lion"); two unrelated names (an answer that repeats the list, or hedges) are
    ambiguous and left to the fallback.
    """
    answer = normalise(raw)
    if not answer:
        return None, "empty"
    names = {option: normalise(option) for option in options}
    for option, name in names.items():
        if name and answer == name:
            return option, "exact"
    hits = sorted(
        ((len(name), option) for option, name in names.items() if name and _mentions(answer, name)),
        key=lambda hit: -hit[0],
    )
    if not hits:
        return None, "no_match"
    best = hits[0][1]
    if any(not _mentions(names[best], names[option]) for _, option in hits[1:]):
        return None, "ambiguous"
    return best, "inclusion"
