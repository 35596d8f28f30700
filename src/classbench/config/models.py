"""What the study needs to know about a model's backend: which protocols it answers, which
package it needs, its defaults, and which of its settings can change an answer."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.util import find_spec
from typing import Any

from classbench.backends import (
    BACKENDS,
    CLASSIFIER,
    EMBEDDING,
    GENERATIVE,
    backend_names,
    protocol_backends,
)
from classbench.config.schema import ConfigError

# The backend sets are read from the backend registry, which names every backend once.
GENERATIVE_BACKENDS = backend_names(GENERATIVE)
EMBEDDING_BACKENDS = backend_names(EMBEDDING)
# Supervised image classifiers (ResNet, ViT): the `supervised` baseline on ImageNet-labelled sets.
CLASSIFIER_BACKENDS = backend_names(CLASSIFIER)
# The backends that answer each protocol without generation (the others are generative).
PROTOCOL_BACKENDS = protocol_backends()
# The model runs on a server elsewhere; its jobs only send requests.
REMOTE_BACKENDS = frozenset(name for name, backend in BACKENDS.items() if backend.remote)
BACKEND_PACKAGES = {name: backend.package for name, backend in BACKENDS.items()}
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    name: dict(backend.defaults) for name, backend in BACKENDS.items() if backend.defaults
}
# Model keys that cannot change an answer (how fast, where, documentation): left out of the
# params that trigger re-runs and of the resume fingerprint.
RUN_ONLY_MODEL_KEYS = frozenset(
    {
        "description", "resources", "batch_size", "chunk_size", "concurrency", "timeout_s",
        "max_retries", "backoff_s", "max_backoff_s", "gpu_memory_utilization", "params_b",
        "support", "support_note", "parity_of", "variant_of",
    }
)  # fmt: skip


def answer_relevant(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` without the keys that cannot change an answer."""
    return {key: value for key, value in spec.items() if key not in RUN_ONLY_MODEL_KEYS}


def check_backend_installed(model: str, backend: str, source: str) -> None:
    """Raise :class:`ConfigError` when ``backend``'s Python package is not importable here."""
    package = BACKEND_PACKAGES.get(backend)
    if package and find_spec(package) is None:
        raise ConfigError(
            f"{source}: {model}.backend: '{backend}' needs the Python package '{package}', "
            "which is not installed"
        )
