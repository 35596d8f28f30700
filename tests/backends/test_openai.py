"""OpenAIBackend against a real `transformers serve` and against a fault-injecting local server.

Everything runs on 127.0.0.1: the real server serves a tiny random Qwen2-VL built offline, the
fault server is a small threading HTTP server that scripts failures per prompt.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import random
import re
import socket
import threading
import time
import types
from collections import Counter, defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
import yaml
from PIL import Image
from serving import transformers_serve

from classbench.backends import openai_compat
from classbench.backends.base import BackendError
from classbench.backends.openai_compat import (
    OpenAIBackend,
    chat_messages,
    encode_image,
    public_url,
)
from classbench.backends.retry import RetryPolicy, retry_after_seconds, retryable_status
from classbench.config import ConfigError, validate
from classbench.inference.job import load_backend

SECRET = "sk-classbench-test-SECRET-0123456789"
MAX_NEW = 6
MAX_PIXELS = 12544
ENV_VARS = (
    "OPENAI_API_BASE",
    "OPENAI_COMPATIBLE_API_URL",
    "OPENAI_API_KEY",
    "OPENAI_COMPATIBLE_API_KEY",
)
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "models.schema.yaml"


def noise_image(width: int, height: int, seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


IMAGES = [noise_image(w, h, seed) for seed, (w, h) in enumerate([(100, 120), (230, 170), (64, 64)])]
PROMPTS = [
    "What is in this picture?",
    "Name the object.",
    "Look closely at the image and answer with a single word: which class does it show?",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ambient API settings or proxies: loopback requests must go straight to the server."""
    for name in ENV_VARS + PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- a real `transformers serve` ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from classbench.demo import build_tiny_model

    return build_tiny_model("qwen2_vl", tmp_path_factory.mktemp("qwen2_vl") / "model", seed=0)


