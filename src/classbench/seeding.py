"""Seeded randomness keyed by what it is for.

Every random choice in classbench (label subsets, option letter order, Elo game sampling, bootstrap)
draws from a generator keyed by (seed, *keys), so two runs, two models and two backends make the
same choice for the same sample, whatever order they visit the samples in.
"""

from __future__ import annotations

import hashlib

import numpy as np


def stable_hash(*keys: object) -> int:
    """A 64-bit integer that depends only on the keys' string forms (not on PYTHONHASHSEED)."""
    text = "\x1f".join(str(key) for key in keys)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def rng_for(seed: int, *keys: object) -> np.random.Generator:
    """A numpy generator determined by the seed and the keys."""
    return np.random.default_rng([seed & 0xFFFFFFFF, stable_hash(*keys)])
