"""Pieces every source kind shares: sample ids, image file types, the manifest frame."""

from __future__ import annotations

import io
import posixpath
import re
from collections.abc import Iterable
from typing import Any

import pandas as pd
from PIL import Image, UnidentifiedImageError

from classbench.data.manifest import MANIFEST_COLUMNS, DatasetError

# PIL format name -> the extension the file gets on disk.
EXTENSIONS = {
    "JPEG": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "GIF": ".gif",
    "BMP": ".bmp",
    "TIFF": ".tif",
    "MPO": ".jpg",  # multi-picture JPEGs (some phone photos) open as MPO
}

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_id(text: str) -> str:
    """A sample id usable as a file name: path separators become ``__``, odd characters ``_``."""
    text = str(text).strip().replace("\\", "/").strip("/")
    return "__".join(_UNSAFE.sub("_", part) for part in text.split("/") if part) or "_"


def clean_relpath(name: str, relpath: str) -> str:
    """Normalise a path taken from a split file; refuse anything that leaves the image root."""
    normal = posixpath.normpath(str(relpath).strip().replace("\\", "/"))
    if normal.startswith("./"):
        normal = normal[2:]
    if not normal or normal == "." or normal.startswith(("/", "../")) or normal == "..":
        raise DatasetError(f"dataset '{name}': unsafe or empty path in the split file: {relpath!r}")
    return normal


def image_extension(name: str, data: bytes, what: str) -> str:
    """The file extension of encoded image ``data`` (read from its header, not trusted names)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format
    except (UnidentifiedImageError, OSError) as err:
        raise DatasetError(f"dataset '{name}': {what} is not an image: {err}") from err
    if fmt not in EXTENSIONS:
        raise DatasetError(f"dataset '{name}': {what} is a {fmt} image, which is not supported")
    return EXTENSIONS[fmt]


def manifest_frame(rows: Iterable[tuple[str, str, str, int]]) -> pd.DataFrame:
    """The manifest columns of the contract, in order."""
    return pd.DataFrame(list(rows), columns=MANIFEST_COLUMNS)


def attach_provenance(manifest: pd.DataFrame, provenance: dict[str, Any]) -> pd.DataFrame:
    """Hand download facts (checksums, fingerprints) to ``prepare_dataset`` for ``meta.json``.

    The fetch signature returns only the manifest and the class names, so provenance travels in
    ``DataFrame.attrs``; ``prepare_dataset`` pops it before the manifest is written.
    """
    manifest.attrs["provenance"] = provenance
    return manifest