@pytest.fixture(scope="module")
def served(tiny_qwen: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``transformers serve`` of the tiny model on a free loopback port; yields its /v1 URL."""
    with transformers_serve(tiny_qwen, tmp_path_factory.mktemp("serve")) as url:
        yield url


def hf_answers(model_dir: Path, **settings: Any) -> list:
    from classbench.backends.hf import HFBackend

    hf = HFBackend(
        {"checkpoint": str(model_dir), "batch_size": 1, "max_pixels": MAX_PIXELS, **settings}
    )
    try:
        return hf.generate(list(IMAGES), list(PROMPTS), max_new_tokens=MAX_NEW)
    finally:
        hf.close()


@pytest.mark.slow  # starts a real `transformers serve`
@pytest.mark.parametrize(
    "settings",
    [{}, {"system_prompt": "Answer with one word.", "image_first": False}],
    ids=["defaults", "system-prompt-text-first"],
)
def test_served_answers_equal_in_process(served, tiny_qwen, settings, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)  # ignored by the server; must not leak
    expected = hf_answers(tiny_qwen, **settings)
    backend = OpenAIBackend(
        {
            "base_url": served,
            "model": str(tiny_qwen),
            "image_format": "png",  # lossless: the server decodes the very pixels HF sees
            "max_pixels": MAX_PIXELS,
            "concurrency": 2,
            "send_extra_body": False,
            **settings,
        }
    )
    try:
        got = backend.generate(list(IMAGES), list(PROMPTS), max_new_tokens=MAX_NEW)
    finally:
        backend.close()
    assert [g.error for g in got] == [None] * len(PROMPTS)
    assert all(g.text for g in expected)
    assert [g.text for g in got] == [g.text for g in expected]
    # Same rendered prompt, image tokens included.
    assert [g.tokens_in for g in got] == [g.tokens_in for g in expected]
    assert all(1 <= g.tokens_out <= MAX_NEW and g.latency_s > 0 for g in got)
    assert SECRET not in json.dumps(backend.info())


@pytest.mark.slow  # starts a real `transformers serve`
def test_served_rejects_unknown_fields_unless_dropped(served, tiny_qwen):
    spec = {
        "base_url": served,
        "model": str(tiny_qwen),
        "max_pixels": MAX_PIXELS,
        "constrained_choice": "structured_outputs",
        "max_retries": 3,
    }
    choices = [["cat", "dog"]]
    strict = OpenAIBackend(spec)
    start = time.perf_counter()
    [rejected] = strict.generate(IMAGES[:1], PROMPTS[:1], max_new_tokens=MAX_NEW, choices=choices)
    strict.close()
    # transformers serve answers unknown fields with 422: a client error, not retried.
    assert rejected.text is None
    assert rejected.error.startswith("HTTPStatus 422:") and "(1 attempt)" in rejected.error
    assert time.perf_counter() - start < 10
    lenient = OpenAIBackend({**spec, "send_extra_body": False, "image_format": "jpeg"})
    [answer] = lenient.generate(IMAGES[:1], PROMPTS[:1], max_new_tokens=MAX_NEW, choices=choices)
    lenient.close()
    assert answer.error is None and answer.text


# -- a fault-injecting server ------------------------------------------------------------------


# How servers and libraries repeat a token back: JSON-escaped, URL-encoded, as Python's repr of
# the text or of the header bytes, HTML-escaped, or cut where a parser split it.
ECHOES = {
    "json": lambda token: {"error": {"message": f"Incorrect API key provided: {token}"}},
    "url": lambda token: f"login at https://auth.example/?key={quote(token, safe='')}",
    "repr": lambda token: f"ValueError: bad token {token!r}",
    "bytes": lambda token: f"Illegal header value {('Bearer ' + token).encode()!r}",
    "html": lambda token: f"<p>Invalid key <b>{html.escape(token)}</b></p>",
    "split": lambda token: "credential parts: " + ", ".join(re.split(r"[\s;\"'&<>\\]+", token)),
}
# Keys an HTTP header can carry, each holding a character that changes how it is echoed.
ODD_KEYS = {
    "space": "sk-classbench SECRET-spaced-part",
    "quote": "sk-classbench\"SECRET'quoted-part",
    "semicolon": "sk-classbench;SECRET-after-semicolon",
    "markup": "sk-classbench&<SECRET>-markup",
    "backslash": "sk-classbench\\SECRET-backslash",
}


class FaultServer:
    """Loopback chat completions server whose behaviour is scripted by the prompt text.

    A prompt ``"<case>:<arg>:<id>"`` picks the behaviour; attempts are counted per prompt, so
    ``e500`` fails the first attempt of each prompt and answers the second; ``script`` fails
    attempts with the statuses it lists, in order.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.attempts: Counter[str] = Counter()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.auth: list[str | None] = []
        self.inflight = 0
        self.max_inflight = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = next(
                    part["text"]
                    for part in body["messages"][-1]["content"]
                    if part["type"] == "text"
                )
                with server.lock:
                    server.attempts[prompt] += 1
                    attempt = server.attempts[prompt]
                    server.times[prompt].append(time.monotonic())
                    server.bodies.append(body)
                    server.paths.append(self.path)
                    server.auth.append(self.headers.get("Authorization"))
                    server.inflight += 1
                    server.max_inflight = max(server.max_inflight, server.inflight)
                try:
                    server.behave(self, prompt, attempt)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)
                finally:
                    with server.lock:
                        server.inflight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @staticmethod
    def send(
        handler: BaseHTTPRequestHandler,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def ok(self, handler: BaseHTTPRequestHandler, prompt: str) -> None:
        self.send(
            handler,
            200,
            {
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"  answer to {prompt}\n"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
            },
        )

    def behave(self, handler: BaseHTTPRequestHandler, prompt: str, attempt: int) -> None:
        case, arg, _ = prompt.split(":", 2)
        if case == "ok":
            self.ok(handler, prompt)
        elif case == "slow":
            time.sleep(float(arg))
            self.ok(handler, prompt)
        elif case == "e500" and attempt == 1:
            self.send(handler, 500, {"error": "internal boom"})
        elif case == "r429" and attempt == 1:
            self.send(handler, 429, {"error": "slow down"}, {"Retry-After": arg})
        elif case == "sleep" and attempt == 1:
            time.sleep(float(arg))  # past the client's timeout
            self.ok(handler, prompt)
        elif case == "drop" and attempt == 1:
            # Promise 1000 bytes, send 20, hang up: a connection dropped mid-response.
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", "1000")
            handler.end_headers()
            handler.wfile.write(b'{"choices": [{"mess')
            handler.wfile.flush()
            handler.connection.shutdown(socket.SHUT_RDWR)
            handler.close_connection = True
        elif case == "e503":
            self.send(handler, 503, {"error": "overloaded"})
        elif case == "script" and attempt <= len(arg.split(",")):
            # One status per attempt, e.g. "500,429=0.3": the n-th attempt gets the n-th status,
            # with a Retry-After header where "=seconds" follows; later attempts succeed.
            status, _, after = arg.split(",")[attempt - 1].partition("=")
            headers = {"Retry-After": after} if after else {}
            self.send(handler, int(status), {"error": f"scripted {status}"}, headers)
        elif case == "e400":
            self.send(handler, 400, {"error": "bad request"})
        elif case == "e401":
            # A careless server echoing the credentials it was given.
            auth = handler.headers.get("Authorization") or ""
            self.send(handler, 401, {"error": f"invalid credentials: {auth}"})
        elif case == "echo":
            # A careless server repeating the token it was given, in the form `arg` names.
            token = (handler.headers.get("Authorization") or "").removeprefix("Bearer ")
            echo = ECHOES[arg](token)
            self.send(handler, 503, echo if isinstance(echo, dict) else echo.encode())
        elif case == "nocontent":
            self.send(
                handler,
                200,
                {"choices": [{"message": {"content": None}, "finish_reason": "tool_calls"}]},
            )
        elif case == "garbage":
            self.send(handler, 200, b"<html>not json</html>")
        else:
            self.ok(handler, prompt)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FaultServer]:
    fault = FaultServer()
    yield fault
    fault.close()


