"""A fake Hugging Face Hub on loopback: the API answers the preflight and `datasets pin` read.

Routes are set per test: ``hub.dataset(...)``/``hub.model(...)`` publish a repository's metadata
as ``GET /api/{datasets|models}/{repo}[/revision/{rev}]`` answers it (``sha``, ``gated``,
``cardData.dataset_info``, ``siblings`` with sizes and LFS checksums), ``/auth-check`` answers
200 only for the expected token, and ``hub.file(...)`` serves a plain URL (HEAD and GET; a route
with a query string wins over the bare path). Every request is recorded with the Authorization
header it carried.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "hf_FAKEHUBTOKEN_never_printed_0123456789"
BEARER = f"Bearer {TOKEN}"


def card(
    splits: dict[str, int], names: Sequence[str] | None = None, column: str = "label"
) -> dict[str, Any]:
    """A card's ``dataset_info`` as the hub API returns it in ``cardData``."""
    features: list[dict[str, Any]] = [{"name": "image", "dtype": "image"}]
    if names is not None:
        labels = {str(index): name for index, name in enumerate(names)}
        features.append({"name": column, "dtype": {"class_label": {"names": labels}}})
    return {
        "features": features,
        "splits": [{"name": name, "num_examples": rows} for name, rows in splits.items()],
    }


class FakeHub(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[tuple[str, str, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def route(self, path: str, status: int, body: bytes = b"", **headers: str) -> None:
        self.routes[path] = (status, headers, body)

    def repo(
        self,
        kind: str,
        repo: str,
        sha: str,
        revisions: Sequence[str] = ("main",),
        gated: bool | str = False,
        files: dict[str, dict[str, Any]] | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        """Publish ``repo`` at ``revisions`` (and its full ``sha``)."""
        siblings = [{"rfilename": name, **meta} for name, meta in (files or {}).items()]
        body = {"id": repo, "sha": sha, "private": False, "gated": gated, "disabled": False,
                "siblings": siblings}  # fmt: skip
        if info is not None:
            body["cardData"] = {"dataset_info": info}
        payload = json.dumps(body).encode()
        base = f"/api/{kind}s/{repo}"
        self.route(base, 200, payload, **{"Content-Type": "application/json"})
        for revision in (*revisions, sha):
            path = f"{base}/revision/{urllib.parse.quote(revision, safe='')}"
            self.route(path, 200, payload, **{"Content-Type": "application/json"})
        if gated:
            self.routes[f"{base}/auth-check"] = (-1, {}, b"")  # answered by the token rule
        else:
            self.route(f"{base}/auth-check", 200, b"{}")

    def missing(self, kind: str, repo: str) -> None:
        """What the hub answers for a repository that does not exist (or is private)."""
        body = json.dumps({"error": "Repository not found"}).encode()
        for path in (f"/api/{kind}s/{repo}", f"/api/{kind}s/{repo}/revision/main"):
            self.route(path, 404, body, **{"X-Error-Code": "RepoNotFound"})

    def file(self, path: str, status: int, body: bytes = b"", **headers: str) -> None:
        self.route(path, status, body, **headers)


class _Handler(BaseHTTPRequestHandler):
    server: FakeHub

    def _answer(self, with_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        authorization = self.headers.get("Authorization")
        self.server.requests.append((self.command, self.path, authorization))
        routes = self.server.routes
        status, headers, body = routes.get(self.path) or routes.get(path) or (404, {}, b"")
        if status == -1:  # a gated repo's access check: only the expected token passes
            status = 401 if not authorization else 200 if authorization == BEARER else 403
            headers = {} if status == 200 else {"X-Error-Code": "GatedRepo"}
            body = b"{}" if status == 200 else b'{"error": "Access to this repo is restricted."}'
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self) -> None:  # the name http.server dispatches to
        self._answer(True)

    def do_HEAD(self) -> None:
        self._answer(False)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def fake_hub() -> Iterator[FakeHub]:
    hub = FakeHub()
    thread = threading.Thread(target=hub.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        hub.shutdown()
        hub.server_close()
