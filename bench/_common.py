"""Shared helpers of the benchmark scripts: timing, machine description, result tables.

The scripts in ``bench/`` are not tests: each one measures one figure of ``docs/performance.md``
against a baseline timed in the same process, so that the ratio holds even when the machine is
shared and absolute times drift.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # runnable from a checkout without an install
    sys.path.insert(0, str(REPO / "src"))


def timed(fn: Callable[[], T], repeat: int = 3, warmup: int = 0) -> tuple[float, list[float], T]:
    """Run ``fn`` warmup + repeat times; return (median seconds, all timings, last result)."""
    result: Any = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (Linux), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    """Total RAM in GiB (Linux), else None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def machine() -> str:
    """One line describing the machine the figures come from."""
    ram = memory_gib()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} cores {platform.machine()} ({cpu_model()}), "
        f"{ram:.0f} GiB RAM, Python {platform.python_version()}, "
        f"1-min load at start {load:.2f}"
    )


def header(title: str) -> None:
    """Print the benchmark title and the machine line."""
    print(f"== {title}")
    print(f"machine: {machine()}")


def table(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> str:
    """A Markdown table (the format ``docs/performance.md`` uses)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ratio: float, goal: float, higher_is_better: bool = True) -> str:
    """ "yes" when ``ratio`` meets ``goal``."""
    met = ratio >= goal if higher_is_better else ratio <= goal
    return "yes" if met else "no"
