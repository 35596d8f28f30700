"""Prepare a dataset from its registry entry into the on-disk contract, verified, all or nothing."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from classbench.data.label_sets import attach_label_sets, describe_label_sets, read_label_sets
from classbench.data.manifest import (
    IMAGE_HASH_COLUMN,
    DatasetError,
    DatasetFiles,
    check_counts,
    file_sha256,
)
from classbench.data.sources import FETCHERS, REQUIRED_KEYS, curate_classes
from classbench.data.sources.curation import label_order_by_name
from classbench.data.sources.download import describe, fetch_file
from classbench.data.sources.pins import floating_references
from classbench.demo.images import GENERATORS, synthetic_image
from classbench.images import ImageLoadError, load_image
from classbench.io import write_json, write_parquet

log = logging.getLogger(__name__)


def prepare_dataset(
    name: str,
    spec: Mapping[str, Any],
    out_dir: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
) -> dict:
    """Build dataset ``name`` from its registry ``spec`` into ``out_dir`` and return its meta.

    Files are written in a temporary sibling folder, every image is decoded once, the counts
    are checked against ``spec["expected"]``, and only then is the folder moved into place with
    the manifest last, so an interrupted or failed preparation leaves nothing a later rule would
    take for a dataset. Downloads (archives, split files, hub caches) go to ``cache_dir``, by
    default ``downloads/`` next to the datasets folder (``resources/downloads``); they are kept
    across runs and failures, the staging folder never is.
    """
    target = Path(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        source = spec["source"]
        kind = source["kind"]
        provenance = None
        if kind == "synthetic":
            manifest, classes = _build_synthetic(name, spec, staging)
        elif kind in FETCHERS:
            missing = [key for key in REQUIRED_KEYS[kind] if key not in source]
            if missing:
                raise DatasetError(
                    f"dataset '{name}': source kind '{kind}' needs {', '.join(missing)}"
                )
            _warn_floating(name, spec)
            cache = Path(cache_dir) if cache_dir is not None else default_cache_dir(target)
            manifest, source_names = FETCHERS[kind](name, dict(spec), staging, cache)
            provenance = manifest.attrs.pop("provenance", None)
            manifest.attrs.clear()
            reordered = label_order_by_name(name, spec, source_names)
            if reordered is not None:
                source_names, new_index = reordered
                manifest = manifest.assign(label_idx=[new_index[i] for i in manifest["label_idx"]])
            classes = curate_classes(name, spec, source_names)
            manifest = manifest.assign(label=[classes[i] for i in manifest["label_idx"]])
        else:
            raise DatasetError(f"dataset '{name}': unknown source kind '{kind}'")
        if spec.get("label_sets"):
            cache = Path(cache_dir) if cache_dir is not None else default_cache_dir(target)
            manifest, facts = _with_label_sets(name, spec["label_sets"], manifest, classes, cache)
            provenance = {**(provenance or {}), "label_sets": facts}
        meta = _verify_and_describe(name, spec, staging, manifest, classes, provenance)
        _publish(staging, target)
        return meta
    finally:
        shutil.rmtree(staging, ignore_errors=True)


_WARNED_FLOATING: set[str] = set()


def _warn_floating(name: str, spec: Mapping[str, Any]) -> None:
    """Say once per dataset that an unpinned source can change under the study."""
    floating = floating_references(spec["source"])
    if floating and name not in _WARNED_FLOATING:
        _WARNED_FLOATING.add(name)
        log.warning(
            "dataset %s: not pinned (%s): the source can change upstream between runs; "
            "run `classbench datasets pin %s` where the hub can be reached",
            name, "; ".join(floating), name,
        )  # fmt: skip


def default_cache_dir(out_dir: str | os.PathLike) -> Path:
    """``resources/downloads`` for ``resources/datasets/<name>``: the download cache."""
    return Path(out_dir).absolute().parent.parent / "downloads"


def _with_label_sets(
    name: str,
    resource: Mapping[str, Any],
    manifest: pd.DataFrame,
    classes: list[str],
    cache: Path,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The manifest with its ``label_sets`` column, and where they came from with their counts
    (for ``meta.json``); the file is fetched and verified like any other source file."""
    path, digest = fetch_file(name, resource, cache, what="label-set file")
    sets = read_label_sets(name, path, resource["format"])
    manifest = attach_label_sets(name, manifest, classes, sets, resource["format"])
    facts = {"file": describe(resource), "sha256": digest, "format": resource["format"]}
    return manifest, {**facts, **describe_label_sets(manifest)}


