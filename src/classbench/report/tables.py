"""Paper tables: numeric frames built from the summary, written as CSV, Markdown and LaTeX.

Builders return ``(display, numeric)``: ``numeric`` is the frame :func:`write_table` writes (see
:mod:`classbench.report.formatting`: last column level ``stat``, raw numbers in the CSV, x100 and
intervals in brackets in Markdown and LaTeX), ``display`` its formatted strings. Means over
datasets come from :func:`classbench.report.frames.aggregate_datasets`. Column labels, percent
scaling and value ranges come from each metric's declaration (:mod:`classbench.scoring.registry`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from classbench.report.formatting import LABELS, Best, escape_latex, format_table, write_table
from classbench.report.frames import (
    ALL,
    AVG,
    GROUP_ORDER,
    STAT,
    STATS,
    VALUE,
    aggregate_datasets,
    dataset_order,
    group_rank,
    model_order,
    pivot_numeric,
    task_order,
)
from classbench.scoring.registry import FINAL_SUFFIX, in_percent, static_columns

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

PARSE_FAILURE = "parse_failure"
# A reasoning task's rows scored on its extracted final answer (metrics suffixed ``_final``).
FINAL_ANSWER_ROWS = " (final answer)"
OPEN_METRICS = ("textual_inclusion", "llm_inclusion", "semantic_similarity", "concept_similarity",
                "mapped_accuracy")  # fmt: skip
# Label lists: the mapped answer's accuracy, VLMClassifier's plain inclusion (the label named in
# the raw answer) beside it, then the thesis's macro P/R/F1.
LABEL_METRICS = ("accuracy", "textual_inclusion", "macro_precision", "macro_recall", "macro_f1")
LABEL_HEADLINES = ("accuracy", "textual_inclusion")

# Long names of the metrics' columns, for axis labels and captions.
METRIC_NAMES: dict[str, str] = {name: column.long for name, column in static_columns().items()}

AVG_NOTE = (
    "Means over datasets need every dataset of the column; their intervals assume independent "
    "datasets (mean ± sqrt(sum of squared half-widths) / number of datasets)."
)


def _finish(numeric: pd.DataFrame, **hints: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    numeric.attrs["table"] = hints
    return format_table(numeric), numeric


def _percent(metric_of: Mapping[Any, str]) -> bool | list[Any]:
    """Which columns show x100: all (``True``), else the labels whose metric is declared so."""
    shown = [label for label, metric in metric_of.items() if in_percent(metric)]
    return True if len(shown) == len(metric_of) else shown


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
    tasks = task_order(protocols, "open")
    final = summary[summary["task"].isin(tasks) & summary["metric"].str.endswith(FINAL_SUFFIX)]
    final = final.copy()
    if not final.empty:
        final["metric"] = final["metric"].str.removesuffix(FINAL_SUFFIX)
        final["task"] = final["task"] + FINAL_ANSWER_ROWS
        summary = pd.concat([summary, final], ignore_index=True)
        tasks = [name for task in tasks for name in (task, task + FINAL_ANSWER_ROWS)]
    data = summary[summary["task"].isin(tasks) & summary["metric"].isin(metrics)]
    present = [m for m in metrics if m in set(data["metric"])]
    datasets = dataset_order(data)
    group_of = data.drop_duplicates("dataset").set_index("dataset")["group"]
    groups = sorted({group_of[d] for d in datasets}, key=group_rank)
    sets: dict[Any, list[str]] = {g: [d for d in datasets if group_of[d] == g] for g in groups}
    sets[ALL] = datasets
    long = aggregate_datasets(data, ["task", "model", "metric"], sets)
    model_list = model_order(data, models)
    pairs = set(zip(data["task"], data["model"], strict=True))
    row_order = [(t, m) for t in tasks for m in model_list if (t, m) in pairs]
    col_order = [(g, m) for g in sets for m in present]
    numeric = pivot_numeric(long, ["task", "model"], ["column", "metric"], col_order, row_order)
    numeric.columns = numeric.columns.set_names(["group", "metric", STAT])
    percent = _percent({m: m for m in present})
    return _finish(numeric, percent=percent, best="max", best_by="task", note=AVG_NOTE)


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
    mcq_tasks = task_order(protocols, "mcq")
    zs_tasks = task_order(protocols, "zeroshot")
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
    model_list = model_order(rows, models)
    pairs = set(zip(rows["task"], rows["model"], strict=True))
    row_order = [(t, m) for t in task_blocks for m in model_list if (t, m) in pairs]
    numeric = pivot_numeric(long, ["task", "model"], ["column"], col_order, row_order)
    numeric.columns = numeric.columns.set_names(["dataset", STAT])
    best: dict[Any, Best | None] = {c: "max" for c in sets}
    best[PARSE_FAILURE] = None
    percent = _percent({**{c: "accuracy" for c in sets}, PARSE_FAILURE: PARSE_FAILURE})
    return _finish(numeric, percent=percent, best=best, best_by="task", note=AVG_NOTE)


def supervised_table(
    summary: pd.DataFrame,
    protocols: Mapping[str, str],
    *,
    models: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Supervised ImageNet classifiers' accuracy: rows (task, model), columns the datasets with
    ImageNet labels and their ``Avg`` (the label-list thesis's ResNet / ViT baselines)."""
    tasks = task_order(protocols, "supervised")
    data = summary[summary["task"].isin(tasks) & (summary["metric"] == "accuracy")]
    datasets = dataset_order(data)
    sets: dict[Any, list[str]] = {d: [d] for d in datasets}
    if len(datasets) > 1:
        sets[AVG] = datasets
    long = aggregate_datasets(data, ["task", "model", "metric"], sets)
    model_list = model_order(data, models)
    pairs = set(zip(data["task"], data["model"], strict=True))
    row_order = [(t, m) for t in tasks for m in model_list if (t, m) in pairs]
    numeric = pivot_numeric(long, ["task", "model"], ["column"], [(c,) for c in sets], row_order)
    numeric.columns = numeric.columns.set_names(["dataset", STAT])
    percent = _percent({c: "accuracy" for c in sets})
    return _finish(numeric, percent=percent, best="max", best_by="task", note=AVG_NOTE)


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
    headline: str = "accuracy",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Label-list results: rows model (or (dataset, model)), columns (task, metric) by growing K.

    Each K shows the accuracy of the mapped answer and, as its own column ("Incl."), the plain
    inclusion of the label in the raw answer (VLMClassifier's number), then macro P/R/F1;
    ``headline`` (one of :data:`LABEL_HEADLINES`) comes first. Without ``by_dataset`` each task
    column is the mean over the datasets that task covers. ``task_k`` orders the tasks and
    labels them ``K=…``; otherwise the last number in the task name orders them.
    """
    if headline not in LABEL_HEADLINES:
        raise ValueError(f"headline must be one of {LABEL_HEADLINES}, not {headline!r}")
    tasks = task_order(protocols, "labels")
    key = (lambda t: (task_k.get(t, np.inf), t)) if task_k else (lambda t: (_k_of(t), t))
    tasks = sorted(tasks, key=key)
    data = summary[summary["task"].isin(tasks) & summary["metric"].isin(LABEL_METRICS)]
    order = [headline, *(m for m in LABEL_METRICS if m != headline)]
    present = [m for m in order if m in set(data["metric"])]
    model_list = model_order(data, models)
    if by_dataset:
        long = data.rename(columns={"task": "column"})[
            ["dataset", "model", "metric", "column", *STATS]
        ]
        index = ["dataset", "model"]
        pairs = set(zip(data["dataset"], data["model"], strict=True))
        row_order: list[tuple[str, ...]] = [
            (d, m) for d in dataset_order(data) for m in model_list if (d, m) in pairs
        ]
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
    numeric = pivot_numeric(long, index, ["column", "metric"], col_order, row_order)
    numeric.columns = numeric.columns.set_names(["task", "metric", STAT])
    labels = {t: f"K={task_k[t]}" for t in tasks if t in task_k} if task_k else {}
    labels["textual_inclusion"] = "Incl."
    note = None if by_dataset else AVG_NOTE
    best_by = "dataset" if by_dataset else None
    percent = _percent({m: m for m in present})
    return _finish(numeric, percent=percent, best="max", best_by=best_by, labels=labels, note=note)


def elo_table(
    elo_frames: Mapping[str, pd.DataFrame],
    *,
    left_out: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Elo leaderboards stacked by key (e.g. ``"owc-base/all"``), each sorted by rating.

    ``left_out`` maps a board to the models it left out and why (its ``left_out`` metadata);
    the note names them, since a model missing from a board would otherwise pass unseen.
    """
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
        note=" ".join(["Ratings sorted from best; W/D/L are wins, draws and losses.",
                       *_left_out_sentences(left_out or {})]),
    )  # fmt: skip


def _left_out_sentences(left_out: Mapping[str, Mapping[str, str]]) -> list[str]:
    return [
        f"Left out of {board}: "
        + ", ".join(f"{model} ({why})" for model, why in models.items())
        + "."
        for board, models in left_out.items()
        if models
    ]


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
