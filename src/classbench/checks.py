"""Check results and the one table that shows them (the preflight, ``datasets pin``)."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

OK, WARNING, PROBLEM = "ok", "warning", "PROBLEM"
_ORDER = {PROBLEM: 0, WARNING: 1, OK: 2}
# Column widths the free-text columns wrap at; the others fit their longest value.
_WRAP = {"detail": 58, "fix": 58}


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, how it went, and what to do when it went wrong."""

    area: str  # dataset, model, disk, slurm, pins
    item: str  # the dataset or model name, or what the row is about
    status: str  # OK, WARNING or PROBLEM
    detail: str
    fix: str = ""


def problems(checks: Sequence[Check]) -> list[Check]:
    return [check for check in checks if check.status == PROBLEM]


def render(checks: Sequence[Check], title: str = "preflight") -> str:
    """One plain-text table, problems first, then a count line."""
    rows = sorted(checks, key=lambda c: (_ORDER.get(c.status, 3), c.area, c.item))
    header = {"area": "area", "item": "item", "status": "status", "detail": "detail", "fix": "fix"}
    cells = [header] + [
        {"area": c.area, "item": c.item, "status": c.status, "detail": c.detail, "fix": c.fix}
        for c in rows
    ]
    widths = {
        column: min(_WRAP.get(column, 1000), max(len(row[column]) for row in cells))
        for column in header
    }
    lines = []
    for number, row in enumerate(cells):
        wrapped = {
            column: textwrap.wrap(
                row[column], widths[column], break_long_words=False, break_on_hyphens=False
            )
            or [""]
            for column in header
        }
        for index in range(max(len(parts) for parts in wrapped.values())):
            parts = [
                (wrapped[column][index] if index < len(wrapped[column]) else "").ljust(
                    widths[column]
                )
                for column in header
            ]
            lines.append("  ".join(parts).rstrip())
        if number == 0:
            lines.append("  ".join("-" * widths[column] for column in header))
    counts = Counter(check.status for check in checks)
    lines.append(
        f"{title}: {counts[OK]} ok, {counts[WARNING]} warnings, {counts[PROBLEM]} problems"
    )
    return "\n".join(lines)
