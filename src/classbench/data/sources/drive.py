"""Google Drive's answers that are not the file, and what to do about them.

For a large file Drive first serves an HTML page: the virus-scan warning ("Google Drive can't
scan this file for viruses"), whose ``download-form`` re-requests the file with ``confirm=t``, or
the quota page ("Too many users have viewed or downloaded this file recently"), after which only
a later or manual download works. Both are recognised by their ``<title>Google Drive - …</title>``;
the downloader follows a virus-scan form once and otherwise stops with the one-line manual
download and the registry change that points the entry at the downloaded file.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

# How much of a web page is read to recognise it (Drive's pages are a few kilobytes).
PAGE_LIMIT = 256 * 1024
_TITLE = re.compile(r"<title>\s*Google Drive\s*-\s*(.+?)\s*</title>", re.IGNORECASE | re.DOTALL)
_FORM = re.compile(r"<form\b[^>]*\bid=\"download-form\"[^>]*>(.*?)</form>", re.I | re.DOTALL)
_FORM_TAG = re.compile(r"<form\b[^>]*\bid=\"download-form\"[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"\b(action|name|value)=\"([^\"]*)\"", re.IGNORECASE)
_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_LEGACY_LINK = re.compile(r"href=\"(/uc\?export=download[^\"]*confirm=[^\"]+)\"", re.IGNORECASE)
_FILE_ID = re.compile(r"/file/d/([\w-]+)")
DRIVE_HOSTS = ("drive.google.com", "drive.usercontent.google.com", "docs.google.com")
# Registry keys of the file kinds the downloader is asked for, by their message name.
_ENTRY_KEYS = {
    "archive": "archive",
    "split file": "split_file",
    "class-name file": "classnames_file",
}


@dataclass(frozen=True)
class DrivePage:
    """A Drive interstitial: its title and, for the virus-scan warning, the confirmation URL."""

    title: str
    confirm_url: str | None


def looks_like_page(content_type: str | None, head: bytes) -> bool:
    """Whether a response is a web page rather than a file."""
    if (content_type or "").split(";")[0].strip().lower() == "text/html":
        return True
    return head[:512].lstrip().lower().startswith((b"<!doctype html", b"<html"))


def read_page(url: str, body: bytes) -> DrivePage | None:
    """The Drive page in ``body`` (served for ``url``), or ``None`` when it is not one."""
    text = body.decode("utf-8", errors="replace")
    title = _TITLE.search(text)
    if title is None:
        return None
    return DrivePage(html.unescape(title.group(1)).strip(), _confirm_url(url, text))


def _confirm_url(url: str, text: str) -> str | None:
    form = _FORM.search(text)
    if form is not None:
        tag = _FORM_TAG.search(text)
        action = _attributes(tag.group(0) if tag else "").get("action")
        fields = []
        for element in _INPUT.findall(form.group(1)):
            attributes = _attributes(element)
            if "name" in attributes:
                fields.append((attributes["name"], attributes.get("value", "")))
        if action:
            target = urllib.parse.urljoin(url, action)
            return _http_only(f"{target}?{urllib.parse.urlencode(fields)}")
    legacy = _LEGACY_LINK.search(text)
    if legacy is not None:
        return _http_only(urllib.parse.urljoin(url, html.unescape(legacy.group(1))))
    return None


def _attributes(tag: str) -> dict[str, str]:
    return {key.lower(): html.unescape(value) for key, value in _ATTRIBUTE.findall(tag)}


def _http_only(url: str) -> str | None:
    return url if urllib.parse.urlparse(url).scheme in ("http", "https") else None


def is_drive_url(url: str) -> bool:
    return urllib.parse.urlparse(url).hostname in DRIVE_HOSTS


def file_id(url: str) -> str | None:
    """The Drive file id of a download or sharing URL."""
    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    if query.get("id"):
        return query["id"][0]
    match = _FILE_ID.search(url)
    return match.group(1) if match else None


def manual_steps(url: str, filename: str, manual_dir: Path, key: str, name: str) -> tuple[str, str]:
    """(the one-line manual download, the registry change that uses the downloaded file)."""
    target = Path(manual_dir) / filename
    identifier = file_id(url)
    if identifier:
        how = (
            f"pip install gdown && gdown 'https://drive.google.com/uc?id={identifier}' "
            f"-O {target}   (or in a browser: https://drive.google.com/file/d/{identifier}/view)"
        )
    else:
        how = f"open {url} in a browser and save the file as {target}"
    return how, f"in config/datasets.yaml, {name}.source:  {key}: {{path: {target}}}"


def manual_download(
    name: str, url: str, filename: str, manual_dir: Path, what: str, page: DrivePage | None
) -> str:
    """The message for a Drive file that cannot be fetched automatically: what Drive answered,
    the one-line manual download, and the ``path`` to set in the entry."""
    answered = f"its '{page.title}' page" if page else "a web page"
    how, change = manual_steps(url, filename, manual_dir, _ENTRY_KEYS.get(what, "archive"), name)
    return (
        f"dataset '{name}': Google Drive answered with {answered} instead of the {what} "
        f"{filename} (a quota or confirmation page; retrying later may work).\n"
        f"  Download it by hand:  {how}\n"
        f"  Then set {change}"
    )
