"""CLIP / SigLIP image and text embeddings, for option mining and zero-shot baselines."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from classbench.backends.base import BackendError
from classbench.backends.image_model import ImageModel

# Text towers trained on fixed-length, max_length-padded text whose pooling reads the last
# position: their text must be padded the same way, and their own tokenizers return no mask.
_MAX_LENGTH_PADDED = ("siglip", "siglip2")


class ContrastiveEncoder(ImageModel):
    """A dual encoder (CLIP, SigLIP) that maps images and texts to L2-normalised float32 vectors."""

    auto_model = "AutoModel"
    auto_processor = "AutoProcessor"

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        *,
        class_template: str = "an image of a {}",
        **options: Any,
    ) -> None:
        """``options``: those of :class:`ImageModel` (revision, device, dtype, batch_size)."""
        if "{}" not in class_template:
            raise BackendError(f"class_template must contain '{{}}', got {class_template!r}")
        super().__init__(checkpoint, **options)
        self.class_template = class_template
        config = self.model.config
        if not (
            hasattr(self.model, "get_image_features") and hasattr(self.model, "get_text_features")
        ):
            raise BackendError(f"{self.checkpoint} ({self.model_type}) is not a dual encoder")
        text_config = getattr(config, "text_config", config)
        tokenizer = self.processor.tokenizer
        limits = [getattr(text_config, "max_position_embeddings", None), tokenizer.model_max_length]
        self._max_length = min(int(n) for n in limits if n)
        self._pad_to_max = self.model_type in _MAX_LENGTH_PADDED
        self.dim: int = int(getattr(config, "projection_dim", None) or text_config.hidden_size)

    @classmethod
    def spec_options(cls, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The constructor options a model registry entry sets, its class template included."""
        template = spec.get("class_template", "an image of a {}")
        return {**super().spec_options(spec), "class_template": template}

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Embed images: float32 array (n, d), each row of unit length."""

        def inputs(batch: Sequence[Image.Image]) -> dict[str, Any]:
            rgb = [im if im.mode == "RGB" else im.convert("RGB") for im in batch]
            return dict(self.processor(images=rgb, return_tensors="pt"))

        return self._encode(images, inputs, self.model.get_image_features, "images")

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts: float32 array (n, d), each row of unit length."""

        def inputs(batch: Sequence[str]) -> dict[str, Any]:
            encoded = self.processor.tokenizer(
                list(batch),
                padding="max_length" if self._pad_to_max else True,
                truncation=True,
                max_length=self._max_length,
                return_tensors="pt",
            )
            if self._pad_to_max:
                return {"input_ids": encoded["input_ids"]}
            return dict(encoded)

        return self._encode(texts, inputs, self.model.get_text_features, "texts")

    def encode_classes(self, class_names: Sequence[str]) -> np.ndarray:
        """Embed class names through ``class_template`` (e.g. "an image of a {}")."""
        return self.encode_texts([self.class_template.format(name) for name in class_names])

    def info(self) -> dict[str, Any]:
        """What identifies these embeddings."""
        return {**super().info(), "class_template": self.class_template}

    def _encode(
        self,
        items: Sequence[Any],
        make_inputs: Callable[[Sequence[Any]], dict[str, Any]],
        features: Callable[..., Any],
        what: str,
    ) -> np.ndarray:
        import torch
        from tqdm.auto import tqdm

        starts = range(0, len(items), self.batch_size)
        chunks: list[np.ndarray] = []
        with torch.inference_mode():
            for start in tqdm(starts, desc=f"encoding {what}", disable=len(starts) <= 1):
                batch = make_inputs(items[start : start + self.batch_size])
                batch = {
                    key: value.to(self.device, dtype=self._torch_dtype)
                    if value.is_floating_point()
                    else value.to(self.device)
                    for key, value in batch.items()
                }
                out = features(**batch)
                # transformers 5 returns a model output (projected embeds as pooler_output);
                # older versions return the tensor itself.
                if not isinstance(out, torch.Tensor):
                    out = out.pooler_output
                out = torch.nn.functional.normalize(out.float(), dim=-1)
                chunks.append(out.cpu().numpy())
        if not chunks:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(chunks, axis=0)
