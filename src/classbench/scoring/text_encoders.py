"""The text encoder that maps free answers to class names (``mapped_accuracy``), selectable.

``scoring.mapping_encoder`` names it: ``minilm`` (the study's sentence encoder,
all-MiniLM-L6-v2, the encoder of lmms-owc's semantic similarity) or any contrastive model of the
registry (a CLIP or SigLIP entry), whose text tower then embeds answers and class names alike.
Every encoder is used through one interface, sentence-transformers' ``encode``, so the mapping
code (:func:`classbench.scoring.registry.nearest_classes`) does not know which one it has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

SENTENCE_ENCODER = "minilm"


class TextTower:
    """A contrastive model's text tower behind sentence-transformers' ``encode`` signature."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        from classbench.backends.contrastive import ContrastiveEncoder

        self.encoder = ContrastiveEncoder(
            spec["checkpoint"],
            revision=spec.get("revision"),
            dtype=spec.get("dtype", "auto"),
            batch_size=int(spec.get("batch_size", 64)),
        )

    def encode(self, texts: Sequence[str], **_: Any) -> np.ndarray:
        """Unit-length float32 embeddings of ``texts`` as written (no prompt template)."""
        return self.encoder.encode_texts(list(texts))


def mapping_encoder_spec(
    name: str, models: Mapping[str, Mapping[str, Any]], sentence_encoder: str | None
) -> dict[str, Any]:
    """What the scoring job loads for ``name``: ``{"kind": "sentence", "path": ...}`` or a
    contrastive registry entry with ``"kind": "contrastive"``; anything else is an error."""
    if name == SENTENCE_ENCODER:
        return {"kind": "sentence", "name": name, "path": sentence_encoder}
    spec = models.get(name)
    if spec is None or spec.get("backend") != "contrastive":
        raise ValueError(
            f"scoring.mapping_encoder '{name}' is neither '{SENTENCE_ENCODER}' nor a contrastive "
            "model of the registry"
        )
    return {**spec, "kind": "contrastive", "name": name}


def load_mapping_encoder(spec: Mapping[str, Any]) -> Any:
    """The encoder :func:`mapping_encoder_spec` describes."""
    if spec["kind"] == "sentence":
        from classbench.scoring.metrics import load_sentence_encoder

        return load_sentence_encoder(spec.get("path"))
    return TextTower(spec)
