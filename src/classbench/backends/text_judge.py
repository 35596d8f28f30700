"""An instruction-tuned text LLM used as a judge, with the lmms-owc prompts.

Two judgements are reproduced from lmms-owc (Conti et al., "On Large Multimodal Models as
Open-World Image Classifiers"):

- *LLM inclusion* (``textual_inclusion_llama32``): does the answer name or describe the target?
  Scored 1 when the judge replies exactly "1", else 0.
- *Pairwise preference* (the Elo judge of ``eval_ranking.py``): which of two answers aligns better
  with the target? "1" means A wins, "0" means B wins, anything else is a draw; parsing is left to
  the ranking code.

Differences from lmms-owc, all deliberate:

- lmms-owc hard-codes the question "What type of object is in this photo?" in the inclusion prompt,
  whatever prompt the model was actually asked. :func:`inclusion_prompt` takes the question as an
  argument; pass :data:`LMMS_OWC_QUESTION` to reproduce lmms-owc exactly.
- lmms-owc generates one prompt at a time; :class:`LLMJudge` batches with left padding. Greedy
  decoding makes the two agree in float32; in bfloat16, padding can change rounding and, rarely,
  a reply.
- The judge's reply is stripped before parsing by default; lmms-owc compares the raw reply to
  "0"/"1", which ``reply="raw"`` reproduces (:func:`read_reply`).
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from classbench.backends.devices import dtype_name, resolve_device, resolve_dtype

LMMS_OWC_QUESTION = "What type of object is in this photo?"

INCLUSION_PROMPT = (
    "You are a model that determines whether an answer is a good reply to a question"
    " given also its target value.\n"
    "\n"
    "This is the question: {question}\n"
    "This is the answer: {answer}\n"
    "This is the target value: {target}\n"
    "\n"
    "If the answer describes the target, reply positively."
    " If the answer includes the target value or a synonym of it, reply positively."
    " If the target is generic but it is related to the answer, reply positively."
    ' Reply only with "1" if yes, or "0" if no.'
)

PAIRWISE_PROMPT = (
    "You are a model that discriminates whether labels A or B better align with a target"
    " value.\n"
    "\n"
    "This is label A: {answer_a}\n"
    "This is label B: {answer_b}\n"
    "This is the target value: {target}\n"
    "\n"
    "Does A align better with the target value? Does B align better with the target value?"
    ' Reply only with "1" if A wins over B, or "0" if B wins over A.'
)

# Llama 3.x chat templates put today's date in their default system prompt, which would make the
# judge's input (and so its replies and any cache keyed on them) depend on the day it runs. This
# is the date those templates fall back to when no clock is available; other templates ignore it.
DEFAULT_CHAT_TEMPLATE_KWARGS: dict[str, Any] = {"date_string": "26 Jul 2024"}


def _prompt_version(name: str, template: str) -> str:
    """A name plus a short hash of the template, so that any wording change shows in metadata."""
    digest = hashlib.sha256(template.encode("utf-8")).hexdigest()[:12]
    return f"{name}@{digest}"


INCLUSION_PROMPT_VERSION = _prompt_version("lmms-owc/textual_inclusion_llama32", INCLUSION_PROMPT)
PAIRWISE_PROMPT_VERSION = _prompt_version("lmms-owc/elo_score_llama32", PAIRWISE_PROMPT)


def _text(value: str | None) -> str:
    # A missing answer is shown to the judge as an empty one (it will say "0"); callers that
    # track failed generations should leave those samples out rather than score them.
    return "" if value is None else str(value)


def inclusion_prompt(question: str, answer: str | None, target: str) -> str:
    """The lmms-owc inclusion prompt for one (question, answer, target)."""
    return INCLUSION_PROMPT.format(
        question=_text(question), answer=_text(answer), target=_text(target)
    )


def pairwise_prompt(answer_a: str | None, answer_b: str | None, target: str) -> str:
    """The lmms-owc Elo judge prompt for one (answer A, answer B, target)."""
    return PAIRWISE_PROMPT.format(
        answer_a=_text(answer_a), answer_b=_text(answer_b), target=_text(target)
    )


# How a judge's reply is read: ``stripped`` ignores surrounding whitespace; ``raw`` compares the
# reply as generated, as lmms-owc does (``score in ["0", "1"]``), so " 1" or "1\n" is no verdict.
REPLY_MODES = ("stripped", "raw")


def read_reply(raw: str | None, reply: str = "stripped") -> str | None:
    """The reply as the verdict is read from it (see :data:`REPLY_MODES`)."""
    if reply not in REPLY_MODES:
        raise ValueError(f"unknown reply mode {reply!r} (known: {', '.join(REPLY_MODES)})")
    if raw is None or reply == "raw":
        return raw
    return raw.strip()


def parse_inclusion(raw: str | None, reply: str = "stripped") -> float:
    """1.0 if the judge replied "1" (read as ``reply`` says), else 0.0."""
    return 1.0 if read_reply(raw, reply) == "1" else 0.0


class LLMJudge:
    """A chat LLM that answers judge prompts greedily, in batches, one user turn per prompt.

    Identical prompts are generated once. Empty or ``None`` answers are judged like any other (the
    prompt shows an empty answer), so callers should drop samples whose generation failed.
    """

    def __init__(
        self,
        checkpoint: str,
        *,
        revision: str | None = None,
        dtype: Any = "auto",
        device: str = "auto",
        batch_size: int = 16,
        max_new_tokens: int = 16,
        system_prompt: str | None = None,
        chat_template_kwargs: dict[str, Any] | None = None,
        progress: bool = True,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.checkpoint = checkpoint
        self.revision = revision
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.system_prompt = system_prompt
        self.chat_template_kwargs = dict(
            DEFAULT_CHAT_TEMPLATE_KWARGS if chat_template_kwargs is None else chat_template_kwargs
        )
        self.progress = progress

        # Left padding keeps every prompt's last token next to its first generated token.
        self.tokenizer = AutoTokenizer.from_pretrained(
            checkpoint, revision=revision, padding_side="left"
        )
        if self.tokenizer.pad_token is None:
            # Llama 3.x ships without a pad token; lmms-owc pads with EOS as well.
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # Any, not the model class: None once closed.
        self.model: Any = AutoModelForCausalLM.from_pretrained(
            checkpoint, revision=revision, dtype=self.dtype
        )
        # functools.wraps on a method: mypy reads transformers' .to() unbound
        self.model.to(self.device)  # type: ignore[arg-type]
        self.model.eval()
        self._torch = torch

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], **settings: Any) -> LLMJudge:
        """The judge of a model registry entry (backend ``text``); ``settings`` (the study's
        judge settings: ``batch_size``, ``max_new_tokens``, ...) override the entry's keys."""
        options = {
            "revision": spec.get("revision"),
            "dtype": spec.get("dtype", "auto"),
            "batch_size": int(spec.get("batch_size") or 16),
        }
        return cls(str(spec["checkpoint"]), **{**options, **settings})

    def __enter__(self) -> LLMJudge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _chat_text(self, prompt: str) -> str:
        messages = []
        if self.system_prompt is not None:
            messages.append({"role": "system", "content": self.system_prompt})
        messages.append({"role": "user", "content": prompt})
        text = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False, **self.chat_template_kwargs
        )
        return str(text)  # tokenize=False: the rendered prompt

    def _generate_batch(self, texts: list[str]) -> list[str]:
        torch = self._torch
        # The chat template already holds BOS (where the model uses one); adding it again would
        # double it.
        batch = self.tokenizer(
            texts, add_special_tokens=False, padding=True, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode():
            output = self.model.generate(
                **batch,
                do_sample=False,
                # Instruct checkpoints often ship sampling defaults; unset them so greedy decoding
                # does not warn about ignored settings.
                temperature=None,
                top_p=None,
                top_k=None,
                max_new_tokens=self.max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        # Kept as generated: how whitespace around a verdict counts is the reader's choice.
        return self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)

    def complete(self, prompts: Sequence[str]) -> list[str]:
        """The judge's reply to each prompt as generated (special tokens dropped), in input
        order."""
        if self.model is None:
            raise RuntimeError("the judge has been closed")
        unique = list(dict.fromkeys(prompts))
        if not unique:
            return []
        texts = [self._chat_text(prompt) for prompt in unique]
        # Batching prompts of similar length wastes less compute on padding; results do not
        # depend on the order (greedy, left padding).
        lengths = [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: (-lengths[i], i))
        replies: dict[str, str] = {}
        starts = range(0, len(order), self.batch_size)
        for start in tqdm(starts, desc="judge", unit="batch", disable=not self.progress):
            rows = order[start : start + self.batch_size]
            outputs = self._generate_batch([texts[i] for i in rows])
            for i, reply in zip(rows, outputs, strict=True):
                replies[unique[i]] = reply
        return [replies[prompt] for prompt in prompts]

    def inclusion(
        self,
        questions: str | Sequence[str],
        answers: Sequence[str | None],
        targets: Sequence[str],
        *,
        reply: str = "stripped",
    ) -> tuple[list[str], np.ndarray]:
        """Raw replies and 0/1 inclusion scores, one per (question, answer, target).

        ``questions`` may be one string used for every sample (e.g. :data:`LMMS_OWC_QUESTION`);
        ``reply`` says how a reply is read (:data:`REPLY_MODES`).
        """
        if isinstance(questions, str):
            questions = [questions] * len(answers)
        if not len(questions) == len(answers) == len(targets):
            raise ValueError("questions, answers and targets must have the same length")
        prompts = [
            inclusion_prompt(q, a, t) for q, a, t in zip(questions, answers, targets, strict=True)
        ]
        raw = self.complete(prompts)
        scores = np.array([parse_inclusion(text, reply) for text in raw], dtype=np.float64)
        return raw, scores

    def pairwise(
        self,
        answers_a: Sequence[str | None],
        answers_b: Sequence[str | None],
        targets: Sequence[str],
    ) -> list[str]:
        """Raw replies to the pairwise prompt ("1": A wins, "0": B wins, anything else: draw)."""
        if not len(answers_a) == len(answers_b) == len(targets):
            raise ValueError("answers_a, answers_b and targets must have the same length")
        prompts = [
            pairwise_prompt(a, b, t) for a, b, t in zip(answers_a, answers_b, targets, strict=True)
        ]
        return self.complete(prompts)

    def info(self) -> dict[str, Any]:
        """What identifies this judge's outputs."""
        import transformers

        return {
            "checkpoint": self.checkpoint,
            "revision": self.revision,
            "dtype": dtype_name(self.dtype),
            "device": self.device,
            "max_new_tokens": self.max_new_tokens,
            "system_prompt": self.system_prompt,
            "chat_template_kwargs": dict(self.chat_template_kwargs),
            "decoding": "greedy",
            "inclusion_prompt": INCLUSION_PROMPT_VERSION,
            "pairwise_prompt": PAIRWISE_PROMPT_VERSION,
            "transformers": transformers.__version__,
        }

    def close(self) -> None:
        """Free the model (and its GPU memory)."""
        if getattr(self, "model", None) is None:
            return
        self.model = None
        gc.collect()
        if self._torch.cuda.is_available():
            self._torch.cuda.empty_cache()
