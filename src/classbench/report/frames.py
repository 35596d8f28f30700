"""Numeric frames from the summary: dataset order, means over datasets, the tables' layout.

The tables and the figures share these, so a mean over datasets is the same number in both. A
mean over datasets (group columns, ``all``, ``Avg``) is the plain mean of the per-dataset values,
computed only for rows that have every dataset of the column. Its interval treats the datasets as
independent and their intervals as symmetric: mean ± sqrt(sum h_i²) / m, with h_i the per-dataset
half-widths (the mean of the bounds would assume perfectly correlated errors), clipped to the
range the metric's declaration gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from classbench.scoring.registry import describe_column

STAT = "stat"
VALUE, CI_LOW, CI_HIGH = "value", "ci_low", "ci_high"
STATS = (VALUE, CI_LOW, CI_HIGH)
ALL = "all"
AVG = "Avg"
GROUP_ORDER = ("prototypical", "non-prototypical", "fine-grained", "very fine-grained")


def _group_key(group: object) -> str:
    return re.sub(r"[\s_-]+", " ", str(group).strip().lower())


_GROUP_KEYS = [_group_key(g) for g in GROUP_ORDER]


def group_rank(group: object) -> tuple[int, str]:
    """Sort key: the four granularity groups from coarse to fine, then any other group by name."""
    key = _group_key(group)
    return (_GROUP_KEYS.index(key) if key in _GROUP_KEYS else len(_GROUP_KEYS), str(group))


def dataset_order(summary: pd.DataFrame) -> list[str]:
    """Datasets of ``summary`` ordered by granularity group, then by name."""
    if summary.empty:
        return []
    groups = summary.drop_duplicates("dataset").set_index("dataset")["group"]
    return sorted(groups.index, key=lambda d: (group_rank(groups[d]), str(d)))


def _metric_range(metric: object) -> tuple[float, float]:
    column = describe_column(str(metric))
    return column.value_range if column is not None else (-np.inf, np.inf)


def aggregate_datasets(
    summary: pd.DataFrame, rows: Sequence[str], columns: Mapping[Any, Sequence[str]]
) -> pd.DataFrame:
    """Mean ``value`` over each named set of datasets, per row key, with a propagated interval.

    ``columns`` maps an output label to the datasets it averages. Returns a long frame
    ``*rows, column, value, ci_low, ci_high``; a row gets a value for a column only if it has
    every dataset of the set. A single-dataset set keeps that dataset's own (asymmetric) bounds.
    """
    rows = list(rows)
    out_columns = [*rows, "column", *STATS]
    if summary.empty or not columns:
        return pd.DataFrame(columns=out_columns)
    data = summary.drop_duplicates([*rows, "dataset"], keep="last")
    wide = data.set_index([*rows, "dataset"])[list(STATS)].astype(float).unstack("dataset")
    parts = []
    for label, datasets in columns.items():
        ds = list(datasets)
        if not ds:
            continue
        val = wide[VALUE].reindex(columns=ds)
        low = wide[CI_LOW].reindex(columns=ds)
        high = wide[CI_HIGH].reindex(columns=ds)
        if len(ds) == 1:
            mean, lo, hi = val.iloc[:, 0], low.iloc[:, 0], high.iloc[:, 0]
        else:
            mean = val.mean(axis=1, skipna=False)
            half = np.sqrt(((high - low) / 2).pow(2).sum(axis=1, skipna=False)) / len(ds)
            lo, hi = mean - half, mean + half
        part = pd.DataFrame({VALUE: mean, CI_LOW: lo, CI_HIGH: hi}).reset_index()
        part["column"] = label
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=out_columns)
    long = pd.concat(parts, ignore_index=True)
    long = long[long[VALUE].notna()]
    if "metric" in long:
        bounds = long["metric"].map(_metric_range)
        long[CI_LOW] = np.maximum(long[CI_LOW], bounds.str[0])
        long[CI_HIGH] = np.minimum(long[CI_HIGH], bounds.str[1])
    return long[out_columns].reset_index(drop=True)


def task_order(protocols: Mapping[str, str], protocol: str) -> list[str]:
    """The study's tasks of ``protocol``, in study order."""
    return [task for task, p in protocols.items() if p == protocol]


def model_order(frame: pd.DataFrame, models: Sequence[str] | None) -> list[str]:
    """The models present in ``frame``: in the order of ``models`` if given, else by name."""
    present = set(frame["model"]) if not frame.empty else set()
    if models is not None:
        return [m for m in models if m in present]
    return sorted(present, key=str)


def pivot_numeric(
    long: pd.DataFrame,
    index: Sequence[str],
    col_levels: Sequence[str],
    col_order: Iterable[tuple],
    row_order: Iterable[tuple],
    stats: Sequence[str] = STATS,
) -> pd.DataFrame:
    """Pivot a long frame into the builders' numeric layout (last column level ``stat``)."""
    index, col_levels = list(index), list(col_levels)
    columns = pd.MultiIndex.from_tuples(
        [(*c, s) for c in col_order for s in stats], names=[*col_levels, STAT]
    )
    row_order = list(row_order)
    if len(index) == 1:
        rows = pd.Index([r[0] for r in row_order], name=index[0])
    else:
        rows = pd.MultiIndex.from_tuples(row_order, names=index)
    if long.empty:
        return pd.DataFrame(index=rows, columns=columns, dtype=float)
    stacked = long.set_index(index + col_levels)[list(stats)]
    stacked.columns.name = STAT
    wide = stacked.unstack(col_levels)
    wide.columns = wide.columns.reorder_levels([*range(1, len(col_levels) + 1), 0])
    return wide.reindex(index=rows, columns=columns).astype(float)
