"""Multiple choice with lettered options (FOCI's 4-way, "Revisiting MLLMs"' 26-way A-Z).

Options are the ground truth plus k-1 distractors (mined by a contrastive encoder, or random),
presented in a letter order drawn per sample from (seed, dataset, sample_id, k): identical for
every model and backend, unlike FOCI's unseeded shuffle.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from classbench.protocols.common import fill
from classbench.seeding import rng_for

LETTERS = string.ascii_uppercase

FOCI_QUERY = "Which of these choices is shown in the image?"
FOCI_TEMPLATE = (
    "{query}\nChoices:\n{choices}\nAnswer with the letter from the given choices directly."
)


def letters_for(k: int) -> str:
    if not 2 <= k <= len(LETTERS):
        raise ValueError(f"multiple choice needs 2..26 options, got k={k}")
    return LETTERS[:k]


def presentation_order(k: int, seed: int, dataset: str, sample_id: str) -> np.ndarray:
    """The seeded order in which the k options (ground truth first) are shown."""
    return rng_for(seed, "mcq-order", dataset, sample_id, k).permutation(k)


def random_options(
    classes: Sequence[str], label_idx: int, k: int, seed: int, dataset: str, sample_id: str
) -> list[str]:
    """Ground truth plus k-1 distinct random other classes, drawn per sample."""
    others = np.delete(np.arange(len(classes)), label_idx)
    rng = rng_for(seed, "mcq-random", dataset, sample_id, k)
    picked = rng.choice(others, size=k - 1, replace=False)
    return [classes[label_idx], *(classes[int(i)] for i in picked)]


def format_prompt(task: Mapping[str, Any], dataset: Mapping[str, Any], shown: list[str]) -> str:
    letters = letters_for(len(shown))
    line = task.get("choice_format", "{letter}. {option}")
    separator = task.get("choice_separator", "\n")
    choices = separator.join(
        line.format(letter=letter, option=option)
        for letter, option in zip(letters, shown, strict=True)
    )
    query = task.get("query", FOCI_QUERY)
    if "{noun" in query and not (dataset.get("nouns") or dataset.get("noun")):
        # FOCI asks about the domain ("Which of these flowers ...") where it has one and keeps
        # the generic question elsewhere (ImageNet and its variants).
        query = task.get("query_fallback", FOCI_QUERY)
    query = fill(query, dataset)
    return task.get("template", FOCI_TEMPLATE).format(query=query, choices=choices)


def build_requests(
    manifest: pd.DataFrame,
    classes: list[str],
    task: Mapping[str, Any],
    dataset: Mapping[str, Any],
    *,
    dataset_name: str,
    seed: int,
    options: pd.DataFrame | None = None,
    **_: Any,
) -> pd.DataFrame:
    """One request per sample: the lettered options in seeded order and the filled prompt."""
    k = int(task["k"])
    letters_for(k)
    if task.get("distractors", "mined") == "mined":
        if options is None:
            raise ValueError(f"task needs mined options for dataset '{dataset_name}'")
        by_sample = dict(zip(options["sample_id"], options["options"], strict=True))
        missing = set(manifest["sample_id"]) - set(by_sample)
        if missing:
            raise ValueError(f"options file lacks {len(missing)} samples of '{dataset_name}'")
        candidate_lists = [list(by_sample[sid])[:k] for sid in manifest["sample_id"]]
        short = [len(c) for c in candidate_lists if len(c) < k]
        if short:
            raise ValueError(f"mined options have {min(short)} < k={k} entries")
    else:
        candidate_lists = [
            random_options(classes, int(idx), k, seed, dataset_name, sid)
            for sid, idx in zip(manifest["sample_id"], manifest["label_idx"], strict=True)
        ]
    prompts, shown_lists = [], []
    for sid, candidates in zip(manifest["sample_id"], candidate_lists, strict=True):
        shown = [candidates[i] for i in presentation_order(k, seed, dataset_name, sid)]
        shown_lists.append(shown)
        prompts.append(format_prompt(task, dataset, shown))
    return pd.DataFrame(
        {
            "sample_id": manifest["sample_id"].to_numpy(),
            "image": manifest["image"].to_numpy(),
            "label": manifest["label"].to_numpy(),
            "prompt": prompts,
            "options": shown_lists,
        }
    )


def answer_choices(options: Sequence[str], task: Mapping[str, Any]) -> list[str]:
    """What a constrained decoder may emit, or log-likelihood scoring scores: the letters, or the
    option texts with ``loglik_target: text``."""
    if task.get("answer_mode") == "loglik" and task.get("loglik_target", "letter") == "text":
        return list(options)
    return list(letters_for(len(options)))


def choice_text(index: int, options: Sequence[str], task: Mapping[str, Any]) -> str:
    """The answer text equivalent to choosing option ``index``: its letter, which every parser
    reads."""
    return letters_for(len(options))[index]


def parse(raw: str | None, options: list[str] | None, task: Mapping[str, Any]) -> dict[str, Any]:
    """Map the model's text to one option with the task's parser (``foci`` or ``robust``)."""
    if options is None:
        raise ValueError("multiple-choice parsing needs the options as presented")
    letters = letters_for(len(options))
    if raw is None:
        return {"answer": None, "answer_letter": None, "parse_status": "no_output"}
    parser = task.get("parser", "robust")
    if parser == "foci":
        letter, status = parse_foci(raw, letters)
    elif parser == "robust":
        letter, status = parse_robust(raw, letters, options)
    else:
        raise ValueError(f"unknown multiple-choice parser '{parser}'")
    answer = options[letters.index(letter)] if letter else None
    return {"answer": answer, "answer_letter": letter, "parse_status": status}


def parse_foci(raw: str, letters: str) -> tuple[str | None, str]:
    """FOCI: the first letter such that the answer starts with it (case-insensitive)."""
    prediction = raw.strip().lower()
    for letter in letters:
        if prediction.startswith(letter.lower()):
            return letter, "letter"
    return None, "failed"


# A lower-case letter counts as a capital where it cannot be a word: alone, or closed by a
# bracket or punctuation ("b)", " d", "answer: c."); "the answer is a dog" names no option A.
_LOWER_ALONE = r"([a-z])(?=[\)\]\.:,]|\s*$)"
_ANSWER_IS = re.compile(
    r"(?i:answer|option|choice)\s*(?i:is)?\s*[:\-]?\s*[\(\[]?\b(?:([A-Z])\b|" + _LOWER_ALONE + ")"
)
_LEADING_STRONG = re.compile(r"^[\(\[]?([A-Za-z])(?:[\)\]\.:,]|$)")
_LEADING_WEAK = re.compile(r"^([A-Za-z])\s+(.+)$", re.DOTALL)


def parse_robust(raw: str, letters: str, options: Sequence[str]) -> tuple[str | None, str]:
    """Read "B", "(B)", "B.", "B) text", "Answer: B", "the answer is B", or an option's text.

    Lower-case letters read like capitals ("b)", " d", "answer: c"). A letter followed by a word
    counts only when the word is that option ("B lion"), so the article in "A dog" is not read as
    option A. A letter outside the presented options is a failure, not a guess.
    """
    text = raw.strip().strip("*`'\"").strip()
    if not text:
        return None, "empty"
    match = _LEADING_STRONG.match(text) or _ANSWER_IS.search(text)
    if match is None:
        weak = _LEADING_WEAK.match(text)
        if weak and weak.group(1).upper() in letters:
            option = options[letters.index(weak.group(1).upper())].lower()
            if weak.group(2).strip().lower().startswith(option):
                match = weak
    if match is not None:
        letter = next(group for group in match.groups() if group is not None).upper()
        if letter in letters:
            return letter, "letter"
        return None, "letter_out_of_range"
    return _match_option_text(text, letters, options)


def _match_option_text(text: str, letters: str, options: Sequence[str]) -> tuple[str | None, str]:
    lowered = text.lower()
    hits = [
        (len(option), letter)
        for letter, option in zip(letters, options, strict=True)
        if option and option.lower() in lowered
    ]
    if not hits:
        return None, "failed"
    hits.sort(reverse=True)
    # The longest option wins when one name contains another ("sea lion" vs "lion"); two
    # unrelated options named in one answer are ambiguous.
    _, best_letter = hits[0]
    best_text = options[letters.index(best_letter)].lower()
    ambiguous = [
        letter for length, letter in hits[1:]
        if options[letters.index(letter)].lower() not in best_text
    ]  # fmt: skip
    if ambiguous:
        return None, "ambiguous"
    return best_letter, "option_text"