def make_backend(server: FaultServer, **spec: Any) -> OpenAIBackend:
    defaults = {
        "base_url": server.url,
        "model": "served-model",
        "max_retries": 2,
        "backoff_s": 0.01,
        "max_backoff_s": 2.0,
        "timeout_s": 5,
        "concurrency": 4,
    }
    return OpenAIBackend({**defaults, **spec})


def ask(backend: OpenAIBackend, prompts: list[str], **kwargs: Any) -> list:
    images = [IMAGES[i % len(IMAGES)] for i in range(len(prompts))]
    try:
        return backend.generate(
            images, prompts, max_new_tokens=kwargs.pop("max_new_tokens", 5), **kwargs
        )
    finally:
        backend.close()


def test_success_maps_text_usage_and_latency(server):
    [g] = ask(make_backend(server), ["ok::a"])
    assert g.error is None
    assert g.text == "answer to ok::a"  # stripped, like the transformers backend
    assert (g.tokens_in, g.tokens_out) == (11, 3)
    assert g.latency_s > 0


def test_transient_failures_are_retried(server):
    prompts = ["e500::a", "drop::b", "sleep:2.5:c", "ok::d"]
    started = time.perf_counter()
    got = ask(make_backend(server, timeout_s=1.0), prompts)
    assert time.perf_counter() - started < 10
    assert [g.error for g in got] == [None] * 4, [g.error for g in got]
    assert [g.text for g in got] == [f"answer to {p}" for p in prompts]
    assert [server.attempts[p] for p in prompts] == [2, 2, 2, 1]


def test_retry_after_is_honoured_and_bounded(server):
    got = ask(make_backend(server, max_backoff_s=5), ["r429:1:a"])
    assert got[0].error is None
    first, second = server.times["r429:1:a"]
    assert second - first >= 0.9  # waited the server's 1 s, not the 0.01 s backoff

    started = time.perf_counter()
    got = ask(make_backend(server, max_backoff_s=0.3), ["r429:3600:b"])
    assert got[0].error is None
    first, second = server.times["r429:3600:b"]
    assert 0.25 <= second - first < 2  # an hour's Retry-After is capped by max_backoff_s
    assert time.perf_counter() - started < 5


def recorded_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays the backend sleeps between attempts, in order; each is still slept."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    clock = types.SimpleNamespace(sleep=sleep, perf_counter=time.perf_counter)
    monkeypatch.setattr(openai_compat, "time", clock)
    return slept


