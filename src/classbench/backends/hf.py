"""In-process Hugging Face transformers backend: AutoProcessor + AutoModelForImageTextToText.

One generic code path for every vision-language family; what differs between families (pixel
budgets, attention kernels, system prompts, image position) comes from the model spec, and the
prompt format always comes from the checkpoint's own chat template.
"""

from __future__ import annotations

import gc
import importlib.util
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from classbench.backends.base import (
    BackendError,
    Generation,
    GenerativeBackend,
    Sample,
    conversation,
)
from classbench.backends.devices import dtype_name, resolve_device, resolve_dtype
from classbench.images import model_input

log = logging.getLogger(__name__)

QUANTIZATIONS = ("8bit", "4bit")


def build_messages(
    prompt: str, *, system_prompt: str | None = None, image_first: bool = True
) -> list[dict[str, Any]]:
    """A chat conversation with one image placeholder and one text part in the user turn."""
    return conversation(
        {"type": "image"}, prompt, system_prompt=system_prompt, image_first=image_first
    )


# Kept under this name for callers of the backend module.
prepare_image = model_input


def quantization_config(quantization: str | None, cuda: bool) -> Any:
    """A ``BitsAndBytesConfig`` for "8bit"/"4bit", None for no quantization.

    Checked before anything is loaded: bitsandbytes needs a CUDA device and the package.
    """
    if quantization in (None, "", "none"):
        return None
    if quantization not in QUANTIZATIONS:
        raise BackendError(
            f"quantization {quantization!r} is not supported; use null, '8bit' or '4bit'"
        )
    if not cuda:
        raise BackendError(
            f"quantization={quantization!r} needs a CUDA device (bitsandbytes), but none is "
            "available; set quantization: null to run unquantized"
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise BackendError(
            f"quantization={quantization!r} needs the bitsandbytes package "
            "(pip install 'classbench[gpu]'), which is not installed"
        )
    from transformers import BitsAndBytesConfig

    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16)


