"""Compare two demo ``results/`` trees: the same predictions, judge verdicts, scores, summary
and ratings, row for row and value for value.

    python bench/compare_demo.py BEFORE/results AFTER/results [--rtol 0] [--atol 0]
        [--ignore-column NAME ...]

Typical use: run ``make demo`` (or its first snakemake command) in a checkout of an older
commit and in one of this commit, then compare the two trees. It reads the files with pandas
alone, so it runs against any version of the pipeline. Exit status 0 when every compared value
is equal, 1 when something differs (each difference is printed), 2 on a usage error.

What it compares, keyed by row (not by file order):

- ``predictions/{dataset}/{task}/{model}.parquet`` and ``judge/...`` and ``scores/...``: by
  ``sample_id``;
- ``summary.parquet``: by ``dataset, group, task, model, metric``;
- ``elo/{task}/{scope}.parquet``: by ``model`` (and ``*.games.parquet`` row by row).

What it leaves out, and why:

- the columns ``latency_s`` and ``wall_share_s``: wall-clock time, different on every run,
  and each column named with ``--ignore-column`` (one whose values changed on purpose: say why
  where the result is reported);
- parquet key-value metadata (package versions, git commit, host, throughput): provenance;
- what only the AFTER tree has (files, columns, summary rows of a metric): the file contracts
  add columns and metrics, never rename them, so these are additions made on purpose; they are
  listed, not compared. A file, column or row that only the BEFORE tree has is a difference;
- tables, figures, gallery pages and the HTML report: rendered from the compared files, with a
  layout that may change on purpose; checkpoint chunks (``*.parquet.chunks``): intermediate;
  ``logs/`` and ``benchmarks/`` lie outside ``results/``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TIMING_COLUMNS = ("latency_s", "wall_share_s")
SAMPLE_KEY = ("sample_id",)
# Relative glob -> the columns that identify a row (empty: compare in file order).
COMPARED: dict[str, tuple[str, ...]] = {
    "predictions/*/*/*.parquet": SAMPLE_KEY,
    "judge/*/*/*.parquet": SAMPLE_KEY,
    "scores/*/*/*.parquet": SAMPLE_KEY,
    "summary.parquet": ("dataset", "group", "task", "model", "metric"),
    "elo/*/*.games.parquet": (),
    "elo/*/*.parquet": ("model",),
}
EXAMPLES = 3


def normal(value: Any) -> Any:
    """A cell as plain Python: arrays as lists, numpy scalars as numbers, every null as None."""
    if isinstance(value, np.ndarray | list | tuple):
        return [normal(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def same(a: Any, b: Any, rtol: float, atol: float) -> bool:
    """Equal cells; numbers (not booleans) within ``atol + rtol * |b|``."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y, rtol, atol) for x, y in zip(a, b, strict=True))
    numbers = (int, float)
    if (
        isinstance(a, numbers)
        and isinstance(b, numbers)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return abs(a - b) <= atol + rtol * abs(b)
    return a == b


def files(root: Path) -> dict[str, tuple[str, ...]]:
    """Relative path -> row key, for every compared file under ``root``."""
    found: dict[str, tuple[str, ...]] = {}
    for pattern, key in COMPARED.items():
        for path in sorted(root.glob(pattern)):
            found.setdefault(path.relative_to(root).as_posix(), key)
    return found


def compare_frames(
    before: pd.DataFrame,
    after: pd.DataFrame,
    key: Sequence[str],
    rtol: float = 0.0,
    atol: float = 0.0,
    ignored: Sequence[str] = (),
) -> tuple[list[str], list[str]]:
    """(differences, additions) between two versions of one file."""
    differences: list[str] = []
    additions: list[str] = []
    missing = [c for c in before.columns if c not in after.columns]
    added = [c for c in after.columns if c not in before.columns]
    if missing:
        differences.append(f"columns gone: {missing}")
    if added:
        additions.append(f"new columns: {added}")
    left_out = {*TIMING_COLUMNS, *ignored}
    columns = [c for c in before.columns if c in after.columns and c not in left_out]
    if key:
        if before.duplicated(list(key)).any() or after.duplicated(list(key)).any():
            differences.append(f"{list(key)} does not identify the rows")
            return differences, additions
        before, after = before.set_index(list(key)), after.set_index(list(key))
        gone = before.index.difference(after.index)
        new = after.index.difference(before.index)
        if len(gone):
            differences.append(f"{len(gone)} rows gone, e.g. {list(gone[:EXAMPLES])}")
        if len(new):
            additions.append(_new_rows(new, key))
        common = before.index.intersection(after.index, sort=False)
        before, after = before.loc[common], after.loc[common]
        columns = [c for c in columns if c not in key]
    elif len(before) != len(after):
        differences.append(f"{len(before)} rows before, {len(after)} after")
        return differences, additions
    for column in columns:
        pairs = zip(before[column].tolist(), after[column].tolist(), strict=True)
        unequal = [
            (label, a, b)
            for label, (a, b) in zip(before.index, pairs, strict=True)
            if not same(normal(a), normal(b), rtol, atol)
        ]
        if unequal:
            shown = "; ".join(f"{label}: {a!r} -> {b!r}" for label, a, b in unequal[:EXAMPLES])
            differences.append(f"{column}: {len(unequal)} of {len(before)} values differ ({shown})")
    return differences, additions


def _new_rows(index: pd.Index, key: Sequence[str]) -> str:
    if "metric" in key:  # the summary: name the metrics the new rows belong to
        metrics = sorted({row[list(key).index("metric")] for row in index})
        return f"{len(index)} new rows, of the metrics {metrics}"
    return f"{len(index)} new rows, e.g. {list(index[:EXAMPLES])}"


def compare_trees(
    before: Path,
    after: Path,
    rtol: float = 0.0,
    atol: float = 0.0,
    ignored: Sequence[str] = (),
) -> bool:
    """Print what differs and what was added; True when nothing compared differs."""
    old, new = files(before), files(after)
    equal = True
    for name in sorted(set(old) - set(new)):
        print(f"DIFFERENT {name}: only in {before}")
        equal = False
    for name in sorted(set(new) - set(old)):
        print(f"added     {name}: only in {after} (not compared)")
    compared = sorted(set(old) & set(new))
    for name in compared:
        differences, additions = compare_frames(
            pd.read_parquet(before / name),
            pd.read_parquet(after / name),
            old[name],
            rtol,
            atol,
            ignored,
        )
        for line in additions:
            print(f"added     {name}: {line} (not compared)")
        for line in differences:
            print(f"DIFFERENT {name}: {line}")
        equal = equal and not differences
    verdict = "identical" if equal else "DIFFERENT"
    also = f" (left out: {', '.join(ignored)})" if ignored else ""
    print(f"{verdict}: {len(compared)} files compared, {before} against {after}{also}")
    return equal


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="the older results/ folder")
    parser.add_argument("after", type=Path, help="the newer results/ folder")
    parser.add_argument("--rtol", type=float, default=0.0, help="relative tolerance of numbers")
    parser.add_argument("--atol", type=float, default=0.0, help="absolute tolerance of numbers")
    parser.add_argument(
        "--ignore-column",
        action="append",
        default=[],
        metavar="NAME",
        help="a column not to compare, wherever it appears (repeat for several)",
    )
    args = parser.parse_args(argv)
    for root in (args.before, args.after):
        if not (root / "summary.parquet").is_file():
            print(f"{root}: no summary.parquet; is it a finished results/ folder?")
            return 2
    equal = compare_trees(args.before, args.after, args.rtol, args.atol, args.ignore_column)
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