def test_backoff_doubles_between_attempts(server, monkeypatch):
    """The delays actually slept between five failed attempts: backoff_s, then doubling, each
    jittered down to no less than half, and capped by max_backoff_s. Constant delays, or a
    doubling that restarts, give another sequence."""
    slept = recorded_sleeps(monkeypatch)
    backend = make_backend(server, max_retries=5, backoff_s=0.02, max_backoff_s=0.2)
    backend.retry.rng = random.Random(3)
    [g] = ask(backend, ["e503::a"])
    assert "(6 attempts)" in g.error
    jitter = random.Random(3)
    full = [0.02, 0.04, 0.08, 0.16, 0.2]
    assert slept == pytest.approx([f * (0.5 + 0.5 * jitter.random()) for f in full])
    for wait, ceiling in zip(slept, full, strict=True):
        assert ceiling / 2 <= wait <= ceiling
    assert slept[3] > 2 * full[0]  # the fourth wait is past any constant one
    # The server saw the attempts at least that far apart.
    times = server.times["e503::a"]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert all(gap >= wait * 0.99 for gap, wait in zip(gaps, slept, strict=True))


def test_backoff_follows_retry_after(server, monkeypatch):
    """A Retry-After replaces the backoff of that attempt only (capped by max_backoff_s); the
    attempts without one keep doubling by their own number."""
    slept = recorded_sleeps(monkeypatch)
    backend = make_backend(server, max_retries=5, backoff_s=0.01, max_backoff_s=0.25)
    backend.retry.rng = random.Random(5)
    [g] = ask(backend, ["script:429=0.15,500,503=3600,500,500:a"])
    assert g.error is None and g.text == "answer to script:429=0.15,500,503=3600,500,500:a"
    jitter = random.Random(5)
    backoff = [0.01 * 2 ** (n - 1) * (0.5 + 0.5 * jitter.random()) for n in (2, 4, 5)]
    assert slept == pytest.approx([0.15, backoff[0], 0.25, backoff[1], backoff[2]])


def test_permanent_failure_becomes_error_after_max_retries(server):
    [g] = ask(make_backend(server, max_retries=3), ["e503::a"])
    assert g.text is None
    assert g.error.startswith("HTTPStatus 503:") and "(4 attempts)" in g.error
    assert server.attempts["e503::a"] == 4


def test_client_errors_fail_at_once(server):
    got = ask(make_backend(server, max_retries=4), ["e400::a", "nocontent::b", "garbage::c"])
    assert got[0].text is None and got[0].error.startswith("HTTPStatus 400:")
    assert "(1 attempt)" in got[0].error
    assert got[1].text is None and got[1].error == "NoContent: finish_reason=tool_calls"
    assert got[2].text is None and got[2].error.startswith("BadResponse:")
    assert [server.attempts[p] for p in ("e400::a", "nocontent::b", "garbage::c")] == [1, 1, 1]


def test_timeouts_and_refused_connections_end_as_errors(server):
    [g] = ask(make_backend(server, timeout_s=0.3, max_retries=1), ["slow:1:a"])
    assert g.text is None and g.error.startswith("Timeout:") and "(2 attempts)" in g.error

    closed = f"http://127.0.0.1:{free_port()}/v1"
    [g] = ask(
        OpenAIBackend({"base_url": closed, "model": "m", "max_retries": 2, "backoff_s": 0.01}),
        ["ok::b"],
    )
    assert g.text is None and g.error.startswith("ConnectionError:") and "(3 attempts)" in g.error


