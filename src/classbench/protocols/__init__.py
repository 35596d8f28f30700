"""Protocols: how a sample becomes a prompt, and how a model's text becomes an answer.

A protocol is one small module with two functions, ``build_requests`` and ``parse``; adding a
protocol means adding a module here and naming it in :data:`PROTOCOLS`.
"""

from __future__ import annotations

from types import ModuleType

from classbench.protocols import mcq, open_world

PROTOCOLS: dict[str, ModuleType] = {"open": open_world, "mcq": mcq}

# Protocols answered by contrastive encoders from embeddings, with no generation.
EMBEDDING_PROTOCOLS = frozenset({"zeroshot"})


def protocol_module(name: str) -> ModuleType:
    """The module implementing generative protocol ``name``."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise KeyError(f"unknown protocol '{name}' (known: {', '.join(PROTOCOLS)})") from None
