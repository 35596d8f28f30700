"""Supervised image classifiers (ResNet, ViT, ... trained on ImageNet): logits over their classes.

The baseline of the label-list thesis: a network trained for exactly one label set, against which
the VLMs' 1000-way answers are compared. Any checkpoint that loads through
``AutoImageProcessor`` + ``AutoModelForImageClassification`` works.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from classbench.backends.base import BackendError
from classbench.backends.devices import dtype_name, resolve_device, resolve_dtype


class ImageClassifier:
    """An image classification network; :meth:`logits` gives float32 scores (n, n_classes)."""

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        revision: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 64,
    ) -> None:
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        if batch_size < 1:
            raise BackendError(f"batch_size must be positive, got {batch_size}")
        self.checkpoint = str(checkpoint)
        self.revision = revision
        self.device = resolve_device(device)
        self._torch_dtype = resolve_dtype(dtype, self.device)
        self.dtype = dtype_name(self._torch_dtype)
        self.batch_size = batch_size
        self.processor = AutoImageProcessor.from_pretrained(self.checkpoint, revision=revision)
        self.model = AutoModelForImageClassification.from_pretrained(
            self.checkpoint, revision=revision, dtype=self._torch_dtype
        )
        self.model.to(self.device).eval()
        config = self.model.config
        self.model_type: str = config.model_type
        self.num_classes: int = int(config.num_labels)
        # id2label keys are ints once loaded; sort by index, whatever the file's key order.
        labels = {int(i): str(name) for i, name in (config.id2label or {}).items()}
        self.labels: list[str] = [labels.get(i, str(i)) for i in range(self.num_classes)]

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], **settings: Any) -> ImageClassifier:
        """The classifier of a model registry entry; ``settings`` override the entry's keys."""
        options = {
            "revision": spec.get("revision"),
            "dtype": spec.get("dtype", "auto"),
            "batch_size": int(spec.get("batch_size") or 64),
        }
        return cls(spec["checkpoint"], **{**options, **settings})

    def logits(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Float32 logits (n, ``num_classes``) of ``images``, in batches of ``batch_size``."""
        import torch

        chunks: list[np.ndarray] = []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                batch = [
                    im if im.mode == "RGB" else im.convert("RGB")
                    for im in images[start : start + self.batch_size]
                ]
                inputs = self.processor(images=batch, return_tensors="pt")
                pixels = inputs["pixel_values"].to(self.device, dtype=self._torch_dtype)
                out = self.model(pixel_values=pixels).logits
                chunks.append(out.float().cpu().numpy())
        if not chunks:
            return np.zeros((0, self.num_classes), dtype=np.float32)
        return np.concatenate(chunks, axis=0)

    def info(self) -> dict[str, Any]:
        """What identifies these logits."""
        return {
            "checkpoint": self.checkpoint,
            "revision": self.revision,
            "dtype": self.dtype,
            "device": self.device,
            "model_type": self.model_type,
            "num_classes": self.num_classes,
        }
