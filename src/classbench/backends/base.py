"""What every generative backend returns, and the errors it raises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image


class FollowUp(str):
    """A user turn that continues a conversation (lmms-owc's multi-round prompts).

    The string is this turn's text; ``history`` holds the earlier turns as (user text, model
    answer) pairs, the image belonging to the first. Every backend passes its prompts to
    :func:`conversation`, which unrolls the turns, so a follow-up reaches any backend as a
    prompt.
    """

    history: tuple[tuple[str, str], ...]

    def __new__(cls, text: str, history: Sequence[tuple[str, str]]) -> FollowUp:
        turn = super().__new__(cls, text)
        turn.history = tuple((str(user), str(answer)) for user, answer in history)
        return turn


def conversation(
    image_part: dict[str, Any],
    prompt: str,
    *,
    system_prompt: str | None = None,
    image_first: bool = True,
) -> list[dict[str, Any]]:
    """The chat every generative backend sends for one sample: an optional system turn with one
    text part, then a user turn with one image part and the prompt.

    One shape for all backends, so a server applying the checkpoint's chat template renders the
    same prompt as the in-process model; only the image part differs (a placeholder, a data URL,
    a PIL image). A :class:`FollowUp` prompt unrolls its history first: the image with the first
    user text, each earlier answer as an assistant turn, the later user turns as text alone.
    """
    history = getattr(prompt, "history", ())
    first = history[0][0] if history else prompt
    parts: list[dict[str, Any]] = [image_part, {"type": "text", "text": str(first)}]
    if not image_first:
        parts.reverse()
    messages: list[dict[str, Any]] = []
    if system_prompt:
        messages.append({"role": "system", "content": [{"type": "text", "text": system_prompt}]})
    messages.append({"role": "user", "content": parts})
    for index, (_, answer) in enumerate(history):
        following = history[index + 1][0] if index + 1 < len(history) else prompt
        messages.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
        messages.append({"role": "user", "content": [{"type": "text", "text": str(following)}]})
    return messages


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
