"""Supervised image classifiers (ResNet, ViT, ... trained on ImageNet): logits over their classes.

The baseline of the label-list thesis: a network trained for exactly one label set, against which
the VLMs' 1000-way answers are compared. Any checkpoint that loads through
``AutoImageProcessor`` + ``AutoModelForImageClassification`` works.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
from PIL import Image

from classbench.backends.image_model import ImageModel


class ImageClassifier(ImageModel):
    """An image classification network; :meth:`logits` gives float32 scores (n, n_classes)."""

    auto_model = "AutoModelForImageClassification"
    auto_processor = "AutoImageProcessor"

    @cached_property
    def num_classes(self) -> int:
        """How many classes the network scores."""
        return int(self.model.config.num_labels)

    @cached_property
    def labels(self) -> list[str]:
        """The class names, by output index (the index itself where the config names none)."""
        # id2label keys are ints once loaded; sort by index, whatever the file's key order.
        names = {int(i): str(name) for i, name in (self.model.config.id2label or {}).items()}
        return [names.get(i, str(i)) for i in range(self.num_classes)]

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
        return {**super().info(), "num_classes": self.num_classes}
