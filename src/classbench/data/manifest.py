"""The prepared-dataset contract: ``manifest.parquet``, ``classes.parquet``, ``meta.json``, images.

A dataset folder is complete when ``manifest.parquet`` exists: preparation writes everything in a
temporary sibling folder, verifies it, and moves the manifest into place last.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from classbench.io import read_parquet
from classbench.seeding import rng_for

MANIFEST_COLUMNS = ["sample_id", "image", "label", "label_idx"]
# Each image's sha256, written once by preparation. Inference keys resumed answers on it, so a
# re-prepared image is asked again. Manifests from before it existed lack it and still load.
IMAGE_HASH_COLUMN = "image_sha256"
CLASSES_COLUMNS = ["label_idx", "label"]


class DatasetError(RuntimeError):
    """A dataset does not match its registry entry (counts, classes, undecodable images)."""


@dataclass(frozen=True)
class DatasetFiles:
    """Paths of one prepared dataset."""

    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.parquet"

    @property
    def classes(self) -> Path:
        return self.root / "classes.parquet"

    @property
    def meta(self) -> Path:
        return self.root / "meta.json"

    def image_path(self, relative: str) -> Path:
        return self.root / relative


def load_manifest(root: str | os.PathLike) -> pd.DataFrame:
    """The manifest of a prepared dataset, with ``image`` relative to ``root`` (and
    :data:`IMAGE_HASH_COLUMN` when preparation wrote it)."""
    frame = read_parquet(DatasetFiles(Path(root)).manifest)
    missing = [column for column in MANIFEST_COLUMNS if column not in frame.columns]
    if missing:
        raise DatasetError(f"{root}: manifest lacks columns {missing}")
    return frame


def load_classes(root: str | os.PathLike) -> list[str]:
    """Class names of a prepared dataset, indexed by ``label_idx``."""
    frame = read_parquet(DatasetFiles(Path(root)).classes).sort_values("label_idx")
    return frame["label"].tolist()


def load_meta(root: str | os.PathLike) -> dict:
    return json.loads(DatasetFiles(Path(root)).meta.read_text())


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stratified_limit(
    manifest: pd.DataFrame, limit: int | None, seed: int, dataset: str
) -> pd.DataFrame:
    """A seeded subset of about ``limit`` samples with every class represented proportionally.

    Each class keeps ``round(limit * share)`` samples (at least one while the budget allows),
    chosen by a generator keyed on the dataset and the class, so adding classes or samples to one
    class does not reshuffle the others. Order follows the original manifest.
    """
    if not limit or limit >= len(manifest):
        return manifest.reset_index(drop=True)
    counts = manifest["label_idx"].value_counts().sort_index()
    quota = _largest_remainder(counts.to_numpy(), limit)
    keep: list[np.ndarray] = []
    for (label_idx, _), take in zip(counts.items(), quota, strict=True):
        if take == 0:
            continue
        rows = np.flatnonzero(manifest["label_idx"].to_numpy() == label_idx)
        rng = rng_for(seed, "limit", dataset, int(label_idx))
        keep.append(np.sort(rng.choice(rows, size=int(take), replace=False)))
    chosen = np.sort(np.concatenate(keep)) if keep else np.array([], dtype=int)
    return manifest.iloc[chosen].reset_index(drop=True)


def _largest_remainder(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` across classes proportionally to ``counts`` (Hamilton's method)."""
    exact = counts / counts.sum() * total
    quota = np.minimum(np.floor(exact).astype(int), counts)
    remainder = total - quota.sum()
    # Hand the leftover samples to the largest fractional parts (stable: lower index first).
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    for index in order:
        if remainder <= 0:
            break
        if quota[index] < counts[index]:
            quota[index] += 1
            remainder -= 1
    if total >= len(counts):
        # Every class keeps at least one sample while the budget allows; the largest quota pays.
        for index in np.flatnonzero(quota == 0):
            quota[int(np.argmax(quota))] -= 1
            quota[index] += 1
    return quota


def check_counts(
    name: str, manifest: pd.DataFrame, classes: Sequence[str], expected: dict | None
) -> None:
    """Stop with both numbers when the prepared data disagrees with the registry."""
    if not expected:
        return
    want_classes = expected.get("classes")
    if want_classes is not None and len(classes) != want_classes:
        raise DatasetError(
            f"dataset '{name}': expected {want_classes} classes, found {len(classes)}"
        )
    want_images = expected.get("images")
    if want_images is not None and len(manifest) != want_images:
        raise DatasetError(
            f"dataset '{name}': expected {want_images} test images, found {len(manifest)}"
        )
