"""The selectable text encoder of the mapped accuracy: MiniLM or a contrastive text tower."""

from __future__ import annotations

import numpy as np
import pytest

from classbench.demo import build_tiny_model
from classbench.scoring.registry import nearest_classes
from classbench.scoring.text_encoders import (
    TextTower,
    load_mapping_encoder,
    mapping_encoder_spec,
)

MODELS = {
    "clip-tiny": {"backend": "contrastive", "checkpoint": "resources/models/clip-tiny"},
    "qwen2-vl-tiny": {"backend": "hf", "checkpoint": "x"},
}


def test_the_encoder_is_minilm_or_a_contrastive_model_of_the_registry():
    assert mapping_encoder_spec("minilm", MODELS, None) == {
        "kind": "sentence",
        "name": "minilm",
        "path": None,
    }
    spec = mapping_encoder_spec("clip-tiny", MODELS, None)
    assert (spec["kind"], spec["name"], spec["checkpoint"]) == (
        "contrastive",
        "clip-tiny",
        "resources/models/clip-tiny",
    )
    for name in ("qwen2-vl-tiny", "nope"):
        with pytest.raises(ValueError, match=f"'{name}' is neither 'minilm' nor a contrastive"):
            mapping_encoder_spec(name, MODELS, None)


@pytest.mark.parametrize("family", ["clip", "siglip"])
def test_a_text_tower_maps_each_class_name_to_itself(tmp_path, family):
    checkpoint = build_tiny_model(family, tmp_path / family)
    encoder = load_mapping_encoder({"kind": "contrastive", "checkpoint": str(checkpoint)})
    assert isinstance(encoder, TextTower)
    vectors = encoder.encode(["a cat", "a dog"], batch_size=7, normalize_embeddings=True)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    classes = ["tabby cat", "golden retriever", "sofa", "red fox"]
    answers = ["sofa", "red fox", "tabby cat", ""]
    assert nearest_classes(answers, classes, encoder).tolist() == [
        "sofa", "red fox", "tabby cat", None
    ]  # fmt: skip


def test_minilm_maps_paraphrases_to_their_class():
    encoder = load_mapping_encoder({"kind": "sentence", "path": None})
    classes = ["golden retriever", "tabby cat", "sports car", "sunflower"]
    answers = ["a dog, probably a retriever", "a cat", "a red racing car", "a yellow flower"]
    assert nearest_classes(answers, classes, encoder).tolist() == classes