def _build_synthetic(
    name: str, spec: Mapping[str, Any], root: Path
) -> tuple[pd.DataFrame, list[str]]:
    source = spec["source"]
    generator = source["generator"]
    if generator not in GENERATORS:
        raise DatasetError(f"dataset '{name}': unknown synthetic generator '{generator}'")
    classes = list(spec["classes"])
    per_class = int(source.get("images_per_class", 8))
    seed = int(source.get("seed", 0))
    size = int(source.get("size", 96))
    (root / "images").mkdir()
    rows = []
    progress = tqdm(total=len(classes) * per_class, desc=f"draw {name}", unit="img")
    for label_idx, label in enumerate(classes):
        for index in range(per_class):
            relative = f"images/{label.replace(' ', '_')}_{index:04d}.png"
            synthetic_image(generator, label, index, seed, size).save(root / relative)
            sample_id = f"{label.replace(' ', '_')}_{index:04d}"
            rows.append((sample_id, relative, label, label_idx))
            progress.update()
    progress.close()
    manifest = pd.DataFrame(rows, columns=["sample_id", "image", "label", "label_idx"])
    return manifest, classes


def _verify_and_describe(
    name: str,
    spec: Mapping[str, Any],
    root: Path,
    manifest: pd.DataFrame,
    classes: list[str],
    provenance: dict | None = None,
) -> dict:
    check_counts(name, manifest, classes, spec.get("expected"))
    if manifest["sample_id"].duplicated().any():
        raise DatasetError(f"dataset '{name}': duplicate sample ids")
    checksums = {}
    for relative in tqdm(manifest["image"], desc=f"verify {name}", unit="img"):
        path = root / relative
        try:
            load_image(path)
        except ImageLoadError as err:
            raise DatasetError(f"dataset '{name}': image {relative} is unreadable: {err}") from err
        checksums[relative] = file_sha256(path)
    files = DatasetFiles(root)
    write_parquet(pd.DataFrame({"label_idx": range(len(classes)), "label": classes}), files.classes)
    meta = {
        "name": name,
        "source": dict(spec["source"]),
        "revision": spec["source"].get("revision"),
        "group": spec.get("group"),
        "noun": spec.get("noun"),
        "nouns": spec.get("nouns"),
        "counts": {"images": len(manifest), "classes": len(classes)},
        "checksums": checksums,
    }
    for key, path in (
        ("classes_file", spec.get("classes_file")),
        ("label_order", (spec.get("label_order") or {}).get("file")),
    ):
        if path:
            meta[key] = {"path": str(path), "sha256": file_sha256(path)}
    if provenance:
        # Where the bytes came from (archive and split-file digests, loader fingerprints).
        meta["provenance"] = provenance
    write_json(meta, files.meta)
    hashes = [checksums[relative] for relative in manifest["image"]]
    write_parquet(manifest.assign(**{IMAGE_HASH_COLUMN: hashes}), root / ".manifest.parquet")
    return meta


def _publish(staging: Path, target: Path) -> None:
    """Move the verified folder into place; the manifest lands last."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for entry in staging.iterdir():
        if entry.name != ".manifest.parquet":
            os.replace(entry, target / entry.name)
    os.replace(staging / ".manifest.parquet", DatasetFiles(target).manifest)
