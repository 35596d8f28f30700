"""Protocols: how a sample is put to a model, and how the model's output becomes an answer.

The generative protocols (:data:`PROTOCOLS`: ``open``, ``labels``, ``mcq``) are each one small
module with two functions:

- ``build_requests(manifest, classes, task, dataset, *, dataset_name, seed, options)``: one
  request per sample (``sample_id``, ``image``, ``label``, ``prompt``, ``options`` as presented);
- ``parse(raw, options, task)``: the model's text as ``{"answer": ..., "parse_status": ...}``
  plus the protocol's extras.

The closed ones (:data:`CLOSED_PROTOCOLS`) also define ``answer_choices`` and ``choice_text``,
which constrained decoding and log-likelihood answers use. Adding a generative protocol means
adding such a module here and naming it in :data:`PROTOCOLS` and in the task schema.

The other two (:data:`EMBEDDING_PROTOCOLS`) generate nothing and write their predictions
directly: ``zeroshot`` (:func:`~classbench.protocols.zeroshot.predict_zeroshot`, a contrastive
encoder's most similar class) and ``supervised``
(:func:`~classbench.protocols.supervised.predict_supervised`, an ImageNet classifier's answer).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from classbench.protocols import labels, mcq, open_world

PROTOCOLS: dict[str, ModuleType] = {"open": open_world, "labels": labels, "mcq": mcq}

# Protocols answered with no generation: ``zeroshot`` by contrastive encoders from embeddings
# (classbench.protocols.zeroshot), ``supervised`` by ImageNet classifiers from their logits
# (classbench.protocols.supervised).
EMBEDDING_PROTOCOLS = frozenset({"zeroshot", "supervised"})
# Protocols whose answer is one of the presented options: they may be answered by constrained
# decoding or by log-likelihood (``answer_mode``), and define ``answer_choices`` / ``choice_text``.
CLOSED_PROTOCOLS = frozenset({"labels", "mcq"})


def protocol_module(name: str) -> ModuleType:
    """The module implementing generative protocol ``name``."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise KeyError(f"unknown protocol '{name}' (known: {', '.join(PROTOCOLS)})") from None


ANSWER_MODES = ("generate", "constrained", "loglik")


def answer_mode_problem(task: Mapping[str, Any], model_spec: Mapping[str, Any]) -> str | None:
    """Why a model cannot answer a task in the task's ``answer_mode``, or None if it can.

    ``constrained`` needs a backend that restricts decoding to the presented choices (vLLM's
    structured choice, an OpenAI-compatible server with ``constrained_choice``); the in-process
    ``hf`` backend cannot, and must not silently answer unconstrained. ``loglik`` needs the
    ``hf`` backend's ``score_options``.
    """
    mode = task.get("answer_mode", "generate")
    if mode == "generate":
        return None
    if mode not in ANSWER_MODES:
        return f"unknown answer_mode '{mode}' (known: {', '.join(ANSWER_MODES)})"
    if task["protocol"] not in CLOSED_PROTOCOLS:
        protocol = task["protocol"]
        return f"answer_mode '{mode}' needs a closed protocol (labels, mcq), not '{protocol}'"
    backend = model_spec["backend"]
    if mode == "loglik" and backend != "hf":
        return (
            f"answer_mode 'loglik' scores the options with the hf backend's log-likelihoods; "
            f"backend '{backend}' has none (use answer_mode generate or constrained)"
        )
    if mode == "constrained":
        if backend == "hf":
            return (
                "answer_mode 'constrained' needs constrained decoding, which the hf backend does "
                "not have; use a vllm or openai model, or answer_mode generate or loglik"
            )
        if backend == "openai" and (
            not model_spec.get("constrained_choice") or model_spec.get("send_extra_body") is False
        ):
            return (
                "answer_mode 'constrained' needs the openai model's constrained_choice "
                "(structured_outputs or guided_choice) and send_extra_body left on"
            )
    return None
