"""Offline vLLM engine backend: one ``LLM.chat`` call per list of requests (a
GenerativeBackend).

vLLM's continuous batching only pays off when it sees many requests at once, so everything passed
to :meth:`VLLMBackend.generate` goes to the engine in a single call, with one ``SamplingParams``
per request. Images are passed as PIL objects (``image_pil`` parts), not re-encoded to base64.
For closed protocols the answer can be constrained to the sample's options: through
``StructuredOutputsParams(choice=...)`` (vLLM >= 0.12) or ``GuidedDecodingParams(choice=...)``
(older releases), whichever the installed vLLM provides.

Request construction and result mapping are plain functions of their inputs (and of the
``vllm`` module handed to them), so they are tested without a GPU.
"""

from __future__ import annotations

import gc
import importlib
import logging
import time
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from PIL import Image

from classbench.backends.base import (
    BackendError,
    Generation,
    GenerativeBackend,
    Sample,
    conversation,
    error_text,
)

log = logging.getLogger(__name__)

# Spec keys passed to vllm.LLM as they are (when set); everything else goes through
# `engine_kwargs`.
ENGINE_KEYS = (
    "revision",
    "dtype",
    "max_model_len",
    "mm_processor_kwargs",
    "tensor_parallel_size",
    "gpu_memory_utilization",
    "seed",
    "trust_remote_code",
)
# Field of SamplingParams and class holding a choice constraint, newest API first.
CHOICE_APIS = (
    ("structured_outputs", "StructuredOutputsParams"),
    ("guided_decoding", "GuidedDecodingParams"),
)


def import_vllm() -> ModuleType:
    """The ``vllm`` module, or a :class:`BackendError` saying how to get it."""
    try:
        return importlib.import_module("vllm")
    except ImportError as err:
        raise BackendError(
            "the vllm backend needs the 'vllm' package (a CUDA build: pip install "
            f"'classbench[gpu]'), which cannot be imported here: {err}"
        ) from err


def choice_api(vllm: ModuleType) -> tuple[str, type] | None:
    """``(SamplingParams field, params class)`` for choice constraints, or None if unsupported."""
    try:
        module = importlib.import_module(f"{vllm.__name__}.sampling_params")
    except ImportError:
        module = vllm
    for field, class_name in CHOICE_APIS:
        cls = getattr(module, class_name, None) or getattr(vllm, class_name, None)
        if cls is not None:
            return field, cls
    return None


