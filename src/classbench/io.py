"""Parquet files that are complete or absent, with JSON metadata in the file footer."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

METADATA_KEY = b"classbench"


class DamagedFileError(RuntimeError):
    """A file exists but cannot be read (cut short, overwritten); the message says how to
    rebuild it."""


def atomic_path(path: str | os.PathLike) -> tuple[Path, Path]:
    """A temporary sibling of ``path`` (same folder, so ``os.replace`` is atomic) and the target.

    The sibling is created with mode 0666 less the umask, as ``open`` would create the target
    (``tempfile.mkstemp`` makes it 0600, and the rename would keep the results private).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp, target


def write_parquet(
    frame: pd.DataFrame, path: str | os.PathLike, metadata: dict | None = None
) -> Path:
    """Write ``frame`` atomically (temp file + rename) with ``metadata`` stored as JSON."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if metadata is not None:
        existing = table.schema.metadata or {}
        encoded = json.dumps(metadata, sort_keys=True, default=str).encode("utf-8")
        table = table.replace_schema_metadata({**existing, METADATA_KEY: encoded})
    tmp, target = atomic_path(path)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def read_parquet(path: str | os.PathLike) -> pd.DataFrame:
    """Read a parquet file written by :func:`write_parquet`.

    Raises :class:`DamagedFileError` for a file that exists but cannot be read.
    """
    return _parquet(pq.read_table, path).to_pandas()


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON metadata of a parquet file written by :func:`write_parquet` (empty if none)."""
    schema = _parquet(pq.read_schema, path)
    raw = (schema.metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def _parquet(reader: Callable[[Any], Any], path: str | os.PathLike) -> Any:
    try:
        return reader(path)
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError):
        raise
    # A cut footer raises ArrowInvalid; damaged column data a plain OSError.
    except (pa.ArrowException, OSError) as err:
        raise DamagedFileError(damage_message(path, err)) from err


def damage_message(path: str | os.PathLike, err: BaseException) -> str:
    """What is wrong with a damaged file and how to rebuild it."""
    path = Path(path)
    message = f"{path} is damaged ({err}): delete it and run the workflow again to rebuild it"
    chunks = path.with_name(f"{path.name}.chunks")
    if chunks.is_dir():
        # Inference keeps its answers in chunks: the rebuild asks the model nothing again.
        message += f"; it is rebuilt from {chunks} without asking the model again"
    return message


def write_json(data: Any, path: str | os.PathLike) -> Path:
    """Write JSON atomically."""
    tmp, target = atomic_path(path)
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def write_text(text: str, path: str | os.PathLike) -> Path:
    """Write a text file atomically."""
    tmp, target = atomic_path(path)
    try:
        tmp.write_text(text)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def missing(value: Any) -> bool:
    """True for None, NaN and pd.NA: pandas 3 stores a missing string as NaN, not None."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and value != value


def as_objects(series: pd.Series | Sequence[Any]) -> list[Any]:
    """The column as a list with every missing value as None."""
    return [None if missing(value) else value for value in series]
