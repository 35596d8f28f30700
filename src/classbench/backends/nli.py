"""The NLI model that maps free label-list answers onto a candidate (the label-list thesis's
``pipeline("zero-shot-classification", model="facebook/bart-large-mnli")``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from classbench.backends.devices import resolve_device, resolve_dtype


def load_nli_classifier(spec: Mapping[str, Any], device: str | int | None = None) -> Any:
    """The transformers zero-shot-classification pipeline of an NLI model registry entry.

    The pipeline batches (premise, hypothesis) pairs ``batch_size`` at a time (the entry's,
    default 32); its hypothesis template is the default "This example is {}.", as the thesis used.
    ``device`` is a torch device, a pipeline index (-1: CPU) or None (the GPU when one is
    visible). ``dtype: auto`` keeps the checkpoint's own dtype, as the pipeline does by default.
    """
    from transformers import pipeline

    resolved = resolve_device(device)
    return pipeline(
        "zero-shot-classification",
        model=spec["checkpoint"],
        revision=spec.get("revision"),
        device=resolved,
        dtype=resolve_dtype(spec.get("dtype", "auto"), resolved, auto="saved"),
        batch_size=int(spec.get("batch_size") or 32),
    )
