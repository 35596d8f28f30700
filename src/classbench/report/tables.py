"""Paper tables: numeric frames built from the summary, written as CSV, Markdown and LaTeX.

Conventions
-----------
* Builders return ``(display, numeric)``. ``numeric`` has a last column level ``stat`` whose values
  are ``value``, ``ci_low`` and ``ci_high``, in the summary's units (proportions in [0, 1],
  similarities in [-1, 1]); the CSV holds exactly these numbers. ``display`` holds the formatted
  strings. ``numeric.attrs["table"]`` carries the builder's formatting hints for
  :func:`write_table`.
* Markdown and LaTeX show proportions and similarities as percentages with one decimal, followed
  by the confidence interval in brackets: ``46.4 [44.3, 48.5]``.
* A mean over datasets (group columns, ``all``, ``Avg``) is the plain mean of the per-dataset
  values, computed only for rows that have every dataset of the column. Its interval treats the
  datasets as independent and their intervals as symmetric: mean ± sqrt(sum h_i²) / m, with h_i
  the per-dataset half-widths (the mean of the bounds would assume perfectly correlated errors).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from tabulate import tabulate

from classbench.io import write_text

__all__ = [
    "GROUP_ORDER",
    "LABELS",
    "METRIC_NAMES",
    "aggregate_datasets",
    "cost_table",
    "dataset_order",
    "elo_table",
    "escape_latex",
    "format_table",
    "group_rank",
    "labels_table",
    "mcq_table",
    "open_world_table",
    "supervised_table",
    "write_table",
]

STAT = "stat"
VALUE, CI_LOW, CI_HIGH = "value", "ci_low", "ci_high"
STATS = (VALUE, CI_LOW, CI_HIGH)
ALL = "all"
AVG = "Avg"
PARSE_FAILURE = "parse_failure"
FINAL_SUFFIX = " (final answer)"

GROUP_ORDER = ("prototypical", "non-prototypical", "fine-grained", "very fine-grained")
OPEN_METRICS = ("textual_inclusion", "llm_inclusion", "semantic_similarity", "concept_similarity")
LABEL_METRICS = ("accuracy", "macro_precision", "macro_recall", "macro_f1")
SIMILARITY_METRICS = frozenset({"semantic_similarity", "concept_similarity"})
PROPORTION_METRICS = frozenset(
    {
        "textual_inclusion",
        "exact_match",
        "llm_inclusion",
        "accuracy",
        "accuracy_options",
        "parse_failure",
        "macro_precision",
        "macro_recall",
        "macro_f1",
    }
)

# Short column labels for Markdown and LaTeX; the CSV keeps the metric names.
LABELS: dict[str, str] = {
    "textual_inclusion": "TI",
    "llm_inclusion": "LI",
    "semantic_similarity": "SS",
    "concept_similarity": "CS",
    "exact_match": "EM",
    "accuracy": "Acc",
    "accuracy_options": "Acc (options)",
    "macro_precision": "P",
    "macro_recall": "R",
    "macro_f1": "F1",
    PARSE_FAILURE: "parse fail.",
    "rating": "Elo",
    "games": "games",
    "wins": "W",
    "draws": "D",
    "losses": "L",
    "n_samples": "samples",
    "wall_s": "wall (s)",
    "images_per_s": "img/s",
    "gpu_hours": "GPU h",
}

# Long names for axis labels.
METRIC_NAMES: dict[str, str] = {
    "textual_inclusion": "textual inclusion",
    "llm_inclusion": "LLM inclusion",
    "semantic_similarity": "semantic similarity",
    "concept_similarity": "concept similarity",
    "exact_match": "exact match",
    "accuracy": "accuracy",
    "accuracy_options": "accuracy over the options",
    "parse_failure": "parse failures",
    "macro_precision": "macro precision",
    "macro_recall": "macro recall",
    "macro_f1": "macro F1",
}

Best = Literal["max", "min"]

AVG_NOTE = (
    "Means over datasets need every dataset of the column; their intervals assume independent "
    "datasets (mean ± sqrt(sum of squared half-widths) / number of datasets)."
)


# --------------------------------------------------------------------------- ordering, aggregation


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
    if metric in SIMILARITY_METRICS:
        return -1.0, 1.0
    if metric in PROPORTION_METRICS:
        return 0.0, 1.0
    return -np.inf, np.inf


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


def _task_order(protocols: Mapping[str, str], protocol: str) -> list[str]:
    return [task for task, p in protocols.items() if p == protocol]


def _model_order(frame: pd.DataFrame, models: Sequence[str] | None) -> list[str]:
    present = set(frame["model"]) if not frame.empty else set()
    if models is not None:
        return [m for m in models if m in present]
    return sorted(present, key=str)


def _numeric(
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


def _finish(numeric: pd.DataFrame, **hints: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    numeric.attrs["table"] = hints
    return format_table(numeric), numeric


# ------------------------------------------------------------------------------------- builders


def open_world_table(
    summary: pd.DataFrame,
    protocols: Mapping[str, str],
    *,
    metrics: Sequence[str] = OPEN_METRICS,
    models: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Open-world results: rows (task, model), columns (group, metric) plus ``all`` datasets.

    A reasoning task scored also on its extracted final answer (metrics suffixed ``_final``) gets
    a second row block, ``"<task> (final answer)"``, right after its own.
    """
    tasks = _task_order(protocols, "open")
    final = summary[summary["task"].isin(tasks) & summary["metric"].str.endswith("_final")].copy()
    if not final.empty:
        final["metric"] = final["metric"].str.removesuffix("_final")
        final["task"] = final["task"] + FINAL_SUFFIX
        summary = pd.concat([summary, final], ignore_index=True)
        tasks = [name for task in tasks for name in (task, task + FINAL_SUFFIX)]
    data = summary[summary["task"].isin(tasks) & summary["metric"].isin(metrics)]
    present = [m for m in metrics if m in set(data["metric"])]
    datasets = dataset_order(data)
    group_of = data.drop_duplicates("dataset").set_index("dataset")["group"]
    groups = sorted({group_of[d] for d in datasets}, key=group_rank)
    sets: dict[Any, list[str]] = {g: [d for d in datasets if group_of[d] == g] for g in groups}
    sets[ALL] = datasets
    long = aggregate_datasets(data, ["task", "model", "metric"], sets)
    model_list = _model_order(data, models)
    pairs = set(zip(data["task"], data["model"], strict=True))
    row_order = [(t, m) for t in tasks for m in model_list if (t, m) in pairs]
    col_order = [(g, m) for g in sets for m in present]
    numeric = _numeric(long, ["task", "model"], ["column", "metric"], col_order, row_order)
    numeric.columns = numeric.columns.set_names(["group", "metric", STAT])
    return _finish(numeric, percent=True, best="max", best_by="task", note=AVG_NOTE)


