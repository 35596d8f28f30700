"""Multi-label ground truth: each image's set of correct labels, from a file preparation fetches.

A dataset entry names the file under ``label_sets`` (a file like any other source: ``url``,
``repo`` + ``filename`` or ``path``, pinned by ``sha256``) with its ``format``:

- ``real``: ImageNet-ReaL's ``real.json`` (Beyer et al. 2020, "Are we done with ImageNet?"),
  a list of 50,000 lists of ImageNet class indices in validation order: entry ``i`` belongs to
  ``ILSVRC2012_val_{i+1:08d}``; an empty list means no label was judged valid for the image;
- ``by_sample``: a JSON object ``{sample_id: [label, ...]}`` whose labels are class indices or
  class names of the dataset.

Preparation writes the sets into the manifest as ``label_sets``: the class names, in the file's
order (possibly none). Every image of the dataset must have an entry; an unknown class is an
error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from classbench.data.manifest import DatasetError

FORMATS = ("real", "by_sample")
_IMAGENET_VAL = re.compile(r"ILSVRC2012_val_(\d{8})")


def read_label_sets(name: str, path: str | Path, fmt: str) -> dict[str, list[Any]]:
    """The label sets of a file, keyed by sample id (``real``: the ImageNet file stem)."""
    if fmt not in FORMATS:
        raise DatasetError(f"dataset '{name}': unknown label-set format '{fmt}' (known: {FORMATS})")
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"dataset '{name}': cannot read the label sets {path}: {err}") from err
    if fmt == "real":
        if not isinstance(data, list) or not all(isinstance(entry, list) for entry in data):
            raise DatasetError(f"dataset '{name}': a 'real' label-set file is a list of lists")
        return {f"ILSVRC2012_val_{i + 1:08d}": entry for i, entry in enumerate(data)}
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise DatasetError(f"dataset '{name}': a 'by_sample' label-set file maps ids to lists")
    return {str(key): value for key, value in data.items()}


def attach_label_sets(
    name: str,
    manifest: pd.DataFrame,
    classes: Sequence[str],
    sets: Mapping[str, Sequence[Any]],
    fmt: str,
) -> pd.DataFrame:
    """The manifest with a ``label_sets`` column of class names, one list per image."""
    index_of = {label: i for i, label in enumerate(classes)}
    column = []
    for sample_id, image in zip(manifest["sample_id"], manifest["image"], strict=True):
        key = _key(fmt, str(sample_id), str(image))
        if key is None or key not in sets:
            raise DatasetError(f"dataset '{name}': image {sample_id} has no label set")
        names = []
        for label in sets[key]:
            if isinstance(label, int) and not isinstance(label, bool):
                if not 0 <= label < len(classes):
                    raise DatasetError(
                        f"dataset '{name}': image {sample_id}: label set class {label} outside "
                        f"0..{len(classes) - 1}"
                    )
                names.append(classes[label])
            elif isinstance(label, str) and label in index_of:
                names.append(label)
            else:
                raise DatasetError(
                    f"dataset '{name}': image {sample_id}: unknown label-set class {label!r}"
                )
        column.append(names)
    return manifest.assign(label_sets=column)


def _key(fmt: str, sample_id: str, image: str) -> str | None:
    if fmt == "by_sample":
        return sample_id
    found = _IMAGENET_VAL.search(sample_id) or _IMAGENET_VAL.search(image)
    return found.group(0) if found else None


def describe_label_sets(manifest: pd.DataFrame) -> dict[str, int]:
    """Counts for ``meta.json``: images with a non-empty set, with none, and labels in all."""
    sizes = manifest["label_sets"].map(len)
    return {
        "images_with_labels": int((sizes > 0).sum()),
        "images_without_label": int((sizes == 0).sum()),
        "labels": int(sizes.sum()),
    }


def label_sets_by_id(manifest: pd.DataFrame) -> dict[str, Any] | None:
    """Each sample id's label set, as scoring takes them; None for a dataset without sets."""
    if "label_sets" not in manifest.columns:
        return None
    return dict(zip(manifest["sample_id"].astype(str), manifest["label_sets"], strict=True))
