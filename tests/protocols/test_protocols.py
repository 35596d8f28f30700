"""Protocols: prompts (FOCI, open world), seeded option order, answer parsers."""

from __future__ import annotations

import pandas as pd
import pytest

from classbench.protocols import PROTOCOLS, labels, mcq, open_world, protocol_module
from classbench.protocols.common import fill

FOCI_TASK = {
    "protocol": "mcq",
    "k": 4,
    "distractors": "mined",
    "query": "Which of these choices is shown in the image?",
    "template": (
        "{query}\nChoices:\n{choices}\nAnswer with the letter from the given choices directly."
    ),
    "choice_format": "{letter}. {option}",
    "parser": "foci",
    "max_new_tokens": 10,
}
CLASSES = [f"class {i:02d}" for i in range(30)]
DATASET = {"noun": "flower", "nouns": "flowers"}


def make_manifest(classes: list[str], per_class: int) -> pd.DataFrame:
    rows = [
        (f"{label.replace(' ', '_')}_{i}", f"images/{label.replace(' ', '_')}_{i}.png", label, idx)
        for idx, label in enumerate(classes)
        for i in range(per_class)
    ]
    return pd.DataFrame(rows, columns=["sample_id", "image", "label", "label_idx"])


def mined_options(manifest: pd.DataFrame, classes: list[str], k: int) -> pd.DataFrame:
    """Ground truth first, then the next k-1 classes (a stand-in for encoder-mined lists)."""
    lists = [[classes[(idx + j) % len(classes)] for j in range(k)] for idx in manifest["label_idx"]]
    return pd.DataFrame({"sample_id": manifest["sample_id"], "options": lists})


def by_sample(requests: pd.DataFrame) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {
        sid: (prompt, tuple(options))
        for sid, prompt, options in zip(
            requests["sample_id"], requests["prompt"], requests["options"], strict=True
        )
    }


# --- prompts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("task", [FOCI_TASK, {"protocol": "mcq", "k": 4}])
def test_foci_prompt_text_exactly(task):
    prompt = mcq.format_prompt(task, DATASET, ["o1", "o2", "o3", "o4"])
    assert prompt == (
        "Which of these choices is shown in the image?\nChoices:\nA. o1\nB. o2\nC. o3\nD. o4\n"
        "Answer with the letter from the given choices directly."
    )


def test_foci_domain_query_fills_the_plural_noun():
    task = {**FOCI_TASK, "query": "Which of these {nouns} is shown in the image?"}
    prompt = mcq.format_prompt(task, DATASET, ["rose", "tulip", "daisy", "lily"])
    assert prompt.startswith("Which of these flowers is shown in the image?\nChoices:\nA. rose\n")
    assert fill("a {noun}, many {nouns}", {}) == "a object, many objects"


def test_mcq_requests_prompt_lists_the_options_as_presented():
    manifest = make_manifest(CLASSES[:6], 3)
    requests = mcq.build_requests(
        manifest, CLASSES[:6], FOCI_TASK, DATASET,
        dataset_name="toy", seed=1234, options=mined_options(manifest, CLASSES[:6], 4),
    )  # fmt: skip
    assert list(requests["sample_id"]) == list(manifest["sample_id"])
    assert list(requests["label"]) == list(manifest["label"])
    for prompt, shown in zip(requests["prompt"], requests["options"], strict=True):
        choices = "\n".join(
            f"{letter}. {option}" for letter, option in zip("ABCD", shown, strict=True)
        )
        assert prompt == (
            f"Which of these choices is shown in the image?\nChoices:\n{choices}\n"
            "Answer with the letter from the given choices directly."
        )


def test_open_world_request_fills_the_noun_and_has_no_options():
    manifest = make_manifest(CLASSES[:3], 2)
    task = {"protocol": "open", "prompt": "What type of {noun} is in this photo?"}
    requests = open_world.build_requests(manifest, CLASSES[:3], task, DATASET)
    assert set(requests["prompt"]) == {"What type of flower is in this photo?"}
    assert requests["options"].isna().all()
    assert list(requests["sample_id"]) == list(manifest["sample_id"])
    generic = open_world.build_requests(manifest, CLASSES[:3], task, {})
    assert set(generic["prompt"]) == {"What type of object is in this photo?"}


