"""CLIP / SigLIP image and text embeddings, for option mining and zero-shot baselines."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from classbench.backends.base import BackendError
from classbench.backends.devices import dtype_name, resolve_device, resolve_dtype

# Text towers trained on fixed-length, max_length-padded text whose pooling reads the last
# position: their text must be padded the same way, and their own tokenizers return no mask.
_MAX_LENGTH_PADDED = ("siglip", "siglip2")


class ContrastiveEncoder:
    """A dual encoder (CLIP, SigLIP) that maps images and texts to L2-normalised float32 vectors."""

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        *,
        revision: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 64,
        class_template: str = "an image of a {}",
    ) -> None:
        from transformers import AutoModel, AutoProcessor

        if batch_size < 1:
            raise BackendError(f"batch_size must be positive, got {batch_size}")
        if "{}" not in class_template:
            raise BackendError(f"class_template must contain '{{}}', got {class_template!r}")
        self.checkpoint = str(checkpoint)
        self.revision = revision
        self.device = resolve_device(device)
        self._torch_dtype = resolve_dtype(dtype, self.device)
        self.dtype = dtype_name(self._torch_dtype)
        self.batch_size = batch_size
        self.class_template = class_template
        self.processor = AutoProcessor.from_pretrained(self.checkpoint, revision=revision)
        self.model = AutoModel.from_pretrained(
            self.checkpoint, revision=revision, dtype=self._torch_dtype
        )
        self.model.to(self.device).eval()
        config = self.model.config
        self.model_type: str = config.model_type
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
    def from_spec(cls, spec: Mapping[str, Any], **settings: Any) -> ContrastiveEncoder:
        """The encoder of a model registry entry; ``settings`` override the entry's keys."""
        options = {
            "revision": spec.get("revision"),
            "dtype": spec.get("dtype", "auto"),
            "batch_size": int(spec.get("batch_size") or 64),
            "class_template": spec.get("class_template", "an image of a {}"),
        }
        return cls(spec["checkpoint"], **{**options, **settings})

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
        return {
            "checkpoint": self.checkpoint,
            "revision": self.revision,
            "dtype": self.dtype,
            "device": self.device,
            "class_template": self.class_template,
            "model_type": self.model_type,
        }

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
