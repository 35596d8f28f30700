"""What a multiple-choice sample looks like is fixed by (seed, dataset, sample, k) for good:
predictions made by an earlier version stay comparable with new ones."""

from __future__ import annotations

import pandas as pd
import pytest

from classbench.protocols import mcq

CLASSES = [f"c{i}" for i in range(30)]
QUERY = {"query": "Which of these {nouns} is shown?", "query_fallback": "Which one?"}
INSTRUCTION = "Answer with the letter from the given choices directly."


def test_the_letter_order_of_a_sample_never_changes():
    assert mcq.presentation_order(4, 0, "flowers", "s1").tolist() == [0, 1, 3, 2]
    assert mcq.presentation_order(26, 7, "cub", "img_9").tolist() == [
        10, 13, 19, 17, 18, 23, 9, 2, 24, 3, 8, 15, 5, 11, 21, 14, 16, 22, 1, 20, 4, 12, 7, 25,
        6, 0,
    ]  # fmt: skip


def test_the_random_distractors_of_a_sample_never_change():
    assert mcq.random_options(CLASSES, 3, 4, 0, "flowers", "s1") == ["c3", "c29", "c14", "c28"]
    assert mcq.random_options(CLASSES, 29, 26, 7, "cub", "img_9") == [
        "c29", "c24", "c10", "c4", "c23", "c13", "c0", "c2", "c27", "c28", "c7", "c26", "c21",
        "c3", "c15", "c14", "c20", "c16", "c11", "c22", "c1", "c25", "c17", "c9", "c19", "c5",
    ]  # fmt: skip


def test_choice_format_and_separator_are_the_tasks():
    task = {**QUERY, "choice_format": "({letter}) {option}", "choice_separator": " | "}
    prompt = mcq.format_prompt(task, {"noun": "bird"}, ["a", "b"])
    assert prompt == f"Which of these birds is shown?\nChoices:\n(A) a | (B) b\n{INSTRUCTION}"


def test_the_domain_query_needs_a_noun_and_falls_back_without_one():
    choices = f"Choices:\nA. a\nB. b\n{INSTRUCTION}"
    for dataset in ({"nouns": "birds"}, {"noun": "bird"}, {"noun": "bird", "nouns": "birds"}):
        assert mcq.format_prompt(QUERY, dataset, ["a", "b"]) == (
            f"Which of these birds is shown?\n{choices}"
        )
    assert mcq.format_prompt(QUERY, {}, ["a", "b"]) == f"Which one?\n{choices}"
    # A query without a noun is never replaced by the fallback.
    plain = {"query": "Pick one.", "query_fallback": "Which one?"}
    assert mcq.format_prompt(plain, {}, ["a", "b"]) == f"Pick one.\n{choices}"


def test_the_template_and_the_generic_fallback_are_the_tasks():
    task = {"query": "Which {noun}?", "template": "Q: {query} | {choices}"}
    assert mcq.format_prompt(task, {"noun": "bird"}, ["a", "b"]) == "Q: Which bird? | A. a\nB. b"
    # Without a noun and without a fallback of its own, FOCI's generic question is asked.
    assert mcq.format_prompt(task, {}, ["a", "b"]) == f"Q: {mcq.FOCI_QUERY} | A. a\nB. b"


def manifest(n: int) -> pd.DataFrame:
    return pd.DataFrame({
        "sample_id": [f"s{i}" for i in range(n)],
        "image": [f"images/{i}.png" for i in range(n)],
        "label": [CLASSES[i] for i in range(n)],
        "label_idx": list(range(n)),
    })  # fmt: skip


def test_random_requests_are_keyed_by_dataset_and_sample():
    task = {"protocol": "mcq", "k": 4, "distractors": "random"}
    frame = manifest(6)
    requests = mcq.build_requests(frame, CLASSES, task, {}, dataset_name="pets", seed=3)
    assert requests["image"].tolist() == frame["image"].tolist()
    for sid, idx, shown in zip(frame["sample_id"], frame["label_idx"], requests["options"],
                               strict=True):  # fmt: skip
        candidates = mcq.random_options(CLASSES, idx, 4, 3, "pets", sid)
        assert shown == [candidates[i] for i in mcq.presentation_order(4, 3, "pets", sid)]


def test_distractors_are_mined_unless_the_task_says_random():
    with pytest.raises(ValueError, match=r"^task needs mined options for dataset 'pets'$"):
        mcq.build_requests(manifest(3), CLASSES, {"k": 4}, {}, dataset_name="pets", seed=0)


def test_parsing_without_the_options_is_refused():
    with pytest.raises(
        ValueError, match=r"^multiple-choice parsing needs the options as presented$"
    ):
        mcq.parse("B", None, {})