def test_api_key_is_sent_but_never_shown(server, monkeypatch, caplog, capsys, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    backend = make_backend(server, max_retries=1)
    info = backend.info()
    prompts = ["ok::a", "e401::b", "e400::c", "e503::d", "drop::e"]
    got = backend.generate([IMAGES[0]] * len(prompts), prompts, max_new_tokens=4)
    # Rotating the key takes effect on the next request: it is read when a request is sent.
    monkeypatch.setenv("OPENAI_API_KEY", SECRET + "-rotated")
    ask(backend, ["ok::f"])
    assert server.auth[:-1] == [f"Bearer {SECRET}"] * (len(server.auth) - 1)
    assert server.auth[-1] == f"Bearer {SECRET}-rotated"

    assert info["api_key_set"] is True and info["api_key_env"] == "OPENAI_API_KEY"
    assert got[1].error.startswith("HTTPStatus 401:") and "***" in got[1].error
    written = [
        json.dumps(info),
        json.dumps(backend.info()),
        repr(vars(backend)),
        *(g.error or "" for g in got),
        caplog.text,
        *capsys.readouterr(),
        *(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()),
    ]
    assert not [text for text in written if SECRET in text]


@pytest.mark.parametrize("form", ECHOES)
@pytest.mark.parametrize("key", ODD_KEYS.values(), ids=ODD_KEYS)
def test_no_part_of_an_echoed_key_is_shown(server, monkeypatch, caplog, key, form):
    """A key with a space, a quote, `;`, markup or a backslash, echoed back in any form, is
    redacted whole from the stored error and from the retry lines of the job log."""
    monkeypatch.setenv("OPENAI_API_KEY", key)
    caplog.set_level(logging.DEBUG)
    [g] = ask(make_backend(server, max_retries=1), [f"echo:{form}:a"])
    assert server.auth == [f"Bearer {key}"] * 2  # sent as it is, twice
    assert g.text is None and g.error.startswith("HTTPStatus 503:") and "***" in g.error
    pieces = [key, *(p for p in re.split(r"[\s;\"'&<>\\]+", key) if len(p) >= 4)]
    written = g.error + caplog.text
    assert "retry 1/1" in caplog.text
    assert [piece for piece in pieces if piece in written] == []


@pytest.mark.parametrize(
    "key", ["sk-classbench\r", "sk-classbench\nSECRET", "sk-tab\tSECRET", "sk-SECRET-€", "sk-café"]
)
def test_a_key_no_header_can_carry_is_one_configuration_error(server, monkeypatch, key):
    """Not a connection error retried per sample: the backend refuses it before any request,
    naming the variable and never the key."""
    monkeypatch.setenv("MY_SERVER_KEY", key)
    started = time.perf_counter()
    with pytest.raises(BackendError, match=r"\$MY_SERVER_KEY cannot be sent in an HTTP header"):
        make_backend(server, api_key_env="MY_SERVER_KEY", max_retries=3, backoff_s=1)
    # A key rotated to a bad one while the backend runs fails the call before any request.
    monkeypatch.setenv("MY_SERVER_KEY", "sk-good")
    backend = make_backend(server, api_key_env="MY_SERVER_KEY", max_retries=3, backoff_s=1)
    monkeypatch.setenv("MY_SERVER_KEY", key)
    with pytest.raises(BackendError, match="cannot be sent in an HTTP header") as caught:
        ask(backend, ["ok::a", "ok::b"])
    assert "SECRET" not in str(caught.value) and key.strip() not in str(caught.value)
    assert not server.attempts
    assert time.perf_counter() - started < 1


def test_key_env_names_and_base_url_fallbacks(server, monkeypatch):
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_URL", server.url)
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", "compat-key")
    backend = OpenAIBackend({"model": "m", "max_retries": 0})
    assert backend.info()["base_url"] == server.url
    ask(backend, ["ok::a"])
    assert server.auth[-1] == "Bearer compat-key"

    monkeypatch.setenv("OPENAI_API_BASE", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "main-key")
    monkeypatch.setenv("MY_SERVER_KEY", "own-key")
    ask(OpenAIBackend({"model": "m"}), ["ok::b"])
    assert server.auth[-1] == "Bearer main-key"
    ask(OpenAIBackend({"model": "m", "api_key_env": "MY_SERVER_KEY"}), ["ok::c"])
    assert server.auth[-1] == "Bearer own-key"

    for name in ("OPENAI_API_KEY", "OPENAI_COMPATIBLE_API_KEY"):
        monkeypatch.delenv(name)
    anonymous = OpenAIBackend({"model": "m"})
    assert anonymous.info()["api_key_set"] is False
    ask(anonymous, ["ok::d"])
    assert server.auth[-1] is None


def test_request_body(server):
    backend = make_backend(
        server,
        extra_body={"top_k": 1, "structured_outputs": {"disable_any_whitespace": True}},
        constrained_choice="structured_outputs",
    )
    ask(backend, ["ok::a", "ok::b"], max_new_tokens=7, choices=[["cat", "dog"], None])
    first, second = sorted(server.bodies, key=lambda b: b["messages"][-1]["content"][1]["text"])
    assert first["max_tokens"] == 7 and "max_completion_tokens" not in first
    assert first["temperature"] == 0 and first["model"] == "served-model"
    assert first["top_k"] == 1
    assert first["structured_outputs"] == {"disable_any_whitespace": True, "choice": ["cat", "dog"]}
    assert second["structured_outputs"] == {"disable_any_whitespace": True}  # no options given

    server.bodies.clear()
    ask(make_backend(server, constrained_choice="guided_choice"), ["ok::c"], choices=[["a", "b"]])
    assert server.bodies[0]["guided_choice"] == ["a", "b"]

    server.bodies.clear()
    lenient = make_backend(
        server, extra_body={"top_k": 1}, constrained_choice="guided_choice", send_extra_body=False
    )
    assert lenient.info()["constrained_choice"] is None
    ask(lenient, ["ok::d"], choices=[["a", "b"]])
    assert set(server.bodies[0]) == {"model", "messages", "max_tokens", "temperature"}

    server.bodies.clear()
    ask(make_backend(server, token_param="max_completion_tokens", temperature=None), ["ok::e"])
    assert server.bodies[0]["max_completion_tokens"] == 5
    assert "max_tokens" not in server.bodies[0] and "temperature" not in server.bodies[0]


def test_images_are_encoded_as_configured(server):
    ask(make_backend(server, image_format="png", max_pixels=6000), ["ok::a"])
    ask(
        make_backend(server, max_pixels=6000, system_prompt="Be brief.", image_first=False),
        ["ok::b"],
    )
    ask(make_backend(server, image_format="png"), ["ok::c"])
    png, jpeg, lossless = server.bodies  # one request each, sent one after the other

    def decode(body: dict) -> Image.Image:
        part = next(p for p in body["messages"][-1]["content"] if p["type"] == "image_url")
        payload = part["image_url"]["url"].split(",", 1)[1]
        image = Image.open(io.BytesIO(base64.b64decode(payload)))
        image.load()
        return image

    assert png["messages"][-1]["content"][0]["type"] == "image_url"  # image first by default
    image = decode(png)
    assert image.format == "PNG" and image.width * image.height <= 6000
    assert jpeg["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": "Be brief."}],
    }
    assert jpeg["messages"][-1]["content"][0]["type"] == "text"
    assert decode(jpeg).format == "JPEG"
    # Without max_pixels, PNG is lossless: the server gets exactly the pixels given.
    assert np.array_equal(np.asarray(decode(lossless)), np.asarray(IMAGES[0]))


