"""Model backends: every model the pipeline runs, and the one registry that names them.

A model registry entry's ``backend`` is a key of :data:`BACKENDS`. Each entry says what the
backend does (its role), which Python package it needs, the defaults of its spec keys, and where
its implementation lives. Everything that picks a backend class (:func:`load_model`), checks a
backend's package, or plans which models answer which protocol reads this table; the schema's
``backend`` enum lists the same names (a test pins the two together).

Implementations are imported only when a model is loaded, so reading the registry, which the
workflow does when it parses the config, imports neither torch nor transformers.

Adding a backend: write its module (a class or function that takes a model registry entry), add
one :class:`Backend` here, add its name to the ``backend`` enum of
``workflow/schemas/models.schema.yaml``, and document it in ``docs/backends.md``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from classbench.backends.base import BackendError

# What a backend's models do in the pipeline.
GENERATIVE = "generative"  # answer a prompt about an image: every generative protocol
EMBEDDING = "embedding"  # embed images and class names: option mining and zero-shot
CLASSIFIER = "classifier"  # logits over their own classes: the supervised baseline
JUDGE = "judge"  # a text LLM that judges answers (LLM inclusion, Elo games)
NLI = "nli"  # maps label-list answers onto a candidate by natural-language inference
ROLES = (GENERATIVE, EMBEDDING, CLASSIFIER, JUDGE, NLI)


@dataclass(frozen=True)
class Backend:
    """One way to run a model."""

    name: str
    role: str
    # ``module:attribute`` (``module:Class.method`` too), called as ``attribute(spec,
    # **settings)`` with the registry entry.
    loader: str
    # The import name of the package it cannot run without (checked when a study is loaded).
    package: str
    # Protocols its models answer without generating (the generative role answers the others).
    protocols: tuple[str, ...] = ()
    # The model runs elsewhere (a server); the job only sends requests and needs no GPU.
    remote: bool = False
    # Spec keys filled in when a registry entry leaves them out.
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def implementation(self) -> Any:
        """The class or function that loads this backend's models (imported now)."""
        module, _, path = self.loader.partition(":")
        target: Any = importlib.import_module(module)
        for attribute in path.split("."):
            target = getattr(target, attribute)
        return target

    def load(self, spec: Mapping[str, Any], **settings: Any) -> Any:
        """A model of this backend built from its registry entry; ``settings`` are run-time
        options the entry does not hold (a judge's batch size, a device)."""
        return self.implementation()(spec, **settings)


BACKENDS: dict[str, Backend] = {
    backend.name: backend
    for backend in (
        Backend(
            "hf",
            GENERATIVE,
            "classbench.backends.hf:HFBackend",
            "transformers",
            defaults={"batch_size": 8, "dtype": "auto", "image_first": True, "max_pixels": None},
        ),
        Backend(
            "openai",
            GENERATIVE,
            "classbench.backends.openai_compat:OpenAIBackend",
            "openai",
            remote=True,
        ),
        Backend("vllm", GENERATIVE, "classbench.backends.vllm_engine:VLLMBackend", "vllm"),
        Backend(
            "contrastive",
            EMBEDDING,
            "classbench.backends.contrastive:ContrastiveEncoder.from_spec",
            "transformers",
            protocols=("zeroshot",),
            defaults={"batch_size": 64, "dtype": "auto", "class_template": "an image of a {}"},
        ),
        Backend(
            "classifier",
            CLASSIFIER,
            "classbench.backends.classifier:ImageClassifier.from_spec",
            "transformers",
            protocols=("supervised",),
            defaults={"batch_size": 64, "dtype": "auto"},
        ),
        Backend(
            "text",
            JUDGE,
            "classbench.backends.text_judge:LLMJudge.from_spec",
            "transformers",
            defaults={"batch_size": 16, "dtype": "auto"},
        ),
        Backend(
            "nli",
            NLI,
            "classbench.backends.nli:load_nli_classifier",
            "transformers",
            defaults={"batch_size": 32},
        ),
    )
}


def backend_names(role: str) -> frozenset[str]:
    """The names of the backends with ``role``."""
    if role not in ROLES:
        raise ValueError(f"unknown backend role {role!r}; expected one of {ROLES}")
    return frozenset(name for name, backend in BACKENDS.items() if backend.role == role)


def protocol_backends() -> dict[str, frozenset[str]]:
    """Protocol -> the backends that answer it without generating (zeroshot, supervised)."""
    answered: dict[str, set[str]] = {}
    for name, backend in BACKENDS.items():
        for protocol in backend.protocols:
            answered.setdefault(protocol, set()).add(name)
    return {protocol: frozenset(names) for protocol, names in answered.items()}


def get_backend(name: str) -> Backend:
    """The registry entry of backend ``name``; :class:`BackendError` if there is none."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise BackendError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}") from None


def load_model(spec: Mapping[str, Any], *, role: str, **settings: Any) -> Any:
    """The model of a registry entry, loaded by the backend its ``backend`` key names.

    ``role`` is what the caller needs it for; a backend with another role is refused before
    anything is loaded (a contrastive encoder cannot answer prompts, a VLM cannot judge).
    """
    backend = get_backend(spec["backend"])
    if backend.role != role:
        raise BackendError(
            f"backend {backend.name!r} loads {backend.role} models, but a {role} model is "
            f"needed here (backends: {', '.join(sorted(backend_names(role)))})"
        )
    return backend.load(spec, **settings)


__all__ = [
    "BACKENDS",
    "CLASSIFIER",
    "EMBEDDING",
    "GENERATIVE",
    "JUDGE",
    "NLI",
    "ROLES",
    "Backend",
    "backend_names",
    "get_backend",
    "load_model",
    "protocol_backends",
]
