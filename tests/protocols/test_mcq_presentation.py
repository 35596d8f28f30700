"""What a multiple-choice sample looks like is fixed by (seed, dataset, sample, k) for good:
predictions made by an earlier version stay comparable with new ones."""

from __future__ import annotations

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
