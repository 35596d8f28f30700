"""When an HTTP request is tried again, and after how long.

The OpenAI-compatible backend applies this policy itself, with the SDK's own retries off: the
SDK's delays are fixed (0.5 s doubling up to 8 s), and it gives up at once on a ``Retry-After``
longer than two minutes instead of waiting at most ``max_backoff_s``.
"""

from __future__ import annotations

import email.utils
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Worth another try: the server or a proxy was overloaded, restarting or timed out. Any other
# 4xx is the request's own fault and fails at once.
RETRY_STATUS = frozenset({408, 409, 429})
# Statuses whose Retry-After header says when to come back.
RETRY_AFTER_STATUS = frozenset({429, 503})


def retryable_status(status: int) -> bool:
    """Whether an HTTP error status is transient: 408, 409, 429 and every 5xx."""
    return status in RETRY_STATUS or status >= 500


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), else None."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


@dataclass
class RetryPolicy:
    """Up to ``max_retries`` retries; the n-th waits ``backoff_s * 2**(n-1)`` with jitter (half to
    all of it), or the server's ``Retry-After``, never longer than ``max_backoff_s``."""

    max_retries: int
    backoff_s: float
    max_backoff_s: float
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(self.max_backoff_s, retry_after)
        delay = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        return delay * (0.5 + 0.5 * self.rng.random())
