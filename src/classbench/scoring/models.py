"""The models a score job may need, each loaded on first use, and a record of those that ran.

Semantic and concept similarity depend on which sentence encoder ran at which precision, and on
which spaCy pipeline parsed the concepts (lmms-owc: ``en_core_web_lg``, MiniLM in float16 on the
GPU); the scores' metadata records exactly that, so two score files can be told apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from classbench.scoring.metrics import (
    DEFAULT_SPACY_MODEL,
    encoder_info,
    load_sentence_encoder,
    load_spacy,
    spacy_info,
)


class ScoringModels:
    """Lazy loaders for :func:`classbench.scoring.score.score_predictions`.

    ``sentence_encoder`` is a sentence-transformers directory (None: the packaged
    all-MiniLM-L6-v2) loaded at ``encoder_precision``; ``spacy_model`` the spaCy pipeline;
    ``nli_spec`` the NLI model's registry entry (label-list mapping). Pass the bound methods
    :meth:`encoder`, :meth:`nlp`, :meth:`nli` as loaders; :meth:`info` describes the loaded ones.
    """

    def __init__(
        self,
        *,
        sentence_encoder: str | None = None,
        encoder_precision: str = "float32",
        spacy_model: str = DEFAULT_SPACY_MODEL,
        nli_spec: Mapping[str, Any] | None = None,
    ) -> None:
        self.sentence_encoder = sentence_encoder
        self.encoder_precision = encoder_precision
        self.spacy_model = spacy_model
        self.nli_spec = nli_spec
        self._encoder: Any = None
        self._nlp: Any = None
        self._nli: Any = None

    def encoder(self) -> Any:
        if self._encoder is None:
            self._encoder = load_sentence_encoder(
                self.sentence_encoder, precision=self.encoder_precision
            )
        return self._encoder

    def nlp(self) -> Any:
        if self._nlp is None:
            self._nlp = load_spacy(self.spacy_model)
        return self._nlp

    def nli(self) -> Any:
        if self._nli is None:
            if self.nli_spec is None:
                raise ValueError("label mapping needs an NLI model, but none is configured")
            from classbench.backends import NLI, load_model

            self._nli = load_model(self.nli_spec, role=NLI)
        return self._nli

    def info(self) -> dict[str, Any]:
        """The models that scored: encoder (weights, device, precision), spaCy pipeline, NLI."""
        info: dict[str, Any] = {}
        if self._encoder is not None:
            info["sentence_encoder"] = {
                **encoder_info(self._encoder),
                "requested_precision": self.encoder_precision,
            }
        if self._nlp is not None:
            info["spacy"] = spacy_info(self._nlp)
        if self._nli is not None and self.nli_spec is not None:
            info["nli"] = {
                "checkpoint": self.nli_spec.get("checkpoint"),
                "revision": self.nli_spec.get("revision"),
            }
        return info
