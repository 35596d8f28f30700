"""Where an in-process model runs and in which precision: one rule set for every backend.

``device: auto`` picks the GPU when one is visible. What ``dtype: auto`` means depends on the
model, so each backend names its rule (:data:`AUTO_DTYPES`):

- ``bfloat16``: bfloat16 on CUDA, float32 on CPU (half precision is slow or missing there).
  Contrastive encoders, image classifiers and the text judge.
- ``half``: like ``bfloat16``, but float16 on a GPU without bfloat16 support. Vision-language
  models (``hf``), whose activations fit in float16 on older cards.
- ``saved``: the dtype the checkpoint was saved in, on any device. The NLI pipeline, as
  transformers loads it by default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from classbench.backends.base import BackendError

if TYPE_CHECKING:
    import torch

DTYPE_NAMES = ("bfloat16", "float16", "float32")
AUTO_DTYPES = ("bfloat16", "half", "saved")


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def resolve_device(device: str | int | None = "auto") -> str:
    """The torch device a model is placed on.

    ``auto`` (or None) is ``cuda`` when a GPU is visible, else ``cpu``. An integer is a
    transformers pipeline index: -1 is the CPU, ``n`` is ``cuda:n``. Asking for CUDA where there
    is none is refused here, before anything is loaded.
    """
    if device is None or device == "auto":
        return "cuda" if cuda_available() else "cpu"
    if isinstance(device, int):
        device = "cpu" if device < 0 else f"cuda:{device}"
    if device.startswith("cuda") and not cuda_available():
        raise BackendError(f"device {device!r} requested but no CUDA device is available")
    return device


def resolve_dtype(
    dtype: str | torch.dtype | None, device: str, *, auto: str = "bfloat16"
) -> torch.dtype | str:
    """The torch dtype to load weights in, for a spec's ``dtype`` setting on ``device``.

    ``auto`` (or None) follows the backend's rule (see the module docstring); the ``saved`` rule
    returns the string ``"auto"``, which transformers reads as "the checkpoint's own dtype". An
    explicit name must be one of :data:`DTYPE_NAMES`; a ``torch.dtype`` is taken as it is.
    """
    import torch

    if auto not in AUTO_DTYPES:
        raise ValueError(f"unknown dtype rule {auto!r}; expected one of {AUTO_DTYPES}")
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        if auto == "saved":
            return "auto"
        if not device.startswith("cuda"):
            return torch.float32
        if auto == "half" and not torch.cuda.is_bf16_supported():
            return torch.float16
        return torch.bfloat16
    if dtype not in DTYPE_NAMES:
        raise BackendError(
            f"dtype {dtype!r} is not supported; use 'auto' or one of "
            f"{', '.join(map(repr, DTYPE_NAMES))}"
        )
    return getattr(torch, dtype)


def dtype_name(dtype: Any) -> str:
    """``torch.bfloat16`` -> ``"bfloat16"``: the form written to metadata."""
    return str(dtype).removeprefix("torch.")