def test_concurrency_is_bounded(server):
    prompts = [f"slow:0.3:{i}" for i in range(12)]
    got = ask(make_backend(server, concurrency=3), prompts)
    assert [g.text for g in got] == [f"answer to {p}" for p in prompts]  # input order
    assert 2 <= server.max_inflight <= 3


def test_bad_samples_do_not_stop_the_others(server):
    backend = make_backend(server)
    got = backend.generate([IMAGES[0], "not an image"], ["ok::a", "ok::b"], max_new_tokens=3)  # type: ignore[list-item]
    backend.close()
    assert got[0].error is None
    assert got[1].text is None and got[1].error.startswith("TypeError")
    assert backend.generate([], [], max_new_tokens=3) == []
    with pytest.raises(ValueError):
        backend.generate([IMAGES[0]], [], max_new_tokens=3)


# -- settings, helpers, registry ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"model": "m"}, "base_url"),
        ({"base_url": "http://127.0.0.1:1/v1"}, "'model'"),
        ({"base_url": "ftp://host/v1", "model": "m"}, "http(s)"),
        ({"base_url": "http://host:port/v1", "model": "m"}, "invalid port"),
        ({"base_url": "http://user:hunter2@host/v1", "model": "m"}, "credentials"),
        ({"base_url": "http://h/v1", "model": "m", "api_key": "hunter2"}, "api_key_env"),
        ({"base_url": "http://h/v1", "model": "m", "image_format": "webp"}, "image_format"),
        ({"base_url": "http://h/v1", "model": "m", "concurrency": 0}, "concurrency"),
        ({"base_url": "http://h/v1", "model": "m", "token_param": "n"}, "token_param"),
        ({"base_url": "http://h/v1", "model": "m", "extra_body": {"max_tokens": 1}}, "max_tokens"),
        ({"base_url": "http://h/v1", "model": "m", "constrained_choice": "regex"}, "constrained"),
    ],
)
def test_bad_settings_are_refused(spec, message):
    with pytest.raises(BackendError, match=re.escape(message)) as caught:
        OpenAIBackend(spec)
    assert "hunter2" not in str(caught.value)


