"""Client for OpenAI-compatible ``/chat/completions`` servers (a GenerativeBackend).

One code path for ``vllm serve`` and ``transformers serve`` (``.../v1``), OpenVINO Model Server
(``.../v3``) and hosted APIs, through the official ``openai`` SDK. Each (image, prompt) pair
becomes one request with the image as a base64 data URL; requests run on a bounded thread pool
and are retried with exponential backoff on transient failures only, by this module's
:class:`~classbench.backends.retry.RetryPolicy` (the SDK's own retries are off). A request that
still fails becomes a :class:`Generation` with ``error`` set and no text, so it is recorded and
retried by the next run, never scored.

The API key is read from the environment when each request is sent. It is never stored on the
backend, returned by :meth:`OpenAIBackend.info`, logged, or left in an error message.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2
import openai
from PIL import Image

from classbench.backends.base import (
    BackendError,
    Generation,
    GenerativeBackend,
    Sample,
    conversation,
)
from classbench.backends.retry import (
    RETRY_AFTER_STATUS,
    RetryPolicy,
    retry_after_seconds,
    retryable_status,
)
from classbench.backends.secrets import check_header_value, redact

log = logging.getLogger(__name__)

BASE_URL_ENV = ("OPENAI_API_BASE", "OPENAI_COMPATIBLE_API_URL")
API_KEY_ENV = ("OPENAI_API_KEY", "OPENAI_COMPATIBLE_API_KEY")
IMAGE_FORMATS = ("jpeg", "png")
TOKEN_PARAMS = ("max_tokens", "max_completion_tokens")
CONSTRAINED_CHOICE = ("structured_outputs", "guided_choice")
# Body keys the backend sets itself; extra_body overriding them would silently change answers.
RESERVED_KEYS = frozenset(
    {"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "stream"}
)
# The request fields `chat.completions.create` takes by name; the others go as `extra_body`.
SDK_FIELDS = ("model", "messages", "max_tokens", "max_completion_tokens", "temperature")
ERROR_BODY_CHARS = 300


def encode_image(image: Image.Image, image_format: str = "jpeg", quality: int = 90) -> str:
    """A ``data:`` URL holding ``image`` encoded as JPEG (``quality``) or lossless PNG."""
    buffer = io.BytesIO()
    if image_format == "jpeg":
        image.save(buffer, format="JPEG", quality=quality)
    elif image_format == "png":
        image.save(buffer, format="PNG")
    else:
        raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {image_format!r}")
    payload = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/{image_format};base64,{payload}"


def chat_messages(
    image_url: str, prompt: str, *, system_prompt: str | None = None, image_first: bool = True
) -> list[dict[str, Any]]:
    """The conversation sent for one sample.

    Same structure as the in-process transformers backend (optional system turn with one text
    part, then a user turn with one image and one text part), so a server that applies the
    checkpoint's chat template renders the same prompt.
    """
    return conversation(
        {"type": "image_url", "image_url": {"url": image_url}},
        prompt,
        system_prompt=system_prompt,
        image_first=image_first,
    )


def public_url(url: str) -> str:
    """``url`` without user info, query or fragment: safe to log and to store."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