def mcq_table(
    summary: pd.DataFrame,
    protocols: Mapping[str, str],
    *,
    options_label: str = "acc4",
    models: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Multiple-choice accuracy: one block of LMM rows per mcq task, then contrastive baselines.

    Baselines come from each zeroshot task as two blocks, ``"{task} (acc)"`` (all classes) and
    ``"{task} ({options_label})"`` (restricted to the mcq options). Columns are the mcq datasets,
    ``Avg`` over them, and the mean parse-failure rate of the LMM rows.
    """
    mcq_tasks = _task_order(protocols, "mcq")
    zs_tasks = _task_order(protocols, "zeroshot")
    lmm = summary[summary["task"].isin(mcq_tasks) & (summary["metric"] == "accuracy")]
    zs = summary[summary["task"].isin(zs_tasks)]
    blocks = []
    for task in zs_tasks:
        for metric, suffix in (("accuracy", "acc"), ("accuracy_options", options_label)):
            block = zs[(zs["task"] == task) & (zs["metric"] == metric)].copy()
            block["task"] = f"{task} ({suffix})"
            block["metric"] = "accuracy"
            blocks.append(block)
    baselines = pd.concat(blocks, ignore_index=True) if blocks else lmm.iloc[:0]
    datasets = dataset_order(lmm) if not lmm.empty else dataset_order(baselines)
    rows = pd.concat([lmm, baselines[baselines["dataset"].isin(datasets)]], ignore_index=True)
    sets: dict[Any, list[str]] = {d: [d] for d in datasets}
    if len(datasets) > 1:
        sets[AVG] = datasets
    long = aggregate_datasets(rows, ["task", "model", "metric"], sets)
    parse = summary[
        summary["task"].isin(mcq_tasks)
        & (summary["metric"] == PARSE_FAILURE)
        & summary["dataset"].isin(datasets)
    ]
    col_order = [(c,) for c in sets]
    if not parse.empty:
        long = pd.concat(
            [
                long,
                aggregate_datasets(parse, ["task", "model", "metric"], {PARSE_FAILURE: datasets}),
            ],
            ignore_index=True,
        )
        col_order.append((PARSE_FAILURE,))
    task_blocks = mcq_tasks + [t for t in dict.fromkeys(baselines.get("task", [])) if t]
    model_list = _model_order(rows, models)
    pairs = set(zip(rows["task"], rows["model"], strict=True))
    row_order = [(t, m) for t in task_blocks for m in model_list if (t, m) in pairs]
    numeric = _numeric(long, ["task", "model"], ["column"], col_order, row_order)
    numeric.columns = numeric.columns.set_names(["dataset", STAT])
    best: dict[Any, Best | None] = {c: "max" for c in sets}
    best[PARSE_FAILURE] = None
    return _finish(numeric, percent=True, best=best, best_by="task", note=AVG_NOTE)


def supervised_table(
    summary: pd.DataFrame,
    protocols: Mapping[str, str],
    *,
    models: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Supervised ImageNet classifiers' accuracy: rows (task, model), columns the datasets with
    ImageNet labels and their ``Avg`` (the label-list thesis's ResNet / ViT baselines)."""
    tasks = _task_order(protocols, "supervised")
    data = summary[summary["task"].isin(tasks) & (summary["metric"] == "accuracy")]
    datasets = dataset_order(data)
    sets: dict[Any, list[str]] = {d: [d] for d in datasets}
    if len(datasets) > 1:
        sets[AVG] = datasets
    long = aggregate_datasets(data, ["task", "model", "metric"], sets)
    model_list = _model_order(data, models)
    pairs = set(zip(data["task"], data["model"], strict=True))
    row_order = [(t, m) for t in tasks for m in model_list if (t, m) in pairs]
    numeric = _numeric(long, ["task", "model"], ["column"], [(c,) for c in sets], row_order)
    numeric.columns = numeric.columns.set_names(["dataset", STAT])
    return _finish(numeric, percent=True, best="max", best_by="task", note=AVG_NOTE)


def _k_of(task: str) -> float:
    found = re.findall(r"\d+", task)
    return float(found[-1]) if found else float("inf")


def labels_table(
    summary: pd.DataFrame,
    protocols: Mapping[str, str],
    *,
    task_k: Mapping[str, int] | None = None,
    by_dataset: bool = False,
    models: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Label-list results: rows model (or (dataset, model)), columns (task, metric) by growing K.

    Without ``by_dataset`` each task column is the mean over the datasets that task covers.
    ``task_k`` orders the tasks and labels them ``K=…``; otherwise the last number in the task
    name orders them.
    """
    tasks = _task_order(protocols, "labels")
    key = (lambda t: (task_k.get(t, np.inf), t)) if task_k else (lambda t: (_k_of(t), t))
    tasks = sorted(tasks, key=key)
    data = summary[summary["task"].isin(tasks) & summary["metric"].isin(LABEL_METRICS)]
    present = [m for m in LABEL_METRICS if m in set(data["metric"])]
    model_list = _model_order(data, models)
    if by_dataset:
        long = data.rename(columns={"task": "column"})[
            ["dataset", "model", "metric", "column", *STATS]
        ]
        index = ["dataset", "model"]
        pairs = set(zip(data["dataset"], data["model"], strict=True))
        row_order = [(d, m) for d in dataset_order(data) for m in model_list if (d, m) in pairs]
    else:
        parts = [
            aggregate_datasets(
                data[data["task"] == t],
                ["model", "metric"],
                {t: dataset_order(data[data["task"] == t])},
            )
            for t in tasks
        ]
        long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        index = ["model"]
        row_order = [(m,) for m in model_list]
    col_order = [(t, m) for t in tasks if t in set(data["task"]) for m in present]
    numeric = _numeric(long, index, ["column", "metric"], col_order, row_order)
    numeric.columns = numeric.columns.set_names(["task", "metric", STAT])
    labels = {t: f"K={task_k[t]}" for t in tasks if t in task_k} if task_k else {}
    note = None if by_dataset else AVG_NOTE
    best_by = "dataset" if by_dataset else None
    return _finish(numeric, percent=True, best="max", best_by=best_by, labels=labels, note=note)


def elo_table(elo_frames: Mapping[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Elo leaderboards stacked by key (e.g. ``"owc-base/all"``), each sorted by rating."""
    parts = []
    for board, frame in elo_frames.items():
        part = frame.sort_values("rating", ascending=False, kind="stable").copy()
        part.insert(0, "leaderboard", board)
        parts.append(part)
    data = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    counts = ("games", "wins", "draws", "losses")
    columns = [("rating", s) for s in STATS] + [(c, VALUE) for c in counts]
    index = pd.MultiIndex.from_arrays(
        [data.get("leaderboard", []), data.get("model", [])], names=["leaderboard", "model"]
    )
    numeric = pd.DataFrame(
        {
            col: data[col[0] if col[1] == VALUE else col[1]].astype(float).to_numpy()
            if not data.empty
            else []
            for col in columns
        },
        index=index,
    )
    numeric.columns = pd.MultiIndex.from_tuples(columns, names=["column", STAT])
    return _finish(
        numeric,
        percent=False,
        digits=0,
        best={"rating": "max"},
        best_by="leaderboard",
        note="Ratings sorted from best; W/D/L are wins, draws and losses.",
    )


def cost_table(
    meta: pd.DataFrame,
    *,
    by: Sequence[str] = ("model", "dataset", "task"),
    total: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Inference cost summed per ``by`` key, with throughput and GPU hours.

    ``meta`` has one row per prediction file: ``model, dataset, task, n_samples, wall_s`` and
    optionally ``gpu_hours`` or ``gpus`` (GPUs held by the job; 1 when absent).
    """
    by = list(by)
    data = meta.copy()
    if "gpu_hours" not in data:
        gpus = data.get("gpus", 1)
        data["gpu_hours"] = data["wall_s"].astype(float) * gpus / 3600
    sums = ["n_samples", "wall_s", "gpu_hours"]
    agg = data.groupby(by, sort=True)[sums].sum(min_count=1).astype(float)
    if total and len(agg) > 1:
        agg.loc[("total", *[""] * (len(by) - 1)) if len(by) > 1 else "total", :] = agg.sum()
    agg["images_per_s"] = agg["n_samples"] / agg["wall_s"].where(agg["wall_s"] > 0)
    order = ["n_samples", "wall_s", "images_per_s", "gpu_hours"]
    numeric = agg[order]
    numeric.columns = pd.MultiIndex.from_tuples([(c, VALUE) for c in order], names=["column", STAT])
    # one decimal of wall time: short jobs would otherwise all read "0" or "1" seconds
    digits = {"n_samples": 0, "wall_s": 1, "images_per_s": 2, "gpu_hours": 2}
    return _finish(numeric, percent=False, digits=digits, best=False)


# ------------------------------------------------------------------------------------ formatting


def _split(
    frame: pd.DataFrame, ci: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[bool]]:
    """Values, lower and upper bounds as frames of identical shape (bounds NaN where absent),
    and for each value column whether the input defines an interval for it."""
    if frame.columns.nlevels > 1 and frame.columns.names[-1] == STAT:
        stats = frame.columns.get_level_values(-1)
        values = frame.loc[:, stats == VALUE].droplevel(-1, axis=1)

        def bound(name: str) -> pd.DataFrame:
            part = frame.loc[:, stats == name].droplevel(-1, axis=1)
            return part.reindex(columns=values.columns)

        with_ci = set(frame.loc[:, stats == CI_LOW].droplevel(-1, axis=1).columns)
        return values, bound(CI_LOW), bound(CI_HIGH), [c in with_ci for c in values.columns]
    if ci is None:
        empty = pd.DataFrame(np.nan, index=frame.index, columns=frame.columns)
        return frame, empty, empty.copy(), [False] * frame.shape[1]

    def from_ci(name: str) -> pd.DataFrame:
        part = ci.xs(name, axis=1, level=-1)
        return part.reindex(index=frame.index, columns=frame.columns)

    with_ci = set(ci.xs(CI_LOW, axis=1, level=-1).columns)
    return frame, from_ci(CI_LOW), from_ci(CI_HIGH), [c in with_ci for c in frame.columns]


def _levels(col: object) -> tuple:
    return col if isinstance(col, tuple) else (col,)


def _lookup(spec: Any, col: object, default: Any) -> Any:
    """A per-column setting: a scalar, or a mapping keyed by the column or one of its levels."""
    if not isinstance(spec, Mapping):
        return spec
    if col in spec:
        return spec[col]
    for level in reversed(_levels(col)):
        if level in spec:
            return spec[level]
    return default


def _is_percent(percent: bool | Collection[Any], col: object) -> bool:
    if isinstance(percent, bool):
        return percent
    return col in percent or any(level in percent for level in _levels(col))


def _number(x: float, digits: int) -> str:
    text = f"{x:.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]  # no "-0.0"
    return text


class _Cells:
    """Formatted parts of every cell: point estimate, interval, and whether it is the best."""

    def __init__(
        self,
        frame: pd.DataFrame,
        ci: pd.DataFrame | None,
        *,
        percent: bool | Collection[Any],
        digits: int | Mapping[Any, int],
        best: Best | Literal[False] | Mapping[Any, Best | None] | None,
        best_by: str | None,
    ) -> None:
        values, low, high, self.has_ci = _split(frame, ci)
        self.values, self.low, self.high = values, low, high
        self.main: dict[object, list[str | None]] = {}
        self.ci: dict[object, list[str | None]] = {}
        self.bold: dict[object, list[bool]] = {}
        if best_by is not None and best_by in (values.index.names or []):
            groups = values.index.get_level_values(best_by)
        else:
            groups = pd.Index(np.zeros(len(values)))
        for j, col in enumerate(values.columns):
            scale = 100.0 if _is_percent(percent, col) else 1.0
            d = int(_lookup(digits, col, 1))
            v = values.iloc[:, j].to_numpy(dtype=float) * scale
            lo = low.iloc[:, j].to_numpy(dtype=float) * scale
            hi = high.iloc[:, j].to_numpy(dtype=float) * scale
            self.main[col] = [None if np.isnan(x) else _number(x, d) for x in v]
            self.ci[col] = [
                None if np.isnan(a) or np.isnan(b) else f"[{_number(a, d)}, {_number(b, d)}]"
                for a, b in zip(lo, hi, strict=True)
            ]
            direction = _lookup(best, col, None) if best is not False else None
            rounded = np.round(v, d)
            flags = np.zeros(len(v), dtype=bool)
            if direction in ("max", "min"):
                for g in pd.unique(groups):
                    mask = np.asarray(groups == g) & ~np.isnan(rounded)
                    if mask.sum() > 1:  # a lone row is not "best" of anything
                        target = rounded[mask].max() if direction == "max" else rounded[mask].min()
                        if (rounded[mask] == target).all():
                            continue  # all tied: nothing stands out, so nothing is bold
                        flags |= mask & (rounded == target)
            self.bold[col] = list(flags)

    def text(
        self, col: object, i: int, style: Literal["plain", "md", "tex"], stack: bool = False
    ) -> str:
        """One cell; ``stack`` puts a LaTeX interval under its value to halve the width."""
        main, ci = self.main[col][i], self.ci[col][i]
        if main is None:
            return {"plain": "", "md": "–", "tex": "--"}[style]
        if style == "tex":
            main = main.replace("-", "$-$")
            if self.bold[col][i]:
                main = rf"\textbf{{{main}}}"
            if not ci:
                return main
            ci = rf"{{\scriptsize {ci.replace('-', '$-$')}}}"
            return rf"\shortstack[r]{{{main}\\{ci}}}" if stack else f"{main} {ci}"
        if style == "md" and self.bold[col][i]:
            main = f"**{main}**"
        return f"{main} {ci}" if ci else main


def _hints(frame: pd.DataFrame, **given: Any) -> dict[str, Any]:
    hints = dict(frame.attrs.get("table", {}))
    hints.update({k: v for k, v in given.items() if v is not None})
    hints.setdefault("percent", True)
    hints.setdefault("digits", 1)
    hints.setdefault("best", False)
    hints.setdefault("best_by", None)
    hints.setdefault("labels", {})
    hints.setdefault("note", None)
    return hints


def _label(level: object, labels: Mapping[str, str]) -> str:
    key = str(level)
    return labels.get(key, LABELS.get(key, key))


def format_table(
    frame: pd.DataFrame,
    ci: pd.DataFrame | None = None,
    *,
    percent: bool | Collection[Any] | None = None,
    digits: int | Mapping[Any, int] | None = None,
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Formatted strings (``46.4 [44.3, 48.5]``) with labelled columns, same index as ``frame``."""
    hints = _hints(frame, percent=percent, digits=digits, labels=labels)
    cells = _Cells(
        frame, ci, percent=hints["percent"], digits=hints["digits"], best=False, best_by=None
    )
    cols = cells.values.columns
    out = pd.DataFrame(
        {
            j: [cells.text(c, i, "plain") for i in range(len(cells.values))]
            for j, c in enumerate(cols)
        },
        index=cells.values.index,
    )
    names = [tuple(_label(x, hints["labels"]) for x in _levels(c)) for c in cols]
    if cols.nlevels > 1:
        out.columns = pd.MultiIndex.from_tuples(names, names=cols.names)
    else:
        out.columns = pd.Index([n[0] for n in names], name=cols.name)
    return out


# --------------------------------------------------------------------------------------- writers

_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "²": r"$^2$",
}


def escape_latex(text: object) -> str:
    """``text`` with LaTeX's special characters escaped."""
    out = "".join(_TEX_ESCAPES.get(ch, ch) for ch in str(text))
    # a cell starting with "[" right after "\\" would be read as the row's optional spacing
    return "{[}" + out[1:] if out.startswith("[") else out


def _row_labels(index: pd.Index) -> tuple[list[str], list[list[str]]]:
    """Index level names and per-row label strings; an unnamed RangeIndex is not shown."""
    if isinstance(index, pd.RangeIndex) and index.name is None:
        return [], [[] for _ in range(len(index))]
    names = [str(n) if n is not None else "" for n in index.names]
    rows = [[str(x) for x in _levels(key)] for key in index]
    return names, rows


def _csv_frame(cells: _Cells) -> pd.DataFrame:
    """Raw numbers: each value column, then its bounds where the input defines them."""
    values, low, high = cells.values, cells.low, cells.high
    columns: dict[str, pd.Series] = {}
    for j, col in enumerate(values.columns):
        name = "/".join(str(x) for x in _levels(col))
        columns[name] = values.iloc[:, j]
        if cells.has_ci[j]:
            columns[f"{name}/{CI_LOW}"] = low.iloc[:, j]
            columns[f"{name}/{CI_HIGH}"] = high.iloc[:, j]
    out = pd.DataFrame(columns, index=values.index)
    if isinstance(out.index, pd.RangeIndex) and out.index.name is None:
        return out
    out.index.names = [n if n is not None else f"level_{i}" for i, n in enumerate(out.index.names)]
    return out.reset_index()


def _caption(caption: str, hints: dict[str, Any], cells: _Cells, ci_level: float) -> str:
    parts = [caption.rstrip()]
    cols = cells.values.columns
    if any(_is_percent(hints["percent"], c) for c in cols):
        parts.append("Values in %.")
    if any(x is not None for c in cols for x in cells.ci[c]):
        parts.append(f"Brackets: {ci_level:.0%} confidence interval [low, high].")
    if any(any(flags) for flags in cells.bold.values()):
        scope = f" within each {hints['best_by']}" if hints["best_by"] else ""
        parts.append(f"Bold: best per column{scope}.")
    if hints["note"]:
        parts.append(hints["note"])
    return " ".join(p if p.endswith(".") else p + "." for p in parts if p)


def _markdown(cells: _Cells, hints: dict[str, Any], caption: str) -> str:
    names, rows = _row_labels(cells.values.index)
    cols = cells.values.columns
    headers = names + [" ".join(_label(x, hints["labels"]) for x in _levels(c)) for c in cols]
    body = [labels + [cells.text(c, i, "md") for c in cols] for i, labels in enumerate(rows)]
    body = [[cell.replace("|", r"\|") for cell in row] for row in body]
    headers = [h.replace("|", r"\|") for h in headers]
    align = ["left"] * len(names) + ["right"] * len(cols)
    table = tabulate(
        body, headers=headers, tablefmt="github", disable_numparse=True, colalign=align
    )
    return f"{caption}\n\n{table}\n"


def _latex(cells: _Cells, hints: dict[str, Any], caption: str, label: str, wide: bool) -> str:
    names, rows = _row_labels(cells.values.index)
    cols = cells.values.columns
    n_idx = len(names)
    keys = [_levels(c) for c in cols]
    n_levels = cols.nlevels
    lines = [
        "% Generated by classbench.report.tables; needs \\usepackage{booktabs}.",
        "\\begin{table*}[t]" if wide else "\\begin{table}[t]",
        "\\centering",
        "\\small",
        f"\\caption{{{escape_latex(caption)}}}",
        f"\\label{{{label}}}",
    ]
    if wide:
        lines.append("\\setlength{\\tabcolsep}{3pt}")
    lines += [f"\\begin{{tabular}}{{{'l' * n_idx}{'r' * len(cols)}}}", "\\toprule"]
    # spanning headers for every column level but the last
    for level in range(n_levels - 1):
        spans: list[tuple[tuple, int, int]] = []
        for j, key in enumerate(keys):
            prefix = key[: level + 1]
            if spans and spans[-1][0] == prefix:
                spans[-1] = (prefix, spans[-1][1], j)
            else:
                spans.append((prefix, j, j))
        cells_row = [""] * n_idx
        rules = []
        for prefix, start, stop in spans:
            text = escape_latex(_label(prefix[-1], hints["labels"]))
            cells_row.append(f"\\multicolumn{{{stop - start + 1}}}{{c}}{{{text}}}")
            a, b = n_idx + start + 1, n_idx + stop + 1
            rules.append(f"\\cmidrule(lr){{{a}-{b}}}")
        lines.append(" & ".join(cells_row) + " \\\\")
        lines.append(" ".join(rules))
    header = [escape_latex(n) for n in names] + [
        escape_latex(_label(k[-1], hints["labels"])) for k in keys
    ]
    lines += [" & ".join(header) + " \\\\", "\\midrule"]
    previous: list[str] | None = None
    for i, labels in enumerate(rows):
        shown = list(labels)
        if previous is not None and n_idx > 1:
            if labels[0] != previous[0]:
                lines.append("\\midrule")
            else:  # repeat no outer label within a block
                for lv in range(n_idx - 1):
                    if labels[: lv + 1] != previous[: lv + 1]:
                        break
                    shown[lv] = ""
        previous = labels
        cells_row = [escape_latex(x) for x in shown] + [cells.text(c, i, "tex", wide) for c in cols]
        lines.append(" & ".join(cells_row) + " \\\\")
    lines += [
        "\\bottomrule",
        "\\end{tabular}",
        "\\end{table*}" if wide else "\\end{table}",
    ]
    return "\n".join(lines) + "\n"


def write_table(
    frame: pd.DataFrame,
    stem: str | Path,
    *,
    caption: str,
    label: str | None = None,
    ci: pd.DataFrame | None = None,
    percent: bool | Collection[Any] | None = None,
    digits: int | Mapping[Any, int] | None = None,
    best: Best | Literal[False] | Mapping[Any, Best | None] | None = None,
    best_by: str | None = None,
    labels: Mapping[str, str] | None = None,
    note: str | None = None,
    ci_level: float = 0.95,
    wide: bool | None = None,
) -> list[Path]:
    """Write ``stem.csv``, ``stem.md`` and ``stem.tex`` atomically; return their paths.

    ``frame`` is either a builder's numeric frame (last column level ``stat``) or plain values
    with ``ci`` holding the bounds (``frame``'s columns plus a last level ``ci_low``/``ci_high``).
    The CSV keeps raw numbers, each value column followed by ``…/ci_low`` and ``…/ci_high``.
    Unset options come from ``frame.attrs["table"]`` (the builders' hints), else: percentages
    (``percent``, ×100) with one decimal (``digits``), no bold (``best=False``). ``best`` ("max"
    or "min", or a per-column mapping) bolds the best value, within each ``best_by`` index level
    value when given. ``labels`` renames column levels in Markdown and LaTeX. ``wide`` picks
    ``table*`` (default: more than eight columns).
    """
    stem = Path(stem)
    hints = _hints(
        frame,
        percent=percent,
        digits=digits,
        best=best,
        best_by=best_by,
        labels=labels,
        note=note,
    )
    cells = _Cells(
        frame,
        ci,
        percent=hints["percent"],
        digits=hints["digits"],
        best=hints["best"],
        best_by=hints["best_by"],
    )
    full_caption = _caption(caption, hints, cells, ci_level)
    tex_label = re.sub(r"[^A-Za-z0-9:._-]", "-", label or f"tab:{stem.name}")
    n_columns = len(cells.values.columns) + len(_row_labels(cells.values.index)[0])
    is_wide = wide if wide is not None else n_columns > 8
    csv = _csv_frame(cells).to_csv(index=False)
    return [
        write_text(csv, stem.with_name(stem.name + ".csv")),
        write_text(_markdown(cells, hints, full_caption), stem.with_name(stem.name + ".md")),
        write_text(
            _latex(cells, hints, full_caption, tex_label, is_wide),
            stem.with_name(stem.name + ".tex"),
        ),
    ]
