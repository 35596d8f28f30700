"""Source kinds: each turns a registry entry into images under ``root/images`` plus a manifest.

Every kind is one small module with one function,
``fetch(name, spec, root, cache_dir) -> (manifest, source class names)``; the manifest has the
contract's columns (``sample_id``, ``image`` relative to ``root``, ``label``, ``label_idx``) with
the labels as the source spells them. :func:`curate_classes` then applies the registry's curated
names, and :func:`classbench.data.prepare.prepare_dataset` verifies and publishes the result.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from classbench.data.sources import archive, hub, midframes
from classbench.data.sources.curation import LABEL_TRANSFORMS, curate_classes

Fetcher = Callable[[str, dict[str, Any], Path, Path], tuple[pd.DataFrame, list[str]]]

FETCHERS: dict[str, Fetcher] = {
    "hub": hub.fetch,
    "archive": archive.fetch,
    "midframes": midframes.fetch,
}

# The keys a kind cannot work without (the schema says the same; this guards direct library use).
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "hub": ("repo", "split"),
    "archive": ("archive", "split_file", "split_format", "split"),
    "midframes": ("archive", "split_file", "split"),
}

__all__ = ["FETCHERS", "LABEL_TRANSFORMS", "REQUIRED_KEYS", "Fetcher", "curate_classes"]