def engine_kwargs(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM`` for a model spec.

    One image per prompt: vLLM reserves memory for the worst case of ``limit_mm_per_prompt``
    images, and the pipeline never sends more than one.
    """
    if not spec.get("checkpoint"):
        raise BackendError("the vllm backend needs a 'checkpoint' (hub id or local directory)")
    kwargs: dict[str, Any] = {"model": str(spec["checkpoint"]), "limit_mm_per_prompt": {"image": 1}}
    for key in ENGINE_KEYS:
        if spec.get(key) is not None:
            kwargs[key] = spec[key]
    kwargs.update(spec.get("engine_kwargs") or {})
    return kwargs


def build_conversation(
    image: Image.Image, prompt: str, *, system_prompt: str | None = None, image_first: bool = True
) -> list[dict[str, Any]]:
    """One chat conversation: optional system turn, then one image and the prompt.

    Same structure as the transformers backend's messages, with the PIL image attached so vLLM
    needs no decode; ``LLM.chat`` renders it with the checkpoint's chat template.
    """
    return conversation(
        {"type": "image_pil", "image_pil": image},
        prompt,
        system_prompt=system_prompt,
        image_first=image_first,
    )


def sampling_params(
    vllm: ModuleType,
    *,
    max_tokens: int,
    temperature: float = 0.0,
    choices: Sequence[str] | None = None,
    api: tuple[str, type] | None = None,
) -> Any:
    """``SamplingParams`` for one request; ``choices`` (with a choice ``api``) constrains it."""
    kwargs: dict[str, Any] = {"temperature": temperature, "max_tokens": int(max_tokens)}
    if choices is not None and api is not None:
        field, cls = api
        kwargs[field] = cls(choice=list(choices))
    return vllm.SamplingParams(**kwargs)


def build_requests(
    vllm: ModuleType,
    images: Sequence[Image.Image],
    prompts: Sequence[str],
    *,
    max_tokens: int,
    choices: Sequence[Sequence[str] | None] | None = None,
    system_prompt: str | None = None,
    image_first: bool = True,
    temperature: float = 0.0,
    api: tuple[str, type] | None = None,
) -> tuple[list[list[dict[str, Any]]], list[Any]]:
    """The conversations and per-request sampling parameters of one ``LLM.chat`` call."""
    per_sample = choices if choices is not None else [None] * len(prompts)
    conversations = [
        build_conversation(image, prompt, system_prompt=system_prompt, image_first=image_first)
        for image, prompt in zip(images, prompts, strict=True)
    ]
    params = [
        sampling_params(
            vllm, max_tokens=max_tokens, temperature=temperature, choices=sample, api=api
        )
        for sample in per_sample
    ]
    return conversations, params


def to_generation(output: Any, latency_s: float | None = None) -> Generation:
    """A vLLM ``RequestOutput`` as a :class:`Generation` (no usable completion is an error)."""
    completions = getattr(output, "outputs", None) or []
    if not completions:
        return Generation.failed("EmptyOutput: vLLM returned no completion")
    first = completions[0]
    reason = getattr(first, "finish_reason", None)
    if reason == "abort":
        return Generation.failed("Aborted: vLLM aborted the request")
    text = getattr(first, "text", None)
    if not isinstance(text, str):
        return Generation.failed(f"EmptyOutput: no text (finish_reason={reason})")
    prompt_ids = getattr(output, "prompt_token_ids", None)
    token_ids = getattr(first, "token_ids", None)
    return Generation(
        text=text.strip(),
        tokens_in=len(prompt_ids) if prompt_ids is not None else None,
        tokens_out=len(token_ids) if token_ids is not None else None,
        latency_s=latency_s,
    )


class VLLMBackend(GenerativeBackend):
    """A vision-language model run by the offline vLLM engine."""

    name = "vllm"

    def __init__(self, spec: Mapping[str, Any]):
        spec = dict(spec)
        self.engine_kwargs = engine_kwargs(spec)
        self.checkpoint: str = self.engine_kwargs["model"]
        self.max_pixels: int | None = spec.get("max_pixels")
        self.system_prompt: str | None = spec.get("system_prompt")
        self.image_first = bool(spec.get("image_first", True))
        temperature = spec.get("temperature")
        self.temperature = 0.0 if temperature is None else float(temperature)
        self.vllm = import_vllm()
        self.choice_api = choice_api(self.vllm)
        self._warned_choices = False
        try:
            self.llm: Any = self.vllm.LLM(**self.engine_kwargs)
        except Exception as err:
            raise BackendError(
                f"vLLM could not load {self.checkpoint!r}: {error_text(err)}"
            ) from err

    def answer(self, samples: list[Sample], max_new_tokens: int) -> list[Generation]:
        """All answers from one ``LLM.chat`` call, in input order.

        ``latency_s`` is the call's wall time divided by the number of requests (the same
        amortised figure as the batched transformers backend).
        """
        constrained = any(sample.choices is not None for sample in samples)
        if constrained and self.choice_api is None and not self._warned_choices:
            log.warning("this vLLM has no choice constraint; answers are parsed from free text")
            self._warned_choices = True
        results, ready = self.prepare_each(
            samples, lambda sample: sample._replace(image=self.prepare_image(sample.image))
        )
        answered = self._chat_or_split(ready, max_new_tokens) if ready else []
        return self.in_input_order(
            results, list(zip((index for index, _ in ready), answered, strict=True))
        )

    def _chat_or_split(
        self, items: Sequence[tuple[int, Sample]], max_tokens: int
    ) -> list[Generation]:
        """One engine call for all ``items``; if it raises, halve until the culprit is alone.

        vLLM validates every request before running any (a prompt longer than
        ``max_model_len`` rejects the whole call), so bisection keeps the others' answers at
        the cost of O(log n) extra calls per bad request.
        """
        start = time.perf_counter()
        try:
            # Inside the try: a choice list the constraint class rejects is a per-request error.
            conversations, params = build_requests(
                self.vllm,
                [sample.image for _, sample in items],
                [sample.prompt for _, sample in items],
                max_tokens=max_tokens,
                choices=[sample.choices for _, sample in items],
                system_prompt=self.system_prompt,
                image_first=self.image_first,
                temperature=self.temperature,
                api=self.choice_api,
            )
            outputs = list(self.llm.chat(conversations, params, use_tqdm=len(items) > 1))
            if len(outputs) != len(items):
                raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(items)}")
        except Exception as err:
            if len(items) == 1 or type(err).__name__ == "EngineDeadError":
                # A dead engine fails every call: don't bisect through thousands of them.
                log.warning("vllm request(s) failed: %s", error_text(err))
                return [Generation.failed(err) for _ in items]
            log.warning("vllm call of %d failed (%s); splitting", len(items), error_text(err))
            middle = len(items) // 2
            return self._chat_or_split(items[:middle], max_tokens) + self._chat_or_split(
                items[middle:], max_tokens
            )
        latency = (time.perf_counter() - start) / len(items)
        return [to_generation(output, latency) for output in outputs]

    def info(self) -> dict[str, Any]:
        """What identifies this backend's outputs."""
        return {
            "backend": self.name,
            "checkpoint": self.checkpoint,
            "engine_kwargs": {k: v for k, v in self.engine_kwargs.items() if k != "model"},
            "max_pixels": self.max_pixels,
            "system_prompt": self.system_prompt,
            "image_first": self.image_first,
            "temperature": self.temperature,
            "choice_constraint": self.choice_api[0] if self.choice_api else None,
            "vllm_version": getattr(self.vllm, "__version__", None),
        }

    def close(self) -> None:
        """Drop the engine and return its GPU memory (best effort: vLLM keeps some state)."""
        if getattr(self, "llm", None) is None:
            return
        self.llm = None
        try:
            parallel = importlib.import_module(f"{self.vllm.__name__}.distributed.parallel_state")
            parallel.destroy_model_parallel()
            parallel.destroy_distributed_environment()
        except Exception:  # absent in some versions; freeing is best effort
            pass
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
