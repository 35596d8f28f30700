"""Fetch one file (an archive, a split file, a class-name list) into the download cache.

A file is named by exactly one of ``url``, ``repo`` + ``filename`` (a file in a Hugging Face
dataset repository, at ``revision``) or ``path`` (a local mirror), and may be pinned with
``sha256``. URL downloads go to ``<cache>/urls/`` through a ``.part`` file that is resumed with an
HTTP range request after an interruption and renamed into place only when complete; the checksum
is checked after every fetch, so a truncated or substituted file never reaches an image folder.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import posixpath
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import huggingface_hub
from tqdm import tqdm

from classbench.data.manifest import DatasetError
from classbench.data.sources import drive
from classbench.data.sources.auth import hub_errors

log = logging.getLogger(__name__)

CHUNK = 1 << 20
TIMEOUT_S = 60


def describe(resource: Mapping[str, Any]) -> str:
    """A short human name for a file resource (for messages and ``meta.json``)."""
    if "url" in resource:
        return str(resource["url"])
    if "repo" in resource:
        revision = resource.get("revision", "main")
        return f"hf://datasets/{resource['repo']}@{revision}/{resource['filename']}"
    return str(resource["path"])


def fetch_file(
    name: str,
    resource: Mapping[str, Any],
    cache_dir: Path,
    token: str | None = None,
    what: str = "file",
) -> tuple[Path, str]:
    """Return the local path of ``resource`` and its sha256, downloading it if needed.

    Raises :class:`DatasetError` naming the dataset and both digests when ``sha256`` is pinned
    and the file differs; a mismatching URL download is deleted so the next run fetches it anew.
    """
    if "path" in resource:
        path = Path(resource["path"])
        if not path.is_file():
            raise DatasetError(f"dataset '{name}': {what} {path} does not exist")
    elif "url" in resource:
        path = _download_url(name, resource, Path(cache_dir) / "urls", what)
    elif "repo" in resource and "filename" in resource:
        with hub_errors(name, token, f"{what} {describe(resource)}"):
            path = Path(
                huggingface_hub.hf_hub_download(
                    repo_id=resource["repo"],
                    filename=resource["filename"],
                    repo_type="dataset",
                    revision=resource.get("revision"),
                    cache_dir=str(Path(cache_dir) / "hub"),
                    token=token,
                )
            )
    else:
        raise DatasetError(f"dataset '{name}': {what} needs one of url, repo + filename, or path")
    digest = sha256_of(path, f"sha256 {name}")
    wanted = resource.get("sha256")
    if wanted and digest != wanted.lower():
        if "url" in resource:
            path.unlink(missing_ok=True)
        raise DatasetError(
            f"dataset '{name}': {what} {describe(resource)} has sha256 {digest}, "
            f"expected {wanted}" + (" (the download was removed)" if "url" in resource else "")
        )
    if not wanted:
        log.info("dataset %s: %s %s has sha256 %s (pin it with sha256:)", name, what,
                 describe(resource), digest)  # fmt: skip
    return path, digest


def sha256_of(path: Path, desc: str) -> str:
    """The sha256 of a file, with a progress bar (archives run to tens of gigabytes)."""
    digest = hashlib.sha256()
    size = path.stat().st_size
    with (
        open(path, "rb") as handle,
        tqdm(total=size, desc=desc, unit="B", unit_scale=True, disable=size < 64 * CHUNK) as bar,
    ):
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def cache_name(url: str, filename: str | None = None) -> str:
    """The cache file name of a URL: a short hash of the URL (no clashes) and a readable name."""
    base = filename or posixpath.basename(urllib.parse.urlparse(url).path) or "download"
    return f"{hashlib.sha256(url.encode()).hexdigest()[:12]}-{base}"


def _download_url(name: str, resource: Mapping[str, Any], folder: Path, what: str) -> Path:
    url = str(resource["url"])
    target = folder / cache_name(url, resource.get("filename"))
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    done = partial.stat().st_size if partial.exists() else 0
    headers = {"User-Agent": "classbench"}
    if done:
        headers["Range"] = f"bytes={done}-"
    request_url = url
    # A second request only to confirm Google Drive's virus-scan page.
    for confirmations in range(2):
        response = _open(name, request_url, headers, what)
        if response is None:  # the part file was already complete
            os.replace(partial, target)
            return target
        with response:
            first = response.read(CHUNK)
            if response.status != 206 and drive.looks_like_page(
                response.headers.get("Content-Type"), first
            ):
                body = first + response.read(drive.PAGE_LIMIT - len(first))
                page = drive.read_page(request_url, body)
                if page is not None and page.confirm_url and confirmations == 0:
                    log.info("dataset %s: confirming Google Drive's '%s' page", name, page.title)
                    request_url = page.confirm_url
                    continue
                raise DatasetError(_page_message(name, url, resource, folder, what, page))
            _write(name, response, first, partial, done, url)
        break
    os.replace(partial, target)
    return target


def _open(name: str, url: str, headers: Mapping[str, str], what: str) -> Any:
    """The response to a GET of ``url``; ``None`` when a range request finds the file complete."""
    try:
        return urllib.request.urlopen(  # http(s) only: the schema enforces the scheme
            urllib.request.Request(url, headers=dict(headers)), timeout=TIMEOUT_S
        )
    except urllib.error.HTTPError as err:
        if err.code == 416 and "Range" in headers:
            return None
        raise DatasetError(f"dataset '{name}': downloading {what} {url} failed: {err}") from err
    except (urllib.error.URLError, OSError) as err:
        raise DatasetError(f"dataset '{name}': downloading {what} {url} failed: {err}") from err


def _write(name: str, response: Any, first: bytes, partial: Path, done: int, url: str) -> None:
    """Append (a 206 answer to a range request) or write the response body to ``partial``."""
    resumed = bool(done) and response.status == 206
    if not resumed:
        done = 0  # the server ignored the range: start over
    length = response.headers.get("Content-Length")
    total = done + int(length) if length else None
    with (
        open(partial, "ab" if resumed else "wb") as handle,
        tqdm(total=total, initial=done, desc=f"download {name}", unit="B", unit_scale=True) as bar,
    ):
        for block in itertools.chain([first], iter(lambda: response.read(CHUNK), b"")):
            handle.write(block)
            bar.update(len(block))
    if total is not None and partial.stat().st_size != total:
        raise DatasetError(
            f"dataset '{name}': download of {url} stopped at {partial.stat().st_size} of "
            f"{total} bytes; run again to resume"
        )


def _page_message(
    name: str,
    url: str,
    resource: Mapping[str, Any],
    folder: Path,
    what: str,
    page: drive.DrivePage | None,
) -> str:
    filename = resource.get("filename") or posixpath.basename(urllib.parse.urlparse(url).path)
    if page is not None or drive.is_drive_url(url):
        return drive.manual_download(name, url, filename, folder.parent / "manual", what, page)
    return (
        f"dataset '{name}': {url} returned a web page instead of the {what} (a login, quota or "
        f"confirmation page); download it by hand and point the entry's `path:` at it"
    )
