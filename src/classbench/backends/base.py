"""What every generative backend returns, and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image


class BackendError(RuntimeError):
    """A backend cannot be set up as configured (missing package, no CUDA device, bad setting)."""


@dataclass
class Generation:
    """One model answer, or the reason there is none.

    ``error`` set means the sample failed (request error, decode error, ...): it is recorded and
    retried by the next run, never scored as a prediction.
    """

    text: str | None
    error: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_s: float | None = None


class GenerativeBackend(Protocol):
    """A vision-language model that answers a prompt about one image."""

    name: str

    def generate(
        self,
        images: list[Image.Image],
        prompts: list[str],
        *,
        max_new_tokens: int,
        choices: list[list[str] | None] | None = None,
    ) -> list[Generation]:
        """One :class:`Generation` per (image, prompt), in input order.

        ``choices`` (closed protocols) lets a backend that supports constrained decoding restrict
        the answer to one of the given strings; backends that cannot ignore it.
        """
        ...

    def info(self) -> dict[str, Any]:
        """What identifies this backend's outputs (checkpoint, revision, dtype, device, ...)."""
        ...

    def close(self) -> None:
        """Free the model (GPU memory, server connections)."""
        ...
