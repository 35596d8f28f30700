"""Shared pieces of the protocols: filling prompt templates from dataset facts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def fill(template: str, dataset: Mapping[str, Any], **extra: str) -> str:
    """Format a prompt template with the dataset's nouns (``{noun}``, ``{nouns}``) and extras."""
    values = {
        "noun": dataset.get("noun") or "object",
        "nouns": dataset.get("nouns") or f"{dataset.get('noun') or 'object'}s",
        **extra,
    }
    return template.format(**values)