class OpenAIBackend(GenerativeBackend):
    """Vision-language answers from an OpenAI-compatible chat completions server."""

    name = "openai"

    def __init__(self, spec: Mapping[str, Any]):
        spec = dict(spec)
        if "api_key" in spec:
            # Anything in the spec ends up in predictions metadata and provenance.
            raise BackendError(
                "the openai backend does not take an 'api_key' setting; put the key in an "
                "environment variable and name it with 'api_key_env'"
            )
        base_url = spec.get("base_url") or next(
            (os.environ[name] for name in BASE_URL_ENV if os.environ.get(name)), None
        )
        if not base_url:
            raise BackendError(
                "the openai backend needs a 'base_url' (e.g. http://127.0.0.1:8000/v1) or the "
                f"environment variable {BASE_URL_ENV[0]} (or {BASE_URL_ENV[1]})"
            )
        parts = urlsplit(str(base_url))
        try:
            parts.port  # noqa: B018 - only parsed to reject a malformed port early
        except ValueError:
            raise BackendError("base_url has an invalid port") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendError(
                f"base_url must be an http(s) URL with a host, got {public_url(str(base_url))!r}"
            )
        if parts.username is not None or parts.password is not None:
            raise BackendError(
                "base_url must not contain credentials (user:password@host); put the key in "
                "the environment variable named by 'api_key_env'"
            )
        # The SDK appends /chat/completions to the API root. A query (?api-version=...) is part
        # of some servers' routes: it goes with every request. Only public_url() is shown.
        path = parts.path.rstrip("/").removesuffix("/chat/completions")
        self._api_root = f"{parts.scheme}://{parts.netloc}{path}"
        self._query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.base_url = public_url(str(base_url).rstrip("/"))

        self.api_key_env: str | None = spec.get("api_key_env")
        self.model: str = str(spec.get("model") or spec.get("checkpoint") or "")
        if not self.model:
            raise BackendError("the openai backend needs 'model' (the served name) or 'checkpoint'")
        self.concurrency = _positive_int(spec, "concurrency", 16)
        self.timeout_s = _positive_float(spec, "timeout_s", 60.0)
        self.max_retries = _int_at_least(spec, "max_retries", 5, 0)
        self.backoff_s = _positive_float(spec, "backoff_s", 1.0)
        self.max_backoff_s = _positive_float(spec, "max_backoff_s", 60.0)
        self.retry = RetryPolicy(self.max_retries, self.backoff_s, self.max_backoff_s)
        self.image_format = str(spec.get("image_format") or "jpeg").lower()
        if self.image_format == "jpg":
            self.image_format = "jpeg"
        if self.image_format not in IMAGE_FORMATS:
            raise BackendError(
                f"image_format must be one of {IMAGE_FORMATS}, got {spec.get('image_format')!r}"
            )
        self.jpeg_quality = _int_at_least(spec, "jpeg_quality", 90, 1)
        if self.jpeg_quality > 100:
            raise BackendError(f"jpeg_quality must be at most 100, got {self.jpeg_quality}")
        self.max_pixels: int | None = spec.get("max_pixels")
        self.system_prompt: str | None = spec.get("system_prompt")
        self.image_first = bool(spec.get("image_first", True))
        # Greedy by default; an explicit null leaves temperature out of the request (models
        # such as OpenAI's o-series reject any value but their own).
        self.temperature: float | None = spec.get("temperature", 0.0)
        self.token_param = str(spec.get("token_param") or "max_tokens")
        if self.token_param not in TOKEN_PARAMS:
            raise BackendError(
                f"token_param must be one of {TOKEN_PARAMS}, got {self.token_param!r}"
            )
        self.extra_body: dict[str, Any] = dict(spec.get("extra_body") or {})
        clash = sorted(RESERVED_KEYS & set(self.extra_body))
        if clash:
            raise BackendError(
                f"extra_body must not set {', '.join(clash)}: the backend sets them from the "
                "spec ('model', 'temperature') and the task (max_new_tokens)"
            )
        self.send_extra_body = bool(spec.get("send_extra_body", True))
        constrained = spec.get("constrained_choice")
        if constrained not in (None, *CONSTRAINED_CHOICE):
            raise BackendError(
                f"constrained_choice must be null or one of {CONSTRAINED_CHOICE}, got "
                f"{constrained!r}"
            )
        if constrained and not self.send_extra_body:
            # Both travel as non-standard body fields, which this server is said to reject.
            log.warning(
                "openai backend: constrained_choice=%s is ignored because send_extra_body is "
                "false; answers are parsed from free text",
                constrained,
            )
            constrained = None
        self.constrained_choice: str | None = constrained

        self._client: openai.OpenAI | None = None
        self._client_lock = threading.Lock()
        # A key no header can carry fails here, once, before any request.
        self._api_key()

    # -- credentials ---------------------------------------------------------------------------

    def _key_names(self) -> tuple[str, ...]:
        return (self.api_key_env,) if self.api_key_env else API_KEY_ENV

    def _key_variable(self) -> str | None:
        """The name of the first key variable that is set (None: no key)."""
        return next((name for name in self._key_names() if os.environ.get(name)), None)

    def _api_key(self) -> str | None:
        """The key, read now from the environment (so rotation needs no restart); a key that
        cannot be sent in a header is a :class:`BackendError`."""
        name = self._key_variable()
        if name is None:
            return None
        key = os.environ[name]
        check_header_value(key, name)
        return key

    def _redact(self, text: str, *keys: str | None) -> str:
        """``text`` without any form of the API key (the current one and ``keys``, those a
        request was sent with) or of a bearer token."""
        name = self._key_variable()
        return redact(text, (os.environ[name] if name else None, *keys))

    # -- requests ------------------------------------------------------------------------------

    def build_body(
        self,
        image: Image.Image,
        prompt: str,
        *,
        max_new_tokens: int,
        choices: list[str] | None = None,
    ) -> dict[str, Any]:
        """The JSON body of one chat completions request."""
        url = encode_image(self.prepare_image(image), self.image_format, self.jpeg_quality)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": chat_messages(
                url, prompt, system_prompt=self.system_prompt, image_first=self.image_first
            ),
            # Always explicit: servers default to hundreds or thousands of new tokens.
            self.token_param: int(max_new_tokens),
        }
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.send_extra_body:
            body.update(self.extra_body)
            if choices is not None and self.constrained_choice == "structured_outputs":
                structured = dict(body.get("structured_outputs") or {})
                structured["choice"] = list(choices)
                body["structured_outputs"] = structured
            elif choices is not None and self.constrained_choice == "guided_choice":
                body["guided_choice"] = list(choices)
        return body

    def _client_or_new(self) -> openai.OpenAI:
        with self._client_lock:
            if self._client is None:
                # The SDK's own HTTP client library, without redirects, as many connections as
                # requests in flight.
                connections = httpx2.Client(
                    timeout=httpx2.Timeout(self.timeout_s),
                    limits=httpx2.Limits(
                        max_connections=self.concurrency,
                        max_keepalive_connections=self.concurrency,
                    ),
                )
                self._client = openai.OpenAI(
                    # The SDK's own key lookup is unused: each request carries the key read from
                    # the environment when it is sent, so the client never holds one.
                    api_key=_no_stored_key,
                    base_url=self._api_root,
                    default_query=self._query or None,
                    timeout=self.timeout_s,
                    max_retries=0,
                    http_client=connections,
                )
            return self._client

    def _send(self, body: dict[str, Any]) -> Generation:
        """POST one body, retrying transient failures. Every failure becomes the Generation's
        error; only a key rotated to one no header can carry raises (:class:`BackendError`)."""
        client = self._client_or_new()
        fields = {name: body[name] for name in SDK_FIELDS if name in body}
        extra = {name: value for name, value in body.items() if name not in SDK_FIELDS}
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            wait: float | None = None
            key = self._api_key()
            auth = f"Bearer {key}" if key else openai.Omit()
            start = time.perf_counter()
            try:
                raw = client.chat.completions.with_raw_response.create(
                    **fields, extra_body=extra or None, extra_headers={"Authorization": auth}
                )
            except openai.APITimeoutError as err:
                cause = err.__cause__ or err
                error = f"Timeout: {type(cause).__name__} after {self.timeout_s:g} s"
                retry = True
            except openai.APIConnectionError as err:  # refused, reset, dropped mid-response
                cause = err.__cause__ or err
                error = f"ConnectionError: {type(cause).__name__}: {cause}"
                retry = True
            except openai.APIStatusError as err:
                status = err.status_code
                detail = self._redact(err.response.text, key)[:ERROR_BODY_CHARS].strip()
                error = f"HTTPStatus {status}: {detail}"
                retry = retryable_status(status)
                if status in RETRY_AFTER_STATUS:
                    wait = retry_after_seconds(err.response.headers.get("Retry-After"))
            except Exception as err:  # anything else is a bug or a bad request, not transient
                error = f"{type(err).__name__}: {err}"
                retry = False
            else:
                return self._parse(raw.http_response, time.perf_counter() - start)
            if not retry or attempt == attempts:
                tries = f"{attempt} attempt" + ("s" if attempt > 1 else "")
                return Generation.failed(self._redact(f"{error} ({tries})", key))
            delay = self.retry.delay(attempt, wait)
            log.warning(
                "openai request failed (%s); retry %d/%d in %.2f s",
                self._redact(error, key)[:ERROR_BODY_CHARS],
                attempt,
                self.max_retries,
                delay,
            )
            time.sleep(delay)
        raise AssertionError("unreachable: the last attempt always returns")

    def _parse(self, response: httpx2.Response, latency: float) -> Generation:
        """A successful response as a Generation (an unusable body is an error)."""
        try:
            data = response.json()
            choice = data["choices"][0]
            message = choice.get("message") or {}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            snippet = self._redact(response.text)[:ERROR_BODY_CHARS].strip()
            return Generation.failed(f"BadResponse: {snippet}")
        text = message.get("content")
        if not isinstance(text, str):
            # A refusal or tool call instead of an answer: nothing to score.
            reason = choice.get("finish_reason")
            return Generation.failed(f"NoContent: finish_reason={reason}")
        usage = data.get("usage") or {}
        return Generation(
            text=text.strip(),
            tokens_in=_int_or_none(usage.get("prompt_tokens")),
            tokens_out=_int_or_none(usage.get("completion_tokens")),
            latency_s=latency,
        )

    def _answer(self, sample: Sample, max_new_tokens: int) -> Generation:
        try:
            body = self.build_body(
                sample.image, sample.prompt, max_new_tokens=max_new_tokens, choices=sample.choices
            )
        except Exception as err:  # a bad image must not stop the other samples
            return Generation.failed(self._redact(f"{type(err).__name__}: {err}"))
        return self._send(body)

    # -- GenerativeBackend -----------------------------------------------------------------------

    def answer(self, samples: list[Sample], max_new_tokens: int) -> list[Generation]:
        """One answer per sample, in input order; at most ``concurrency`` in flight.

        The samples' ``choices`` constrain the answers only when ``constrained_choice`` is set
        (and the server accepts the extra field); otherwise they are ignored.

        ``latency_s`` is the round trip of the request that succeeded. Requests overlap, so
        unlike a batched backend's share of a batch, these latencies add up to more than the
        wall time.
        """
        self._api_key()  # a key rotated to one no header can carry fails the call at once
        # Images are encoded on the worker threads, so at most `concurrency` encoded copies
        # exist at a time.
        with ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(samples)), thread_name_prefix="openai"
        ) as pool:
            futures = [pool.submit(self._answer, sample, max_new_tokens) for sample in samples]
            return [future.result() for future in futures]

    def info(self) -> dict[str, Any]:
        """What identifies this backend's outputs (no credentials: only whether a key is set)."""
        return {
            "backend": self.name,
            "base_url": self.base_url,
            "model": self.model,
            "image_format": self.image_format,
            "jpeg_quality": self.jpeg_quality if self.image_format == "jpeg" else None,
            "max_pixels": self.max_pixels,
            "system_prompt": self.system_prompt,
            "image_first": self.image_first,
            "temperature": self.temperature,
            "token_param": self.token_param,
            "constrained_choice": self.constrained_choice,
            "send_extra_body": self.send_extra_body,
            "extra_body": dict(self.extra_body) if self.send_extra_body else None,
            "concurrency": self.concurrency,
            "timeout_s": self.timeout_s,
            "max_retries": self.max_retries,
            "api_key_env": self._key_variable() or self._key_names()[0],
            "api_key_set": self._key_variable() is not None,
            "openai_version": openai.__version__,
            "httpx2_version": httpx2.__version__,
        }

    def close(self) -> None:
        """Close the connection pool (a later :meth:`generate` opens a new one)."""
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _no_stored_key() -> str:
    return ""


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _int_at_least(spec: Mapping[str, Any], key: str, default: int, minimum: int) -> int:
    value = spec.get(key)
    value = default if value is None else value
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BackendError(f"{key} must be an integer >= {minimum}, got {value!r}")
    return value


def _positive_int(spec: Mapping[str, Any], key: str, default: int) -> int:
    return _int_at_least(spec, key, default, 1)


def _positive_float(spec: Mapping[str, Any], key: str, default: float) -> float:
    value = spec.get(key)
    value = default if value is None else value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise BackendError(f"{key} must be a number > 0, got {value!r}")
    return float(value)