def test_protocol_registry():
    assert protocol_module("open") is open_world
    assert protocol_module("mcq") is mcq
    assert protocol_module("labels") is labels
    assert set(PROTOCOLS) == {"open", "labels", "mcq"}
    with pytest.raises(KeyError, match="unknown protocol 'captioning'"):
        protocol_module("captioning")


# --- seeded presentation order ---------------------------------------------------------------


@pytest.mark.parametrize("distractors", ["mined", "random"])
def test_presentation_is_identical_across_calls_and_manifest_subsets(distractors):
    classes = CLASSES[:10]
    manifest = make_manifest(classes, 4)
    task = {**FOCI_TASK, "distractors": distractors}
    options = mined_options(manifest, classes, 4)
    kwargs = {"dataset_name": "toy", "seed": 7, "options": options}
    first = mcq.build_requests(manifest, classes, task, DATASET, **kwargs)
    again = mcq.build_requests(manifest, classes, task, DATASET, **kwargs)
    pd.testing.assert_frame_equal(first, again)

    # A different subset, in a different order, sees the same prompt for each shared sample.
    subset = manifest.iloc[[33, 2, 17, 5, 21]].reset_index(drop=True)
    part = mcq.build_requests(subset, classes, task, DATASET, **kwargs)
    full = by_sample(first)
    assert list(part["sample_id"]) == list(subset["sample_id"])
    for sid, presented in by_sample(part).items():
        assert presented == full[sid]


def test_presentation_order_is_seeded_per_sample():
    manifest = make_manifest(CLASSES[:10], 4)
    options = mined_options(manifest, CLASSES[:10], 4)
    kwargs = {"dataset_name": "toy", "options": options}
    requests = mcq.build_requests(manifest, CLASSES[:10], FOCI_TASK, DATASET, seed=7, **kwargs)
    gt_letters = {
        "ABCD"[list(shown).index(label)]
        for shown, label in zip(requests["options"], requests["label"], strict=True)
    }
    assert gt_letters == set("ABCD")  # the ground truth is not stuck in one position
    other = mcq.build_requests(manifest, CLASSES[:10], FOCI_TASK, DATASET, seed=8, **kwargs)
    assert by_sample(requests) != by_sample(other)
    order = mcq.presentation_order(4, 7, "toy", "class_00_0")
    assert sorted(order.tolist()) == [0, 1, 2, 3]
    assert order.tolist() == mcq.presentation_order(4, 7, "toy", "class_00_0").tolist()


def test_every_option_set_contains_the_ground_truth_once():
    manifest = make_manifest(CLASSES[:8], 3)
    options = mined_options(manifest, CLASSES[:8], 6)  # longer lists are cut to k
    for distractors in ("mined", "random"):
        task = {**FOCI_TASK, "distractors": distractors}
        requests = mcq.build_requests(
            manifest, CLASSES[:8], task, DATASET, dataset_name="toy", seed=1, options=options
        )
        for shown, label in zip(requests["options"], requests["label"], strict=True):
            assert len(shown) == 4
            assert list(shown).count(label) == 1
            assert len(set(shown)) == 4


def test_random_distractors_26_way_are_distinct():
    manifest = make_manifest(CLASSES, 2)
    task = {"protocol": "mcq", "k": 26, "distractors": "random", "parser": "robust"}
    requests = mcq.build_requests(manifest, CLASSES, task, DATASET, dataset_name="toy", seed=3)
    for shown, label, prompt in zip(
        requests["options"], requests["label"], requests["prompt"], strict=True
    ):
        assert len(shown) == 26
        assert len(set(shown)) == 26
        assert set(shown) <= set(CLASSES)
        assert list(shown).count(label) == 1
        assert "\nA. " in prompt
        assert f"\nZ. {shown[-1]}\n" in prompt
    # Distractors differ between samples (drawn per sample, not one fixed set).
    assert len({frozenset(shown) for shown in requests["options"]}) > 1
    picked = mcq.random_options(CLASSES, 4, 26, 3, "toy", "x")
    assert picked == mcq.random_options(CLASSES, 4, 26, 3, "toy", "x")
    assert picked[0] == CLASSES[4]


