"""Scoring against label sets (multi-label ground truth), answers mapped to classes, and answers
outside the offered list, against hand-computed values."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from classbench.scoring.registry import describe_column, nearest_classes, resolve_label_sets
from classbench.scoring.score import score_predictions
from classbench.summary.aggregate import summarise_scores


class TableEncoder:
    """A text encoder with hand-set unit vectors, so every cosine is known."""

    VECTORS: ClassVar[dict[str, tuple[float, float]]] = {
        "a cat on a sofa": (1.0, 0.0),
        "dog": (0.0, 1.0),
        "cat": (0.6, 0.8),
        "sofa": (0.8, 0.6),
        "Sofa": (0.8, 0.6),
        "": (0.0, 1.0),
    }

    def __init__(self):
        self.calls = 0

    def encode(self, texts, **_):
        self.calls += 1
        return np.array([self.VECTORS[t] for t in texts], dtype=np.float32)


def _summary(scores, metrics=()):
    rows = summarise_scores(
        scores, dataset="d", group="g", task="t", model="m", task_metrics=metrics, n_resamples=50
    )
    return pd.DataFrame(rows).set_index("metric")


# ------------------------------------------------------------------------------- closed answers


def _closed_predictions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sample_id": ["s1", "s2", "s3", "s4", "s5", "s6"],
            "label": ["cat", "cat", "dog", "dog", "bird", "dog"],
            "answer": ["cat", "dog", "cat", None, "bird", None],
            "raw": ["A", "B", "A", "?", "C", None],
            "error": [None, None, None, None, None, "TimeoutError"],
        }
    )


LABEL_SETS = {
    "s1": ["cat"],
    "s2": ["cat", "dog"],  # the answer is one of two correct labels
    "s3": [],  # no valid label: left out of the multi-label metrics, counted
    "s4": ["dog"],
    "s5": ["cat"],  # the original label was wrong
    "s6": ["dog"],
}


def test_accuracy_against_label_sets_and_the_images_without_one():
    task = {"protocol": "mcq", "metrics": ["accuracy", "macro_prf"]}
    scores = score_predictions(_closed_predictions(), task, label_sets=LABEL_SETS)
    np.testing.assert_array_equal(scores["accuracy"], [1, 0, 0, 0, 1, np.nan])
    np.testing.assert_array_equal(scores["accuracy_multi"], [1, 1, np.nan, 0, 0, np.nan])
    assert scores["label_set"].tolist()[2] == []

    summary = _summary(scores, task["metrics"])
    assert summary.loc["accuracy", ["value", "n", "n_invalid", "n_no_label"]].tolist() == [
        pytest.approx(0.4),
        5,
        1,
        0,
    ]
    assert summary.loc["accuracy_multi", ["value", "n", "n_invalid", "n_no_label"]].tolist() == [
        pytest.approx(0.5),
        4,
        1,
        1,
    ]
    # resolved references s1 cat, s2 dog, s4 dog, s5 cat against answers cat, dog, -, bird:
    # cat P=1 R=1/2, dog P=1 R=1/2, bird P=0 R=0 (predicted, never true)
    assert summary.loc["macro_precision_multi", "value"] == pytest.approx(2 / 3)
    assert summary.loc["macro_recall_multi", "value"] == pytest.approx(1 / 3)
    assert summary.loc["macro_f1_multi", "value"] == pytest.approx(4 / 9)
    assert summary.loc["macro_f1_multi", "n_no_label"] == 1
    assert summary.loc["macro_f1_multi", "n"] == 4


def test_resolved_labels_credit_an_answer_in_the_set():
    resolved = resolve_label_sets(
        ["cat", "cat", "bird"], ["dog", "owl", "fox"], [["cat", "dog"], ["dog", "cat"], ["fox"]]
    )
    assert resolved == ["dog", "cat", "fox"]
    with pytest.raises(ValueError, match="empty label set"):
        resolve_label_sets(["cat"], ["cat"], [[]])


def test_a_sample_missing_from_the_label_sets_is_an_error():
    task = {"protocol": "mcq", "metrics": ["accuracy"]}
    partial = {k: v for k, v in LABEL_SETS.items() if k != "s6"}
    with pytest.raises(ValueError, match="'s6' has no entry"):
        score_predictions(_closed_predictions(), task, label_sets=partial)


def test_without_label_sets_nothing_multi_is_written():
    scores = score_predictions(_closed_predictions(), {"protocol": "mcq", "metrics": ["accuracy"]})
    assert "accuracy_multi" not in scores and "label_set" not in scores
    assert _summary(scores)["n_no_label"].eq(0).all()


# --------------------------------------------------------------------------------- free answers


def _open_predictions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sample_id": ["o1", "o2", "o3", "o4"],
            "label": ["dog", "sofa", "dog", "cat"],
            "raw": ["a cat on a sofa", "Sofa", "dog", None],
            "answer": ["a cat on a sofa", "Sofa", "dog", None],
            "error": [None, None, None, "TimeoutError"],
        }
    )


OPEN_SETS = {"o1": ["cat", "sofa"], "o2": ["sofa", "cat"], "o3": [], "o4": ["cat"]}


def test_free_answers_against_label_sets_take_the_best_label():
    metrics = ["textual_inclusion", "exact_match", "semantic_similarity", "mapped_accuracy"]
    encoder = TableEncoder()
    scores = score_predictions(
        _open_predictions(),
        {"protocol": "open", "metrics": metrics},
        encoder_loader=lambda: encoder,
        mapping_encoder_loader=lambda: encoder,
        classes=["cat", "dog", "sofa"],
        label_sets=OPEN_SETS,
    )
    nan = np.nan
    np.testing.assert_array_equal(scores["textual_inclusion"], [0, 1, 1, nan])
    np.testing.assert_array_equal(scores["textual_inclusion_multi"], [1, 1, nan, nan])
    np.testing.assert_array_equal(scores["exact_match"], [0, 1, 1, nan])
    np.testing.assert_array_equal(scores["exact_match_multi"], [0, 1, nan, nan])
    # cos(answer, dog) = 0; against {cat, sofa}: max(0.6, 0.8)
    np.testing.assert_allclose(scores["semantic_similarity"], [0, 1, 1, nan], atol=1e-6)
    np.testing.assert_allclose(scores["semantic_similarity_multi"], [0.8, 1, nan, nan], atol=1e-6)
    # "a cat on a sofa" is nearest to sofa (0.8 > 0.6 > 0): wrong for dog, right for {cat, sofa}
    assert scores["mapped_class"].tolist() == ["sofa", "sofa", "dog", None]
    np.testing.assert_array_equal(scores["mapped_accuracy"], [0, 1, 1, nan])
    np.testing.assert_array_equal(scores["mapped_accuracy_multi"], [1, 1, nan, nan])

    summary = _summary(scores)
    assert summary.loc["mapped_accuracy_multi", ["n", "n_no_label"]].tolist() == [2, 1]
    assert summary.loc["semantic_similarity_multi", "value"] == pytest.approx(0.9)
    assert "mapped_class" not in summary.index


def test_the_mapping_is_computed_once_and_an_empty_answer_maps_to_nothing():
    encoder = TableEncoder()
    mapped = nearest_classes(["dog", "", "a cat on a sofa", "dog"], ["cat", "dog", "sofa"], encoder)
    assert mapped.tolist() == ["dog", None, "sofa", "dog"]
    assert encoder.calls == 1


def test_mapped_accuracy_needs_the_class_names_and_an_encoder():
    task = {"protocol": "open", "metrics": ["mapped_accuracy"]}
    with pytest.raises(ValueError, match="needs the dataset's class names"):
        score_predictions(_open_predictions(), task, mapping_encoder_loader=TableEncoder)
    with pytest.raises(ValueError, match="needs a text encoder for mapping"):
        score_predictions(_open_predictions(), task, classes=["cat"])


def test_multi_label_columns_are_declared():
    column = describe_column("accuracy_multi")
    assert (column.short, column.long) == ("Acc (multi)", "accuracy (multi-label)")
    assert describe_column("textual_inclusion_multi_final").short == "TI (multi) (final)"
    assert describe_column("semantic_similarity@0.5_multi").short == "SS@0.5 (multi)"
    assert describe_column("macro_f1_multi") is not None
    # the judge and the answer-only counts have no label to compare with a set
    assert describe_column("llm_inclusion_multi") is None
    assert describe_column("parse_failure_multi") is None
    assert describe_column("out_of_list_multi") is None


# ---------------------------------------------------------------------------- out of the list


def test_label_list_answers_outside_the_candidates_are_counted_not_dropped():
    predictions = pd.DataFrame(
        {
            "sample_id": list("abcde"),
            "label": ["cat"] * 5,
            "options": [["cat", "dog"]] * 5,
            "raw": ["cat", "a zebra", "", "cat and dog", "a cat"],
            "answer": ["cat", None, None, None, "cat"],
            "parse_status": ["exact", "no_match", "empty", "ambiguous", "inclusion"],
            "error": [None] * 5,
        }
    )
    task = {"protocol": "labels", "fallback": "none", "metrics": ["accuracy", "out_of_list"]}
    scores = score_predictions(predictions, task)
    assert scores["out_of_list"].tolist() == [0, 1, 1, 0, 0]
    assert _summary(scores).loc["out_of_list", "value"] == pytest.approx(0.4)


def test_multiple_choice_answers_outside_the_letters_are_counted():
    predictions = pd.DataFrame(
        {
            "sample_id": list("abcde"),
            "label": ["cat"] * 5,
            "raw": ["A", "I think so", "E", "cat", None],
            "answer": ["cat", None, None, "cat", None],
            "parse_status": ["letter", "failed", "letter_out_of_range", "option_text", None],
            "error": [None, None, None, None, "TimeoutError"],
        }
    )
    scores = score_predictions(predictions, {"protocol": "mcq", "metrics": ["out_of_list"]})
    np.testing.assert_array_equal(scores["out_of_list"], [0, 1, 1, 0, np.nan])