def test_endpoint_and_public_url(server):
    """/chat/completions is appended to the API root (or already there); a query in base_url
    goes with every request but is never shown."""
    for base_url in (
        f"{server.url}/",
        f"{server.url}?api-version=2",
        f"{server.url}/chat/completions",
    ):
        backend = make_backend(server, base_url=base_url, checkpoint="org/model", model=None)
        assert backend.info()["model"] == "org/model"
        assert backend.info()["base_url"] == public_url(base_url).rstrip("/")
        ask(backend, ["ok::a"])
    assert server.paths == [
        "/v1/chat/completions", "/v1/chat/completions?api-version=2", "/v1/chat/completions"
    ]  # fmt: skip
    assert public_url("https://u:p@h.example/v1?key=abc") == "https://h.example/v1"


def test_retry_policy():
    """Our settings, not the SDK's fixed delays: doubling from backoff_s with jitter, and any
    wait (Retry-After included) capped by max_backoff_s."""
    assert all(map(retryable_status, (408, 409, 429, 500, 502, 503, 504)))
    assert not any(map(retryable_status, (400, 401, 403, 404, 422)))
    policy = RetryPolicy(max_retries=5, backoff_s=1.0, max_backoff_s=5.0, rng=random.Random(0))
    for attempt, full in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        assert full / 2 <= policy.delay(attempt) <= full
    assert policy.delay(1, retry_after=3600) == 5.0
    assert policy.delay(3, retry_after=0.2) == 0.2


def test_retry_after_dates():
    """An HTTP date is read against the current UTC time, with or without a zone of its own
    ("-0000" parses to a date with no zone: it means UTC)."""
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 -0000", now=now) == 30.0
    assert retry_after_seconds("Thu, 01 Jan 2026 13:00:30 +0100", now=now) == 30.0
    assert retry_after_seconds("Thu, 01 Jan 2026 11:59:00 GMT", now=now) == 0.0  # past: now
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 55 <= retry_after_seconds(soon) <= 60


def test_helpers():
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds(" 0.5 ") == 0.5
    assert retry_after_seconds("-3") == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    url = encode_image(IMAGES[2], "png")
    assert url.startswith("data:image/png;base64,")
    assert encode_image(IMAGES[2]).startswith("data:image/jpeg;base64,")
    assert [p["type"] for p in chat_messages(url, "q")[0]["content"]] == ["image_url", "text"]


def test_load_backend_and_registry_schema(server):
    backend = load_backend({"backend": "openai", "base_url": server.url, "checkpoint": "m"})
    assert isinstance(backend, OpenAIBackend)
    schema = yaml.safe_load(SCHEMA.read_text())
    entry = {
        "backend": "openai",
        "checkpoint": "Qwen/Qwen2-VL-2B-Instruct",
        "base_url": "http://127.0.0.1:8000/v1",
        "api_key_env": "MY_KEY",
        "concurrency": 32,
        "timeout_s": 30,
        "max_retries": 3,
        "image_format": "png",
        "max_pixels": 200704,
        "extra_body": {"top_k": 1},
        "constrained_choice": "structured_outputs",
        "send_extra_body": True,
        "token_param": "max_tokens",
        "temperature": 0,
        "resources": {"gpus": 0},
    }
    validate({"m": entry}, schema, "models.yaml")
    with pytest.raises(ConfigError, match="api_key"):
        validate({"m": {**entry, "api_key": "x"}}, schema, "models.yaml")
    with pytest.raises(ConfigError, match="constrained_choice"):
        validate({"m": {**entry, "constrained_choice": "json"}}, schema, "models.yaml")
