"""Curated class names: the registry decides how a class is called, not the source.

Sources spell classes their own way ("AM General Hummer SUV 2000", "001.Black_footed_Albatross",
"apse indoor"); the benchmarks we reproduce use curated spellings (CoOp's "2000 AM General
Hummer SUV", OpenAI CLIP's ImageNet names, CoOp's "indoor apse"). A registry entry curates with,
in this order of precedence:

- ``label_order``: ``{file, match}``, when the source numbers its classes differently from the
  benchmark. The file lists the benchmark's classes in its label order; each source class is
  matched BY NAME to the one line whose ``match``-transformed text equals it, its samples take that
  line's index, and the file's lines replace the source's names before the rules below (so a
  mirror whose ClassLabel order is not the standard one cannot swap two classes silently);
- ``classes`` (inline) or ``classes_file`` (one name per line): the final names, used as-is and
  index-aligned with the source's label ids;
- ``class_map``: ``{source name: curated name}`` for the classes it names (every key must exist);
- ``label_transform``: a list of named rules applied, in order, to every name ``class_map`` does
  not cover.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from classbench.data.manifest import DatasetError

log = logging.getLogger(__name__)


def _year_first(name: str) -> str:
    # CoOp's StanfordCars rule: the trailing model year moves to the front.
    match = re.fullmatch(r"(.*\S)\s+((?:19|20)\d\d)", name.strip())
    return f"{match.group(2)} {match.group(1)}" if match else name


def _sun397_path(name: str) -> str:
    # CoOp's SUN397 rule for a category path: drop the one-letter index folder and put the
    # qualifier first, so "a/apse/indoor" becomes "indoor apse" (underscores are kept).
    parts = [part for part in name.strip("/").split("/") if part]
    if len(parts) > 1 and len(parts[0]) == 1:
        parts = parts[1:]
    return " ".join(reversed(parts))


def _strip_index_folder(name: str) -> str:
    # SUN397's one-letter index folder: "a/apse/indoor" -> "apse/indoor".
    return re.sub(r"^/?[a-z]/", "", name)


LABEL_TRANSFORMS: dict[str, Callable[[str], str]] = {
    "underscores_to_spaces": lambda name: name.replace("_", " "),
    "lower": str.lower,
    "strip": str.strip,
    # ImageNet-style folder names: "n02085620-Chihuahua" -> "Chihuahua".
    "strip_wnid_prefix": lambda name: re.sub(r"^n\d{8}[-_ ]?", "", name),
    # CUB-style folder names: "001.Black_footed_Albatross" -> "Black_footed_Albatross".
    "strip_numeric_prefix": lambda name: re.sub(r"^\d+[._\- ]+", "", name),
    "year_first": _year_first,
    "sun397_path": _sun397_path,
    "strip_index_folder": _strip_index_folder,
    "slashes_to_spaces": lambda name: name.strip("/").replace("/", " "),
}


def read_class_file(name: str, path: str | Path) -> list[str]:
    """Class names from a text file, one per line; blank lines and ``#`` comment lines ignored."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"dataset '{name}': class-name file {path} does not exist")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _apply(name: str, transforms: Sequence[str] | str, label: str) -> str:
    for transform in [transforms] if isinstance(transforms, str) else transforms:
        if transform not in LABEL_TRANSFORMS:
            known = ", ".join(sorted(LABEL_TRANSFORMS))
            raise DatasetError(
                f"dataset '{name}': unknown label_transform '{transform}' (known: {known})"
            )
        label = LABEL_TRANSFORMS[transform](label)
    return label


def label_order_by_name(
    name: str, spec: Mapping[str, Any], source_names: Sequence[str]
) -> tuple[list[str], list[int]] | None:
    """``(ordered names, new index of each source label)`` for an entry with ``label_order``.

    ``None`` when the entry keeps the source's order. Every source class must match exactly one
    line and every line one source class; anything else stops with the names that did not match.
    """
    order = spec.get("label_order")
    if not order:
        return None
    lines = read_class_file(name, order["file"])
    keys = [_apply(name, order.get("match") or [], line) for line in lines]
    position: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key in position:
            raise DatasetError(
                f"dataset '{name}': {order['file']}: lines {position[key] + 1} and {index + 1} "
                f"both match the source name {key!r}"
            )
        position[key] = index
    source_names = [str(label) for label in source_names]
    unknown = [label for label in source_names if label not in position]
    unused = sorted(set(keys) - set(source_names))
    if unknown or unused or len(source_names) != len(lines):
        raise DatasetError(
            f"dataset '{name}': the source's {len(source_names)} classes do not match the "
            f"{len(lines)} of {order['file']} by name"
            + (f"; not in the file: {', '.join(map(repr, unknown[:5]))}" if unknown else "")
            + (f"; not in the source: {', '.join(map(repr, unused[:5]))}" if unused else "")
        )
    return lines, [position[label] for label in source_names]


def curate_classes(name: str, spec: Mapping[str, Any], source_names: Sequence[str]) -> list[str]:
    """The dataset's final class names, index-aligned with ``source_names``."""
    source_names = [str(label) for label in source_names]
    curated = spec.get("classes")
    if curated is None and spec.get("classes_file"):
        curated = read_class_file(name, spec["classes_file"])
    if curated is not None:
        curated = [str(label) for label in curated]
        if len(curated) != len(source_names):
            raise DatasetError(
                f"dataset '{name}': the registry lists {len(curated)} class names but the "
                f"source has {len(source_names)} classes"
            )
        return _warn_duplicates(name, curated)
    mapping = dict(spec.get("class_map") or {})
    unknown = sorted(set(mapping) - set(source_names))
    if unknown:
        raise DatasetError(
            f"dataset '{name}': class_map names classes the source does not have: "
            + ", ".join(repr(key) for key in unknown[:10])
        )
    transforms = spec.get("label_transform") or []
    names = [
        mapping[label] if label in mapping else _apply(name, transforms, label)
        for label in source_names
    ]
    return _warn_duplicates(name, names)


def _warn_duplicates(name: str, names: list[str]) -> list[str]:
    # Not an error: real lists repeat names (ImageNet's first lemmas have two "crane"s and two
    # "maillot"s) and the benchmarks keep them; label_idx stays the ground truth.
    repeated = sorted(label for label, count in Counter(names).items() if count > 1)
    if repeated:
        log.warning("dataset %s: repeated class names: %s", name, ", ".join(repeated[:10]))
    return names
