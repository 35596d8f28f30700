"""What every generative backend returns, and the errors it raises."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from PIL import Image

from classbench.images import model_input


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


def error_text(err: BaseException) -> str:
    """``"<ExceptionType>: message"``, the form stored in :attr:`Generation.error`."""
    return f"{type(err).__name__}: {err}"


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

    @classmethod
    def failed(cls, reason: str | BaseException) -> Generation:
        """No answer, for ``reason`` (an exception is written as :func:`error_text` writes it)."""
        error = error_text(reason) if isinstance(reason, BaseException) else reason
        return cls(text=None, error=error)


class Sample(NamedTuple):
    """One request of a :meth:`GenerativeBackend.generate` call."""

    image: Image.Image
    prompt: str
    choices: list[str] | None


class GenerativeBackend:
    """A vision-language model that answers a prompt about one image.

    Every generative backend subclasses it: :meth:`generate` checks a call's lists once and
    hands them to :meth:`answer` as one :class:`Sample` each; :meth:`prepare_image` fits an
    image to ``max_pixels``. A test double may instead define ``generate``, ``info`` and
    ``close`` itself.
    """

    name: str
    max_pixels: int | None = None

    def prepare_image(self, image: Image.Image) -> Image.Image:
        """The image as the model receives it (RGB, within ``max_pixels``)."""
        return model_input(image, self.max_pixels)

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
        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images but {len(prompts)} prompts")
        if choices is not None and len(choices) != len(prompts):
            raise ValueError(f"{len(choices)} choice lists but {len(prompts)} prompts")
        if not prompts:
            return []
        per_sample = choices if choices is not None else [None] * len(prompts)
        samples = [Sample(*sample) for sample in zip(images, prompts, per_sample, strict=True)]
        return self.answer(samples, max_new_tokens)

    def answer(self, samples: list[Sample], max_new_tokens: int) -> list[Generation]:
        """The answers to a checked, non-empty call, in input order."""
        raise NotImplementedError

    @staticmethod
    def prepare_each(
        samples: Sequence[Sample], prepare: Callable[[Sample], Sample]
    ) -> tuple[list[Generation | None], list[tuple[int, Sample]]]:
        """Each sample prepared on its own, with its index: one that fails (an unreadable image, a
        prompt the template rejects) gets its error as its :class:`Generation` at once and does
        not stop the others. The first list holds those errors, None where a sample is ready.
        """
        results: list[Generation | None] = [None] * len(samples)
        ready: list[tuple[int, Sample]] = []
        for index, sample in enumerate(samples):
            try:
                ready.append((index, prepare(sample)))
            except Exception as err:  # a bad sample must not stop the others
                results[index] = Generation.failed(err)
        return results, ready

    @staticmethod
    def in_input_order(
        results: list[Generation | None], answered: Sequence[tuple[int, Generation]]
    ) -> list[Generation]:
        """The answers put back at their samples' indices, beside :meth:`prepare_each`'s errors."""
        for index, generation in answered:
            results[index] = generation
        missing = [index for index, result in enumerate(results) if result is None]
        if missing:
            # Dropping them would shift every later answer onto the wrong sample.
            raise RuntimeError(f"the backend gave no answer for samples {missing}")
        return [result for result in results if result is not None]

    def info(self) -> dict[str, Any]:
        """What identifies this backend's outputs (checkpoint, revision, dtype, device, ...)."""
        raise NotImplementedError

    def close(self) -> None:
        """Free the model (GPU memory, server connections)."""
        raise NotImplementedError
