"""Tables of how the protocol moves the number: answers outside the offered list, and scores
against single labels beside scores against label sets (multi-label ground truth).

Both read the summary only and share the layout of :mod:`classbench.report.tables`: rows
(task, model), means over datasets with propagated intervals
(:func:`classbench.report.frames.aggregate_datasets`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from classbench.report.formatting import format_table
from classbench.report.frames import (
    AVG,
    STAT,
    aggregate_datasets,
    dataset_order,
    model_order,
    pivot_numeric,
)
from classbench.scoring.registry import MULTI_SUFFIX

OUT_OF_LIST = "out_of_list"
CLOSED_PROTOCOLS = ("labels", "mcq")
# The headline metric of each protocol, single label against label set.
MULTI_LABEL_METRICS = ("accuracy", "textual_inclusion", "mapped_accuracy", "semantic_similarity")
SINGLE, MULTI = "single label", "label set"


def _finish(numeric: pd.DataFrame, **hints: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    numeric.attrs["table"] = hints
    return format_table(numeric), numeric


def _tasks(protocols: Mapping[str, str], wanted: Sequence[str]) -> list[str]:
    return [task for task, protocol in protocols.items() if protocol in wanted]


def out_of_list_table(
    summary: pd.DataFrame, protocols: Mapping[str, str], *, models: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Share of answers naming none of the offered classes or letters, per closed-world task
    and model: columns the datasets and their ``Avg``. Lower is not "better" here (an answer
    outside the list may be right), so nothing is bolded."""
    tasks = _tasks(protocols, CLOSED_PROTOCOLS)
    data = summary[summary["task"].isin(tasks) & (summary["metric"] == OUT_OF_LIST)]
    datasets = dataset_order(data)
    sets: dict[Any, list[str]] = {d: [d] for d in datasets}
    if len(datasets) > 1:
        sets[AVG] = datasets
    long = aggregate_datasets(data, ["task", "model", "metric"], sets)
    pairs = set(zip(data["task"], data["model"], strict=True))
    rows = [(t, m) for t in tasks for m in model_order(data, models) if (t, m) in pairs]
    numeric = pivot_numeric(long, ["task", "model"], ["column"], [(c,) for c in sets], rows)
    numeric.columns = numeric.columns.set_names(["dataset", STAT])
    return _finish(numeric, percent=True, best=False)


def multi_label_table(
    summary: pd.DataFrame,
    protocols: Mapping[str, str],
    *,
    metrics: Sequence[str] = MULTI_LABEL_METRICS,
    models: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each task's headline metrics against the single label and against the label set, as the
    mean over the datasets that have label sets (images without a valid label left out of the
    label-set columns); columns (metric, ground truth)."""
    multi = summary[summary["metric"].isin([m + MULTI_SUFFIX for m in metrics])]
    datasets = dataset_order(multi)
    data = summary[
        summary["dataset"].isin(datasets)
        & summary["metric"].isin([*metrics, *(m + MULTI_SUFFIX for m in metrics)])
        & summary["task"].isin(list(protocols))
    ].copy()
    data["truth"] = data["metric"].map(lambda m: MULTI if m.endswith(MULTI_SUFFIX) else SINGLE)
    data["metric"] = data["metric"].str.removesuffix(MULTI_SUFFIX)
    long = aggregate_datasets(data, ["task", "model", "metric", "truth"], {"mean": datasets})
    present = [m for m in metrics if m in set(data["metric"])]
    pairs = set(zip(data["task"], data["model"], strict=True))
    tasks = [t for t in protocols if t in set(data["task"])]
    rows = [(t, m) for t in tasks for m in model_order(data, models) if (t, m) in pairs]
    columns = [(m, truth) for m in present for truth in (SINGLE, MULTI)]
    numeric = pivot_numeric(long, ["task", "model"], ["metric", "truth"], columns, rows)
    numeric.columns = numeric.columns.set_names(["metric", "truth", STAT])
    note = (
        f"Means over {', '.join(datasets) or 'no dataset'}; the label-set columns leave out the "
        "images without a valid label (n_no_label in the summary)."
    )
    return _finish(numeric, percent=True, best="max", best_by="task", note=note)