class HFBackend(GenerativeBackend):
    """A vision-language model run in-process with transformers (a GenerativeBackend)."""

    name = "hf"

    def __init__(self, spec: Mapping[str, Any]):
        spec = dict(spec)
        if not spec.get("checkpoint"):
            raise BackendError("the hf backend needs a 'checkpoint' (hub id or local directory)")
        self.checkpoint: str = str(spec["checkpoint"])
        self.revision: str | None = spec.get("revision")
        self.trust_remote_code = bool(spec.get("trust_remote_code", False))
        self.batch_size = int(spec.get("batch_size") or 8)
        if self.batch_size < 1:
            raise BackendError(f"batch_size must be >= 1, got {self.batch_size}")
        # "sorted" batches prompts of similar length; "shuffled" (the sensitivity report's
        # image-order factor) batches them in a seeded random order instead.
        self.batch_order: str = spec.get("batch_order", "sorted")
        if self.batch_order not in ("sorted", "shuffled"):
            raise BackendError(f"batch_order must be sorted or shuffled, got {self.batch_order!r}")
        self._order_rng = np.random.default_rng(int(spec.get("seed") or 0))
        self.max_pixels: int | None = spec.get("max_pixels")
        self.system_prompt: str | None = spec.get("system_prompt")
        self.image_first = bool(spec.get("image_first", True))
        # Checkpoints without a chat template (BLIP-2, InstructBLIP, Fuyu, PaliGemma) are
        # prompted with a plain template such as "Question: {prompt} Answer:".
        self.prompt_template: str | None = spec.get("prompt_template")
        self.attn_implementation: str | None = spec.get("attn_implementation")
        self.quantization: str | None = spec.get("quantization")
        # Greedy unless the spec says otherwise; do_sample is always explicit so that a
        # checkpoint's generation_config cannot silently switch sampling on.
        self.generation: dict[str, Any] = {"do_sample": False, "num_beams": 1}
        self.generation.update(spec.get("generation") or {})

        # The machine's device decides the precision and the quantization check; device_map
        # only decides where the weights go.
        cuda = resolve_device("auto") == "cuda"
        quant_config = quantization_config(self.quantization, cuda)
        device_map = spec.get("device_map", "auto")
        if device_map in (None, "auto"):
            device_map = "auto" if cuda else None
        elif device_map == "cpu":
            device_map = None
        elif not cuda:
            raise BackendError(
                f"device_map={device_map!r} needs a CUDA device, but none is available"
            )
        self.dtype = resolve_dtype(
            spec.get("dtype", "auto"), "cuda" if cuda else "cpu", auto="half"
        )

        from transformers import AutoModelForImageTextToText, AutoProcessor

        common = {"revision": self.revision, "trust_remote_code": self.trust_remote_code}
        self.processor = AutoProcessor.from_pretrained(
            self.checkpoint, **common, **(spec.get("processor_kwargs") or {})
        )
        tokenizer = getattr(self.processor, "tokenizer", None)
        if tokenizer is None:
            raise BackendError(f"the processor of {self.checkpoint} has no tokenizer")
        # Batched decoder-only generation needs the padding on the left of the prompt.
        tokenizer.padding_side = "left"
        self.tokenizer = tokenizer

        model_kwargs: dict[str, Any] = {**common, "dtype": self.dtype}
        if device_map is not None:
            model_kwargs["device_map"] = device_map
        if self.attn_implementation:
            model_kwargs["attn_implementation"] = self.attn_implementation
        if quant_config is not None:
            model_kwargs["quantization_config"] = quant_config
        model_kwargs.update(spec.get("model_kwargs") or {})
        # Any, not the model class: None once closed.
        self.model: Any = AutoModelForImageTextToText.from_pretrained(
            self.checkpoint, **model_kwargs
        )
        if device_map is None and quant_config is None:
            # functools.wraps on a method: mypy reads transformers' .to() unbound
            self.model.to("cpu")  # type: ignore[arg-type]
        self.model.eval()
        self.device = self.model.device

        if self.generation.get("pad_token_id") is None and (
            self.model.generation_config.pad_token_id is None
        ):
            # Finished rows of a batch are padded; without a pad id generate warns on each call.
            pads = [self.tokenizer.pad_token_id, *self._eos_ids(self.generation)]
            pad = next((p for p in pads if p is not None), None)
            if pad is not None:
                self.generation["pad_token_id"] = pad

    # -- prompts -----------------------------------------------------------------------------

    def render_prompt(self, prompt: str) -> str:
        """The prompt text as the checkpoint's chat template (or the spec's ``prompt_template``)
        renders it, before image expansion."""
        if self.prompt_template:
            if getattr(prompt, "history", ()):
                raise BackendError(
                    "a multi-turn task needs the checkpoint's chat template, but this model is "
                    "prompted with a plain prompt_template"
                )
            image_token = getattr(self.processor, "image_token", None) or ""
            return self.prompt_template.format(
                prompt=prompt, image=image_token, system=self.system_prompt or ""
            )
        messages = build_messages(
            prompt, system_prompt=self.system_prompt, image_first=self.image_first
        )
        return self.processor.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )

    # -- generation --------------------------------------------------------------------------

    def answer(self, samples: list[Sample], max_new_tokens: int) -> list[Generation]:
        """Greedy (by default) answers, batched by similar length, returned in input order.

        The samples' ``choices`` are ignored: this backend has no constrained decoding.
        """
        results, ready = self.prepare_each(
            samples,
            lambda sample: sample._replace(
                image=self.prepare_image(sample.image), prompt=self.render_prompt(sample.prompt)
            ),
        )
        # Cheap length proxy (pixels drive the image-token count of dynamic-resolution models,
        # characters the text part) so that a batch holds prompts of similar length.
        if self.batch_order == "sorted":
            ready.sort(
                key=lambda item: (item[1].image.width * item[1].image.height, len(item[1].prompt))
            )
        else:
            ready = [ready[i] for i in self._order_rng.permutation(len(ready))]
        batches = [ready[i : i + self.batch_size] for i in range(0, len(ready), self.batch_size)]
        answered: list[tuple[int, Generation]] = []
        for batch in tqdm(batches, desc=f"hf {self.checkpoint}", disable=len(batches) <= 1):
            generations = self._generate_or_split(batch, max_new_tokens)
            answered.extend(zip((index for index, _ in batch), generations, strict=True))
        return self.in_input_order(results, answered)

    def _generate_or_split(
        self, batch: Sequence[tuple[int, Sample]], max_new_tokens: int
    ) -> list[Generation]:
        """Run the batch; if it fails, run its samples one by one so only the culprit fails."""
        try:
            return self._generate_batch(batch, max_new_tokens)
        except Exception as err:
            failed = Generation.failed(err)
            if len(batch) == 1:
                log.warning("hf sample %d failed: %s", batch[0][0], failed.error)
                return [failed]
            log.warning("hf batch of %d failed (%s); retrying one by one", len(batch), failed.error)
            self._free_cuda()
            return [
                generation
                for item in batch
                for generation in self._generate_or_split([item], max_new_tokens)
            ]

    def _generate_batch(
        self, batch: Sequence[tuple[int, Sample]], max_new_tokens: int
    ) -> list[Generation]:
        start = time.perf_counter()
        inputs = self._encode([item.prompt for _, item in batch], [item.image for _, item in batch])
        with torch.inference_mode():
            output = self.model.generate(
                **inputs, **{**self.generation, "max_new_tokens": max_new_tokens}
            )
        prompt_len = inputs["input_ids"].shape[1]
        new_tokens = output[:, prompt_len:].cpu()
        tokens_in = inputs["attention_mask"].sum(dim=1).tolist()
        latency = (time.perf_counter() - start) / len(batch)
        eos_ids = set(self._eos_ids(self.generation))
        results = []
        for row, n_in in zip(new_tokens.tolist(), tokens_in, strict=True):
            # Up to and including the first EOS; what follows is padding of finished rows.
            n_out = next((i + 1 for i, tok in enumerate(row) if tok in eos_ids), len(row))
            text = self.tokenizer.decode(row[:n_out], skip_special_tokens=True).strip()
            results.append(
                Generation(text=text, tokens_in=int(n_in), tokens_out=n_out, latency_s=latency)
            )
        return results

    def _encode(self, texts: list[str], images: list[Image.Image]) -> Any:
        # One image list per prompt: Gemma 3 requires it and the other processors accept it.
        inputs = self.processor(
            text=texts, images=[[image] for image in images], padding=True, return_tensors="pt"
        )
        return inputs.to(self.device, dtype=self.dtype)

    def _eos_ids(self, generation: Mapping[str, Any]) -> list[int]:
        eos = generation.get("eos_token_id", self.model.generation_config.eos_token_id)
        if eos is None:
            eos = self.tokenizer.eos_token_id
        if eos is None:
            return []
        return [int(e) for e in eos] if isinstance(eos, (list, tuple)) else [int(eos)]

    # -- log-likelihood ----------------------------------------------------------------------

    def score_options(
        self, images: list[Image.Image], prompts: list[str], options: list[list[str]]
    ) -> list[list[float]]:
        """Sum of token log-probabilities of each option as the answer to each (image, prompt).

        Each option is appended to the rendered prompt (after the generation prompt) and scored
        in one forward pass; the options of one sample are batched ``batch_size`` at a time.
        """
        if not len(images) == len(prompts) == len(options):
            raise ValueError("images, prompts and options must have the same length")
        scores: list[list[float]] = []
        for image, prompt, sample_options in zip(images, prompts, options, strict=True):
            image = self.prepare_image(image)
            text = self.render_prompt(prompt)
            prompt_ids = self._encode([text], [image])["input_ids"][0].tolist()
            sample_scores: list[float] = []
            for i in range(0, len(sample_options), self.batch_size):
                chunk = sample_options[i : i + self.batch_size]
                sample_scores.extend(self._score_chunk(text, image, prompt_ids, chunk))
            scores.append(sample_scores)
        return scores

    def _score_chunk(
        self, text: str, image: Image.Image, prompt_ids: list[int], options: list[str]
    ) -> list[float]:
        inputs = self._encode([text + option for option in options], [image] * len(options))
        with torch.inference_mode():
            logits = self.model(**inputs).logits
        logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        ids = inputs["input_ids"]
        lengths = inputs["attention_mask"].sum(dim=1).tolist()
        width = ids.shape[1]
        scores = []
        for row, length in enumerate(lengths):
            real = ids[row, width - length :].tolist()
            # The option starts where the full encoding leaves the prompt's (a token merged
            # across the boundary counts towards the option).
            common = 0
            for a, b in zip(real, prompt_ids, strict=False):
                if a != b:
                    break
                common += 1
            start = width - length + max(common, 1)
            targets = ids[row, start:]
            picked = logprobs[row, start - 1 : width - 1].gather(-1, targets.unsqueeze(-1))
            scores.append(float(picked.sum()))
        return scores

    # -- bookkeeping -------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """What identifies this backend's outputs."""
        import transformers

        model = getattr(self, "model", None)
        return {
            "backend": self.name,
            "checkpoint": self.checkpoint,
            "revision": self.revision,
            "dtype": dtype_name(self.dtype),
            "device": str(self.device),
            "attn_implementation": (
                getattr(model.config, "_attn_implementation", None)
                if model is not None
                else self.attn_implementation
            ),
            "quantization": self.quantization,
            "max_pixels": self.max_pixels,
            "batch_size": self.batch_size,
            "batch_order": self.batch_order,
            "system_prompt": self.system_prompt,
            "image_first": self.image_first,
            "generation": dict(self.generation),
            "model_class": type(model).__name__ if model is not None else None,
            "transformers_version": transformers.__version__,
            "torch_version": torch.__version__,
        }

    def close(self) -> None:
        """Drop the model and return its GPU memory."""
        if getattr(self, "model", None) is not None:
            self.model = None
            gc.collect()
            self._free_cuda()

    @staticmethod
    def _free_cuda() -> None:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