def test_mcq_request_errors():
    manifest = make_manifest(CLASSES[:4], 2)
    kwargs = {"dataset_name": "toy", "seed": 1}
    with pytest.raises(ValueError, match="needs mined options"):
        mcq.build_requests(manifest, CLASSES[:4], FOCI_TASK, DATASET, **kwargs)
    partial = mined_options(manifest, CLASSES[:4], 4).iloc[:-1]
    with pytest.raises(ValueError, match="lacks 1 samples"):
        mcq.build_requests(manifest, CLASSES[:4], FOCI_TASK, DATASET, options=partial, **kwargs)
    short = mined_options(manifest, CLASSES[:4], 3)
    with pytest.raises(ValueError, match="3 < k=4"):
        mcq.build_requests(manifest, CLASSES[:4], FOCI_TASK, DATASET, options=short, **kwargs)
    with pytest.raises(ValueError, match=r"2\.\.26"):
        mcq.letters_for(27)


# --- parsers ---------------------------------------------------------------------------------

OPTIONS = ["cat", "dog", "lion", "sea lion"]


def parsed(raw, parser):
    return mcq.parse(raw, OPTIONS, {"parser": parser})


@pytest.mark.parametrize(
    ("raw", "letter"),
    [
        ("A", "A"),
        ("B", "B"),
        (" b", "B"),
        ("B. dog", "B"),
        ("C is right", "C"),
        ("Answer: C", "A"),  # FOCI's documented brittleness: "Answer" starts with "A"
        ("a dog", "A"),
        ("(B)", None),
        ("**B**", None),
        ("The answer is D", None),
        ("lion", None),
        ("E", None),
        ("", None),
    ],
)
def test_foci_parser_is_startswith_first_letter(raw, letter):
    result = parsed(raw, "foci")
    assert result["answer_letter"] == letter
    assert result["answer"] == (OPTIONS["ABCD".index(letter)] if letter else None)
    assert result["parse_status"] == ("letter" if letter else "failed")


@pytest.mark.parametrize(
    ("raw", "letter", "status"),
    [
        ("B", "B", "letter"),
        ("(B)", "B", "letter"),
        ("B.", "B", "letter"),
        ("**B**", "B", "letter"),
        ("B) lion", "B", "letter"),
        ("  C\n", "C", "letter"),
        ("Answer: C", "C", "letter"),
        ("The answer is D", "D", "letter"),
        ("Option (C)", "C", "letter"),
        ("D sea lion", "D", "letter"),
        ("A cat", "A", "letter"),
        ("lion", "C", "option_text"),
        ("It is a sea lion.", "D", "option_text"),  # the longest option contains the shorter
        ("The image shows a cat.", "A", "option_text"),
        ("A dog", "B", "option_text"),  # the article is not option A
        ("E", None, "letter_out_of_range"),
        ("Answer: F", None, "letter_out_of_range"),
        ("", None, "empty"),
        ("  ** ", None, "empty"),
        ("cat or dog", None, "ambiguous"),
        ("I cannot tell", None, "failed"),
    ],
)
def test_robust_parser(raw, letter, status):
    result = parsed(raw, "robust")
    assert result["answer_letter"] == letter
    assert result["parse_status"] == status
    assert result["answer"] == (OPTIONS["ABCD".index(letter)] if letter else None)


@pytest.mark.parametrize(
    ("raw", "letter", "status"),
    [
        ("b)", "B", "letter"),
        (" d", "D", "letter"),
        ("(c)", "C", "letter"),
        ("b.", "B", "letter"),
        ("**c**", "C", "letter"),
        ("b) lion", "B", "letter"),
        ("answer: c", "C", "letter"),
        ("The answer is d.", "D", "letter"),
        ("option (b)", "B", "letter"),
        ("d sea lion", "D", "letter"),
        ("e", None, "letter_out_of_range"),
        ("a dog", "B", "option_text"),  # the article, as with a capital
        ("The answer is a dog.", "B", "option_text"),  # "a" followed by a word is no letter
    ],
)
def test_robust_parser_reads_lower_case_letters_like_capitals(raw, letter, status):
    result = parsed(raw, "robust")
    assert (result["answer_letter"], result["parse_status"]) == (letter, status)
    assert result["answer"] == (OPTIONS["ABCD".index(letter)] if letter else None)


def test_lower_case_letters_reach_the_end_of_26_options():
    options = [f"class {i}" for i in range(26)]
    task = {"parser": "robust"}
    assert mcq.parse("z)", options, task)["answer"] == "class 25"
    assert mcq.parse(" y", options, task)["answer_letter"] == "Y"
    assert mcq.parse("Answer: q.", options, task)["answer_letter"] == "Q"


def test_letter_outside_a_two_way_question_fails():
    result = mcq.parse("C", ["cat", "dog"], {"parser": "robust"})
    assert result == {"answer": None, "answer_letter": None, "parse_status": "letter_out_of_range"}
    assert mcq.parse("C", ["cat", "dog"], {"parser": "foci"})["answer"] is None


