"""The Hugging Face Hub's HTTP API, read directly: repository metadata at a revision, access
checks, and HEAD requests to archive hosts, for the preflight and ``classbench datasets pin``.

The base URL is ``HF_ENDPOINT`` (read as huggingface_hub and datasets read it), so the same code
runs against a mirror or a local fake hub. The token comes from the environment only
(:data:`~classbench.data.sources.auth.TOKEN_VARIABLES`), is sent to the hub endpoint only, never
to another host, and is scrubbed from every message.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from classbench.data.sources.auth import TOKEN_VARIABLES, redact
from classbench.data.sources.drive import PAGE_LIMIT

DEFAULT_ENDPOINT = "https://huggingface.co"
TIMEOUT_S = 20
_TRUE = {"1", "true", "yes", "on"}


def env_token() -> str | None:
    """The hub token from the environment, or ``None``."""
    for variable in TOKEN_VARIABLES:
        token = os.environ.get(variable, "").strip()
        if token:
            return token
    return None


def offline() -> bool:
    """Whether the environment forbids hub requests (``HF_HUB_OFFLINE``)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


@dataclass(frozen=True)
class Answer:
    """One HTTP answer. ``status`` 0: the host could not be reached (``message`` says why)."""

    status: int
    data: Any = None
    error_code: str | None = None
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Hub:
    """Read-only requests to the hub API at ``endpoint`` (default ``HF_ENDPOINT``)."""

    def __init__(
        self, endpoint: str | None = None, token: str | None = None, timeout: float = TIMEOUT_S
    ):
        self.endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        self.token = token if token is not None else env_token()
        self.timeout = timeout

    def page(self, kind: str, repo: str) -> str:
        """The repository's web page (where its terms are accepted)."""
        return f"{self.endpoint}/{'datasets/' if kind == 'dataset' else ''}{repo}"

    def repo_info(
        self, kind: str, repo: str, revision: str | None = None, files: bool = False
    ) -> Answer:
        """``GET /api/{kind}s/{repo}[/revision/{revision}]``: ``sha``, ``gated``, ``cardData``,
        ``siblings`` (with sizes and LFS checksums when ``files``)."""
        path = f"/api/{kind}s/{repo}"
        if revision:
            path += f"/revision/{urllib.parse.quote(revision, safe='')}"
        return self._get(path + ("?blobs=true" if files else ""))

    def auth_check(self, kind: str, repo: str) -> Answer:
        """``GET /api/{kind}s/{repo}/auth-check``: 200 when the token may read a gated repo."""
        return self._get(f"/api/{kind}s/{repo}/auth-check")

    def _get(self, path: str) -> Answer:
        headers = {"User-Agent": "classbench", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        answer = _request(self.endpoint + path, "GET", headers, self.timeout, read=None)
        data = None
        if answer.body:
            try:
                data = json.loads(answer.body)
            except (UnicodeDecodeError, json.JSONDecodeError):
                data = None
        message = answer.message
        if not answer.ok and isinstance(data, dict) and data.get("error"):
            message = str(data["error"])
        return Answer(
            answer.status, data, answer.error_code, redact(message, self.token), answer.headers
        )

    def probe(self, url: str) -> Answer:
        """Whether ``url`` serves a file, without downloading it: a HEAD request, then (for a
        web page, or a host that refuses HEAD) the first bytes of a GET, to recognise the page.
        No token is sent."""
        headers = {"User-Agent": "classbench"}
        answer = _request(url, "HEAD", headers, self.timeout, read=0)
        content_type = answer.headers.get("content-type", "")
        page = content_type.startswith("text/html")
        if page or answer.status in (403, 405, 501):
            # A page is read to tell which one it is; of a file, one byte is asked for.
            ranged = {} if page else {"Range": "bytes=0-0"}
            answer = _request(url, "GET", {**headers, **ranged}, self.timeout, read=PAGE_LIMIT)
        return answer


def _request(url: str, method: str, headers: dict[str, str], timeout: float, read: int | None):
    """One request; never raises for HTTP or network errors (they are data, see Answer)."""
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read() if read is None else response.read(read) if read else b""
            return Answer(response.status, headers=_lower(response.headers), body=body)
    except urllib.error.HTTPError as err:
        body = err.read(PAGE_LIMIT) if err.fp is not None else b""
        reply = _lower(err.headers)
        return Answer(
            err.code,
            error_code=reply.get("x-error-code"),
            message=reply.get("x-error-message") or str(err.reason),
            headers=reply,
            body=body,
        )
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        return Answer(0, message=f"{type(err).__name__}: {reason}")


def _lower(headers: Any) -> dict[str, str]:
    return {key.lower(): value for key, value in (headers or {}).items()}
