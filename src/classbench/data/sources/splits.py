"""Split files: which archive members form the evaluated split, and their labels.

Three formats:

- ``coop_json``: CoOp's ``split_zhou_<Dataset>.json``, ``{"train"|"val"|"test": [[relpath,
  label_idx, classname], ...]}``. Label ids and names come from the file; the class list is
  collected over all its splits.
- ``csv``: a table with ``split`` and ``filename`` columns (lmms-owc's ``split_coop.csv``); the
  label is the file's directory (``label_from: dir``), classes are the sorted directory names of
  all rows (ImageFolder order).
- ``list``: an official list file, one entry per line, ``<key> [label...]`` (FGVC-Aircraft's
  ``images_variant_test.txt``, UCF101's ``testlist01.txt``); ``path_template`` turns the key into a
  path (``"data/images/{key}.jpg"``), the label is the rest of the line (``label_from: rest``) or
  the path's directory (``label_from: dir``); classes are the sorted distinct labels.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path

import pandas as pd

from classbench.data.manifest import DatasetError
from classbench.data.sources._common import clean_relpath

SPLIT_FORMATS = ("coop_json", "csv", "list")
DEFAULT_LABEL_FROM = {"coop_json": "json", "csv": "dir", "list": "rest"}


def read_split(
    name: str,
    path: Path,
    fmt: str,
    split: str,
    label_from: str | None = None,
    path_template: str = "{key}",
) -> tuple[list[tuple[str, int]], list[str]]:
    """``([(relpath, source label id), ...], source class names)`` for ``split``."""
    label_from = label_from or DEFAULT_LABEL_FROM.get(fmt)
    if fmt == "coop_json":
        if label_from != "json":
            raise DatasetError(f"dataset '{name}': coop_json split files carry their labels")
        return _coop_json(name, path, split)
    if fmt == "csv":
        if label_from != "dir":
            raise DatasetError(f"dataset '{name}': csv split files take labels from 'dir'")
        return _csv(name, path, split)
    if fmt == "list":
        if label_from not in ("rest", "dir"):
            raise DatasetError(f"dataset '{name}': list split files take labels from rest or dir")
        return _list(name, path, label_from, path_template)
    raise DatasetError(f"dataset '{name}': unknown split format '{fmt}'")


def _coop_json(name: str, path: Path, split: str) -> tuple[list[tuple[str, int]], list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(f"dataset '{name}': split file {path.name} is not JSON: {err}") from err
    if not isinstance(data, dict) or split not in data:
        keys = ", ".join(sorted(data)) if isinstance(data, dict) else "none"
        raise DatasetError(f"dataset '{name}': split '{split}' not in {path.name} (has: {keys})")
    names: dict[int, str] = {}
    for part, items in data.items():
        for item in items:
            if not (isinstance(item, list) and len(item) == 3):
                raise DatasetError(
                    f"dataset '{name}': {path.name}/{part}: entries must be "
                    f"[relpath, label_idx, classname], found {item!r}"
                )
            _, label_idx, classname = item
            if names.setdefault(int(label_idx), str(classname)) != str(classname):
                raise DatasetError(
                    f"dataset '{name}': {path.name}: label {label_idx} is both "
                    f"'{names[int(label_idx)]}' and '{classname}'"
                )
    if sorted(names) != list(range(len(names))):
        raise DatasetError(f"dataset '{name}': {path.name}: label ids are not 0..{len(names) - 1}")
    entries = [(clean_relpath(name, relpath), int(idx)) for relpath, idx, _ in data[split]]
    return entries, [names[index] for index in range(len(names))]


def _csv(name: str, path: Path, split: str) -> tuple[list[tuple[str, int]], list[str]]:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise DatasetError(f"dataset '{name}': split file {path.name} is not CSV: {err}") from err
    missing = {"split", "filename"} - set(table.columns)
    if missing:
        raise DatasetError(f"dataset '{name}': {path.name} lacks columns {sorted(missing)}")
    paths = [clean_relpath(name, relpath) for relpath in table["filename"]]
    labels = [posixpath.dirname(relpath) for relpath in paths]
    if any(not label for label in labels):
        raise DatasetError(f"dataset '{name}': {path.name}: every filename needs a class folder")
    classes = sorted(set(labels))
    index = {label: i for i, label in enumerate(classes)}
    wanted = table["split"].to_numpy() == split
    if not wanted.any():
        found = ", ".join(sorted(set(table["split"])))
        raise DatasetError(f"dataset '{name}': split '{split}' not in {path.name} (has: {found})")
    entries = [
        (relpath, index[label])
        for relpath, label, keep in zip(paths, labels, wanted, strict=True)
        if keep
    ]
    return entries, classes


def _list(
    name: str, path: Path, label_from: str, path_template: str
) -> tuple[list[tuple[str, int]], list[str]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, rest = line.partition(" ")
        relpath = clean_relpath(name, path_template.format(key=key))
        label = rest.strip() if label_from == "rest" else posixpath.dirname(relpath)
        if not label:
            raise DatasetError(f"dataset '{name}': {path.name}:{number}: no label in {line!r}")
        rows.append((relpath, label))
    if not rows:
        raise DatasetError(f"dataset '{name}': split file {path.name} lists no images")
    classes = sorted({label for _, label in rows})
    index = {label: i for i, label in enumerate(classes)}
    return [(relpath, index[label]) for relpath, label in rows], classes
