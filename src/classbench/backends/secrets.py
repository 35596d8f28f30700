"""Keeping API keys out of everything the pipeline writes, and out of malformed requests.

A key can come back in a server's error body, an exception message or a log line in many
forms: as given, JSON-escaped, URL-encoded, as Python's ``repr`` shows it (of the text or of its
bytes), HTML-escaped, or cut where a server or a parser splits a value (at whitespace, a quote,
``;``, ...). :func:`redact` replaces every one of those forms with ``***``.

A key that an HTTP header cannot carry (a line break, another control character, a non-ASCII
character, surrounding whitespace) is a configuration error: :func:`check_header_value` says so
before any request is sent, without showing the key.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from classbench.backends.base import BackendError

REDACTED = "***"
# The characters keys are made of. A key holding anything else is also looked for piece by piece,
# split at those characters, since that is where servers and parsers cut a value in two.
_KEY_PIECE = re.compile(r"[A-Za-z0-9._~+/=-]+")
# A shorter piece reveals nothing of the key, and redacting it would blank out ordinary words.
MIN_PIECE = 4
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+")
_PERCENT_ESCAPE = re.compile(r"%([0-9A-F]{2})")


def secret_forms(secret: str) -> set[str]:
    """Every form in which ``secret`` (or a telling piece of it) can appear in text."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        html.escape(secret),
        html.escape(secret, quote=False),
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
    }
    for encoding in ("utf-8", "latin-1"):
        with contextlib.suppress(UnicodeEncodeError):
            forms.add(repr(secret.encode(encoding))[2:-1])
    pieces = _KEY_PIECE.findall(secret)
    if pieces != [secret]:
        for piece in pieces:
            if len(piece) >= MIN_PIECE:
                forms |= {piece, quote(piece, safe="")}
    forms.discard("")
    return forms


@functools.lru_cache(maxsize=8)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    forms = set().union(*(secret_forms(secret) for secret in secrets))
    if not forms:
        return None
    # Longest first, so a whole key is replaced before any piece of it; percent escapes match
    # in either case of their hex digits.
    alternatives = [
        _PERCENT_ESCAPE.sub(lambda m: f"%(?i:{m.group(1)})", re.escape(form))
        for form in sorted(forms, key=lambda form: (-len(form), form))
    ]
    return re.compile("|".join(alternatives))


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every form of each secret, and any bearer token, replaced by ``***``."""
    pattern = _pattern(tuple(sorted({secret for secret in secrets if secret})))
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    return _BEARER.sub(rf"\1 {REDACTED}", text)


def header_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent as an HTTP header value (None when it can).

    The answer names the kind of character and its position, never the value itself.
    """
    for position, char in enumerate(value, start=1):
        code = ord(char)
        if char in "\r\n":
            return f"a line break at character {position}"
        if code < 0x20 or code == 0x7F:
            return f"a control character (U+{code:04X}) at character {position}"
        if code > 0x7E:
            return f"a non-ASCII character at character {position}"
    if value != value.strip():
        return "leading or trailing whitespace"
    return None


def check_header_value(value: str, variable: str) -> None:
    """Raise :class:`BackendError` when the key in environment variable ``variable`` cannot be
    sent in an HTTP header: one configuration error, instead of a failed request per sample."""
    problem = header_problem(value)
    if problem:
        raise BackendError(
            f"the API key in ${variable} cannot be sent in an HTTP header: it holds {problem}. "
            "Set the variable to the key alone (printable ASCII, no line break)."
        )