def test_mcq_parse_defaults_and_errors():
    assert mcq.parse("(B)", OPTIONS, {})["answer"] == "dog"  # robust is the default
    assert mcq.parse(None, OPTIONS, {"parser": "foci"}) == {
        "answer": None,
        "answer_letter": None,
        "parse_status": "no_output",
    }
    with pytest.raises(ValueError, match="unknown multiple-choice parser"):
        mcq.parse("B", OPTIONS, {"parser": "llm"})
    with pytest.raises(ValueError, match="options"):
        mcq.parse("B", None, {})


def test_open_world_parse_keeps_the_stripped_text():
    assert open_world.parse("  A golden retriever.\n", None, {}) == {
        "answer": "A golden retriever.",
        "parse_status": "text",
    }
    assert open_world.parse("   ", None, {}) == {"answer": "", "parse_status": "empty"}
    assert open_world.parse(None, None, {"answer_extraction": "final"}) == {
        "answer": None,
        "parse_status": "no_output",
    }
    assert "answer_final" not in open_world.parse("x", None, {"answer_extraction": "whole"})


@pytest.mark.parametrize(
    ("raw", "final"),
    [
        ("Thinking about fur.\n<answer> golden retriever </answer>", "golden retriever"),
        ("It has stripes.\nAnswer: tiger", "tiger"),
        ("Step 1: look. So the final answer is zebra.", "zebra"),
        ("Final answer: **sea lion**.", "sea lion"),
        ("The animal has a mane.\n\nlion.\n", "lion"),
        ("<CONCLUSION> a red fox </CONCLUSION>", "a red fox"),
        # Emphasis and a full stop with a space between: both rounds of stripping are needed.
        ("Answer: **Dog. **", "Dog"),
        ("Answer: **X-ray**.", "X-ray"),  # only emphasis and full stops, never a letter
        ("Looks old.\nHas a frill.\nTREX.", "TREX"),  # no marker: the last line
    ],
)
def test_open_world_final_answer_extraction(raw, final):
    result = open_world.parse(raw, None, {"answer_extraction": "final"})
    assert result["answer"] == raw.strip()
    assert result["answer_final"] == final
    assert result["parse_status"] == "text"


@pytest.mark.parametrize("text", ["", "  \n \n"])
def test_no_final_answer_in_an_empty_text(text):
    assert open_world.extract_final_answer(text) == ""


def test_llava_cot_conclusion_wins_over_an_answer_mentioned_in_the_summary():
    raw = (
        "<SUMMARY> I will describe the image and state the answer: the object. </SUMMARY>\n"
        "<CAPTION> A striped cat on a sofa. </CAPTION>\n<CONCLUSION> tabby cat </CONCLUSION>"
    )
    assert open_world.parse(raw, None, {"answer_extraction": "final"})["answer_final"] == (
        "tabby cat"
    )


def test_lmms_owc_reasoning_variants_as_lmms_owc_asks_them():
    from pathlib import Path

    from classbench.config import load_yaml

    tasks = load_yaml(Path(__file__).resolve().parents[2] / "config" / "tasks.yaml")
    cot = tasks["owc-llava-cot"]
    # LLaVA-CoT's pre-prompt, then lmms-owc's fallback question (its YAML's `prompts:` key is
    # never read), 256 new tokens.
    assert cot["prompt"].startswith("I have an image and a question that I want you to answer.")
    assert cot["prompt"].endswith(
        "the answer matches the standard one perfectly.\nQuestion: What's in the image?"
    )
    assert cot["prompt"].count("\n") == 1 and cot["max_new_tokens"] == 256
    o1 = tasks["owc-llamav-o1"]
    requests = open_world.build_requests(
        pd.DataFrame({"sample_id": ["s1"], "image": ["a.png"], "label": ["rose"]}),
        ["rose"], o1, DATASET,
    )  # fmt: skip
    assert requests.loc[0, "prompt"] == (
        "What type of object in this photo? Generate a summary of the picture."
    )
    assert requests.loc[0, "follow_ups"] == [
        "Generate a detailed caption for the image.",
        "Generate a detailed reasoning to answer the question given the caption.",
        "Generate the final answer based on reasoning steps.",
    ]
    assert o1["max_new_tokens"] == 256 and "answer_extraction" not in o1
