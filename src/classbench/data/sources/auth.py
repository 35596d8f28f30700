"""Credentials for gated Hugging Face datasets, read from the environment and nowhere else.

The token is never part of a registry entry, a rule's params, ``meta.json`` or a log line: it is
read here, handed straight to the hub client, and scrubbed from any error message that passes
through :func:`hub_errors`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from classbench.data.manifest import DatasetError

TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def hub_token(name: str, source: Mapping[str, Any]) -> str | None:
    """The hub token for ``source``: required when ``gated: true``, else left to the client.

    For ungated sources ``None`` is returned, so the hub client falls back to its own defaults.
    """
    if not source.get("gated"):
        return None
    for variable in TOKEN_VARIABLES:
        token = os.environ.get(variable, "").strip()
        if token:
            return token
    where = source.get("repo") or _file_repo(source) or "the Hugging Face Hub"
    raise DatasetError(
        f"dataset '{name}' is gated ({where}): accept its terms on the Hugging Face Hub, then set "
        f"{TOKEN_VARIABLES[0]} (or {TOKEN_VARIABLES[1]}) in the environment of the run; "
        "the token is read only from the environment"
    )


def _file_repo(source: Mapping[str, Any]) -> str | None:
    for key in ("archive", "split_file", "classnames_file"):
        value = source.get(key)
        if isinstance(value, Mapping) and value.get("repo"):
            return str(value["repo"])
    return None


def redact(text: str, token: str | None) -> str:
    """``text`` with every occurrence of ``token`` replaced by ``***``."""
    return text.replace(token, "***") if token else text


@contextmanager
def hub_errors(name: str, token: str | None, what: str) -> Iterator[None]:
    """Turn a hub client failure into a :class:`DatasetError` that cannot carry the token.

    With a token in play the original exception is not chained (``from None``): its message and
    arguments could echo request headers, and a chained traceback would print them to the log.
    """
    try:
        yield
    except DatasetError:
        raise
    except Exception as err:
        if token is None:
            raise DatasetError(f"dataset '{name}': could not load {what}: {err}") from err
        message = redact(f"{type(err).__name__}: {err}", token)
        raise DatasetError(f"dataset '{name}': could not load {what}: {message}") from None
