"""Redaction of API keys in every form they come back in, and keys no header can carry."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import quote, quote_plus

import pytest

from classbench.backends.base import BackendError
from classbench.backends.secrets import check_header_value, header_problem, redact

KEYS = {
    "plain": "sk-classbench-SECRET-0123456789",
    "space": "sk-classbench SECRET-spaced-part",
    "quote": "sk-classbench\"SECRET'quoted-part",
    "semicolon": "sk-classbench;SECRET-after-semicolon",
    "markup": "sk-classbench&<SECRET>-markup",
    "backslash": "sk-classbench\\SECRET-backslash",
    "newline": "sk-classbench\nSECRET-next-line",
    "non-ascii": "sk-classbench-SÉCRET-€uro",
}
FORMS = {
    "raw": lambda key: key,
    "json": lambda key: json.dumps({"error": key}),
    "json-unicode": lambda key: json.dumps({"error": key}, ensure_ascii=False),
    "url": lambda key: "https://auth.example/?key=" + quote(key, safe=""),
    "url-lowercase": lambda key: re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(key)),
    "url-plus": lambda key: "key=" + quote_plus(key),
    "repr": lambda key: f"ValueError({key!r})",
    "bytes-repr": lambda key: f"Illegal header value {('Bearer ' + key).encode()!r}",
    "html": lambda key: f"<p>Invalid key <b>{html.escape(key)}</b></p>",
    "split": lambda key: "parts: " + " | ".join(re.split(r"[^A-Za-z0-9._~+/=-]+", key)),
}


def telling_pieces(key: str) -> list[str]:
    """The key and each piece of it long enough to matter."""
    return [key, *(p for p in re.split(r"[^A-Za-z0-9._~+/=-]+", key) if len(p) >= 4)]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS)
def test_every_form_of_a_key_is_redacted(key, form):
    echoed = f"server said: {FORMS[form](key)} (request 7)"
    cleaned = redact(echoed, [key])
    assert [piece for piece in telling_pieces(key) if piece in cleaned] == []
    assert "SECRET" not in cleaned and "SÉCRET" not in cleaned
    assert cleaned.startswith("server said: ") and cleaned.endswith(" (request 7)")
    assert "***" in cleaned


def test_short_pieces_and_other_text_are_kept():
    # "ab" and "cd" reveal nothing and would blank out ordinary words.
    assert redact("grab a card", ["ab;cd"]) == "grab a card"
    assert redact("nothing to hide", [None, ""]) == "nothing to hide"
    assert redact("Authorization: Bearer tok-123, next", []) == "Authorization: Bearer ***, next"


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("sk-abc\r", "a line break at character 7"),
        ("sk-abc\ndef", "a line break at character 7"),
        ("sk\tabc", "a control character (U+0009) at character 3"),
        ("sk-\x7f", "a control character (U+007F) at character 4"),
        ("sk-café", "a non-ASCII character at character 7"),
        ("sk-€", "a non-ASCII character at character 4"),
        (" sk-abc", "leading or trailing whitespace"),
        ("sk-abc ", "leading or trailing whitespace"),
        ("sk-a b\"c;d'e&f<g>", None),
    ],
)
def test_header_problems_name_the_character_never_the_key(key, problem):
    assert header_problem(key) == problem
    if problem is None:
        check_header_value(key, "MY_KEY")
        return
    with pytest.raises(BackendError, match=re.escape("$MY_KEY cannot be sent")) as caught:
        check_header_value(key, "MY_KEY")
    assert key.strip() not in str(caught.value)
