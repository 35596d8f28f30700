"""What of a source entry can change upstream: hub revisions that are not commits, files without
a checksum. Preparation warns about them; ``classbench datasets pin`` fixes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FULL_COMMIT = re.compile(r"^[0-9a-f]{40}$")
# A URL that names a commit (GitHub raw links): its content cannot change.
_COMMIT_IN_URL = re.compile(r"/[0-9a-f]{40}/")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
FILE_KEYS = ("archive", "split_file", "classnames_file")


def is_hub_id(repo: Any) -> bool:
    """``org/name`` that is not a local folder (packaged builders such as ``parquet`` have no
    slash)."""
    text = str(repo)
    return bool(_HUB_ID.match(text)) and not Path(text).exists()


@dataclass(frozen=True)
class PinTarget:
    """One value ``datasets pin`` may write, at ``keys`` below the entry's ``source``."""

    keys: tuple[str, ...]
    what: str  # "revision" or "sha256"
    current: str | None
    resource: Mapping[str, Any]  # the source (hub) or the file resource it belongs to

    @property
    def pinned(self) -> bool:
        if self.what == "revision":
            return bool(self.current and FULL_COMMIT.match(str(self.current)))
        return bool(self.current)

    def describe(self) -> str:
        where = ".".join(self.keys)
        if "repo" in self.resource:
            return f"{where} of {self.resource['repo']} is {self.current or 'unset'}"
        return f"{where} of {self.resource.get('url') or self.resource.get('path')} is unset"


def pin_targets(source: Mapping[str, Any]) -> Iterator[PinTarget]:
    """Every revision and checksum of ``source`` that a pinned entry carries."""
    if source.get("kind") == "hub" and is_hub_id(source.get("repo")):
        yield PinTarget(("revision",), "revision", source.get("revision"), source)
    for key in FILE_KEYS:
        resource = source.get(key)
        if not isinstance(resource, Mapping):
            continue
        if "repo" in resource:
            yield PinTarget((key, "revision"), "revision", resource.get("revision"), resource)
        yield PinTarget((key, "sha256"), "sha256", resource.get("sha256"), resource)


def floating_references(source: Mapping[str, Any]) -> list[str]:
    """Human descriptions of what can still change: ``[]`` for a fully pinned source."""
    floating = []
    for target in pin_targets(source):
        if target.pinned:
            continue
        if target.what == "sha256":
            resource = target.resource
            if "repo" in resource and FULL_COMMIT.match(str(resource.get("revision") or "")):
                continue  # a file at a commit cannot change
            if _COMMIT_IN_URL.search(str(resource.get("url", ""))):
                continue
        floating.append(target.describe())
    return floating
