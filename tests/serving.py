"""A real `transformers serve` process and a fault-injecting loopback proxy in front of it."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def transformers_serve(model_dir: Path, work: Path) -> Iterator[str]:
    """Serve ``model_dir`` on a free loopback port; yields the ``/v1`` base URL."""
    executable = shutil.which("transformers", path=str(Path(sys.executable).parent))
    if executable is None:
        pytest.skip("the `transformers` CLI (transformers[serving]) is not installed")
    hub_cache = work / "hub-cache"
    hub_cache.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(hub_cache)}
    log_path = work / "serve.log"
    command = [executable, "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port),
               "--device", "cpu"]  # fmt: skip
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                # The package is installed, so a server that exits is a failure, not a skip.
                pytest.fail(f"`transformers serve` did not start:\n{log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"`transformers serve` not healthy:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.25)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# A fault decides what the proxy does with one request: None forwards it untouched.
Fault = Callable[[int, bytes], str | None]


class FaultProxy:
    """Forwards POSTs to ``upstream`` unless ``fault(request_number, body)`` names a fault:
    ``"500"``, ``"503"``, ``"429"`` (with Retry-After: 1), ``"timeout"`` (answers too late),
    ``"drop"`` (closes the connection half way through the response)."""

    def __init__(self, upstream: str, fault: Fault, slow_s: float = 3.0) -> None:
        self.upstream = httpx.URL(upstream)
        self.fault = fault
        self.slow_s = slow_s
        self.requests: list[tuple[int, str]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with proxy.lock:
                    number = len(proxy.requests)
                    action = proxy.fault(number, body)
                    proxy.requests.append((number, action or "ok"))
                if action in ("500", "503"):
                    self._reply(int(action), b'{"error": "injected"}')
                elif action == "429":
                    self._reply(429, b'{"error": "slow down"}', {"Retry-After": "1"})
                elif action == "timeout":
                    time.sleep(proxy.slow_s)
                    self._reply(503, b'{"error": "too late"}')
                elif action == "drop":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b'{"choices": [')
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                else:
                    self._forward(body)

            def _reply(self, status: int, payload: bytes, headers: dict | None = None) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _forward(self, body: bytes) -> None:
                connection = http.client.HTTPConnection(
                    proxy.upstream.host, proxy.upstream.port, timeout=60
                )
                headers = {"Content-Type": "application/json"}
                if "Authorization" in self.headers:
                    headers["Authorization"] = self.headers["Authorization"]
                path = proxy.upstream.path.rstrip("/") + self.path.split("/v1", 1)[-1]
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                connection.close()
                self._reply(response.status, payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
