"""Copy the wanted members of a tar or zip archive into an image folder, in one pass.

Only the files of the evaluated split are written (SUN397's archive holds 108k images for a
19,850-image test set), members are matched by a key function instead of being extracted
wholesale, and the destination of every member is chosen by the caller from the split file, so
a hostile member name can never write outside the image folder.
"""

from __future__ import annotations

import functools
import os
import posixpath
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Collection
from pathlib import Path
from typing import IO

from tqdm import tqdm

from classbench.data.manifest import DatasetError

KeyOf = Callable[[str], str | None]


def member_name(raw: str) -> str:
    """An archive member name in one spelling: forward slashes, no leading ``./`` or ``/``."""
    name = posixpath.normpath(raw.replace("\\", "/"))
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def under_root(root: str) -> Callable[[str], str | None]:
    """Map a member name to its path below ``root`` (``None`` for members elsewhere)."""
    root = member_name(root).strip("/") if root else ""
    if root in ("", "."):
        return lambda member: member
    prefix = root + "/"
    return lambda member: member[len(prefix) :] if member.startswith(prefix) else None


def extract_members(
    name: str,
    archive: Path,
    keys: Collection[str],
    key_of: KeyOf,
    destination: Callable[[str, str], Path],
) -> dict[str, Path]:
    """Write every member whose ``key_of(member)`` is in ``keys`` to ``destination(key, member)``.

    Returns ``{key: written path}``; stops reading as soon as every key was found. A key matched
    by two members is an error (the split would be ambiguous).
    """
    wanted = set(keys)
    found: dict[str, Path] = {}
    progress = tqdm(total=len(wanted), desc=f"extract {name}", unit="img")

    def take(raw: str, opener: Callable[[], IO[bytes] | None]) -> None:
        member = member_name(raw)
        key = key_of(member)
        if key is None or key not in wanted:
            return
        if key in found:
            raise DatasetError(f"dataset '{name}': '{key}' matches two members of {archive.name}")
        target = destination(key, member)
        target.parent.mkdir(parents=True, exist_ok=True)
        source = opener()
        if source is None:
            raise DatasetError(f"dataset '{name}': member {raw} of {archive.name} is not a file")
        with source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
        found[key] = target
        progress.update()

    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zipped:
                for info in zipped.infolist():
                    if not info.is_dir():
                        take(info.filename, functools.partial(zipped.open, info))
                    if len(found) == len(wanted):
                        break
        elif tarfile.is_tarfile(archive):
            # Stream mode ("r|*"): one sequential pass over a compressed tar, no member index.
            with tarfile.open(archive, "r|*") as tarred:
                for member in tarred:
                    if member.isfile():
                        take(member.name, functools.partial(tarred.extractfile, member))
                    if len(found) == len(wanted):
                        break
        else:
            raise DatasetError(f"dataset '{name}': {archive.name} is neither a zip nor a tar file")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
        raise DatasetError(f"dataset '{name}': {archive.name} is damaged: {err}") from err
    finally:
        progress.close()
    return found


def extract_one(name: str, archive: Path, member: str, target: Path) -> Path:
    """Extract a single member (a nested archive) to ``target``, atomically; reuse it if present."""
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    wanted = member_name(member)
    found = extract_members(name, archive, [wanted], lambda m: m, lambda _key, _member: partial)
    if not found:
        partial.unlink(missing_ok=True)
        raise DatasetError(f"dataset '{name}': {archive.name} has no member '{member}'")
    os.replace(partial, target)
    return target
