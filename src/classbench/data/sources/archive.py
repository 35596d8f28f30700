"""Source kind ``archive``: an original archive plus a split file.

Spec keys (``source:``): ``archive`` and ``split_file`` (each a file: ``url``, ``repo`` +
``filename`` [+ ``revision``], or ``path``; optional ``sha256``), ``split_format`` (``coop_json``,
``csv``, ``list``; see :mod:`classbench.data.sources.splits`), ``split``, ``label_from``,
``path_template``, ``image_root`` (the archive folder the split paths are relative to, e.g.
``101_ObjectCategories``), ``inner_archive`` (an archive inside the archive, extracted once to the
cache: Caltech101's zip wraps ``101_ObjectCategories.tar.gz``) and ``gated``.

Images keep their original bytes and their split-file path: ``images/<relpath>``. The sample id is
that path without its extension (``accordion__image_0001``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from classbench.data.manifest import DatasetError
from classbench.data.sources._common import attach_provenance, manifest_frame, safe_id
from classbench.data.sources.auth import hub_token
from classbench.data.sources.download import describe, fetch_file
from classbench.data.sources.extract import extract_members, extract_one, member_name, under_root
from classbench.data.sources.splits import read_split


def fetch(
    name: str, spec: Mapping[str, Any], root: Path, cache_dir: Path
) -> tuple[pd.DataFrame, list[str]]:
    """Write the split's images under ``root/images`` and return (manifest, source names)."""
    return fetch_from_archive(name, spec["source"], root, Path(cache_dir), by_stem=None)


def fetch_from_archive(
    name: str,
    source: Mapping[str, Any],
    root: Path,
    cache_dir: Path,
    by_stem: str | None,
) -> tuple[pd.DataFrame, list[str]]:
    """The shared body of ``archive`` and ``midframes``.

    With ``by_stem`` (a file extension such as ``.jpg``), split entries are matched to archive
    members by file stem instead of by path: the split file may name ``v_X_g01_c01.avi`` videos
    while the archive holds ``v_X_g01_c01.jpg`` frames in differently named folders.
    """
    token = hub_token(name, source)
    split_file = source["split_file"]
    split_path, split_digest = fetch_file(name, split_file, cache_dir, token, "split file")
    entries, names = read_split(
        name,
        split_path,
        source["split_format"],
        source["split"],
        source.get("label_from"),
        source.get("path_template", "{key}"),
    )
    if not entries:
        raise DatasetError(f"dataset '{name}': split '{source['split']}' lists no images")
    archive_path, archive_digest = fetch_file(name, source["archive"], cache_dir, token, "archive")
    provenance: dict[str, Any] = {
        "split_file": {"from": describe(source["split_file"]), "sha256": split_digest},
        "archive": {"from": describe(source["archive"]), "sha256": archive_digest},
    }
    if source.get("inner_archive"):
        inner = source["inner_archive"]
        cached = cache_dir / "inner" / f"{archive_digest[:12]}-{posixpath.basename(inner)}"
        archive_path = extract_one(name, archive_path, inner, cached)
        provenance["inner_archive"] = inner

    relative_to_root = under_root(source.get("image_root", ""))
    images = root / "images"
    images.mkdir(exist_ok=True)
    if by_stem is None:
        keys = {relpath: relpath for relpath, _ in entries}
        key_of: Callable[[str], str | None] = relative_to_root

        def destination(key: str, member: str) -> Path:
            return images / key
    else:
        keys = {relpath: _stem(relpath) for relpath, _ in entries}

        def key_of(member: str) -> str | None:
            inside = relative_to_root(member)
            if inside is None or not inside.lower().endswith(by_stem.lower()):
                return None
            return _stem(inside)

        def destination(key: str, member: str) -> Path:
            return images / str(relative_to_root(member))

    if len(set(keys.values())) != len(keys):
        raise DatasetError(f"dataset '{name}': the split file lists an image twice")
    found = extract_members(name, archive_path, set(keys.values()), key_of, destination)
    missing = [relpath for relpath, key in keys.items() if key not in found]
    if missing:
        examples = ", ".join(missing[:5])
        raise DatasetError(
            f"dataset '{name}': {len(missing)} of {len(keys)} images of split "
            f"'{source['split']}' are not in the archive under '{source.get('image_root', '')}' "
            f"(e.g. {examples})"
        )
    rows = []
    for relpath, label_idx in entries:
        written = found[keys[relpath]]
        relative = written.relative_to(root).as_posix()
        sample_id = safe_id(posixpath.splitext(member_name(relative)[len("images/") :])[0])
        rows.append((sample_id, relative, names[label_idx], label_idx))
    return attach_provenance(manifest_frame(rows), provenance), names


def _stem(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path))[0]
