"""What the in-process image models (contrastive encoders, image classifiers) share: the
checkpoint and its revision, the device and precision they run in, the batch size, one loading
path, and the provenance their outputs record."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from classbench.backends.base import BackendError
from classbench.backends.devices import dtype_name, resolve_device, resolve_dtype


class ImageModel:
    """A transformers checkpoint loaded for inference; subclasses name the auto classes."""

    auto_model: ClassVar[str]
    auto_processor: ClassVar[str]

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        revision: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 64,
    ) -> None:
        import transformers

        if batch_size < 1:
            raise BackendError(f"batch_size must be positive, got {batch_size}")
        self.checkpoint = str(checkpoint)
        self.revision = revision
        self.device = resolve_device(device)
        self._torch_dtype = resolve_dtype(dtype, self.device)
        self.dtype = dtype_name(self._torch_dtype)
        self.batch_size = batch_size
        processor = getattr(transformers, self.auto_processor)
        self.processor = processor.from_pretrained(self.checkpoint, revision=revision)
        self.model = getattr(transformers, self.auto_model).from_pretrained(
            self.checkpoint, revision=revision, dtype=self._torch_dtype
        )
        self.model.to(self.device).eval()
        self.model_type: str = self.model.config.model_type

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], **settings: Any) -> Self:
        """The model of a registry entry; ``settings`` override the entry's keys."""
        return cls(spec["checkpoint"], **{**cls.spec_options(spec), **settings})

    @classmethod
    def spec_options(cls, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The constructor options a model registry entry sets (its revision, dtype, batch)."""
        return {
            "revision": spec.get("revision"),
            "dtype": spec.get("dtype", "auto"),
            "batch_size": int(spec.get("batch_size") or 64),
        }

    def info(self) -> dict[str, Any]:
        """What identifies this model's outputs."""
        return {
            "checkpoint": self.checkpoint,
            "revision": self.revision,
            "dtype": self.dtype,
            "device": self.device,
            "model_type": self.model_type,
        }
