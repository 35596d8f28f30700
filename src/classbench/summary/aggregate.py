"""The study's summary table: every (dataset, task, model, metric) with a bootstrap 95% CI.

Rows of metrics scored against label sets (``…_multi``) leave out the images whose set is
empty and count them in ``n_no_label`` (0 on every other row).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from classbench.io import as_objects
from classbench.scoring.registry import (
    METRICS,
    MULTI_SUFFIX,
    Metric,
    describe_column,
    multi_label_column,
    resolve_label_sets,
)
from classbench.seeding import rng_for
from classbench.summary.bootstrap import bootstrap_ci

SUMMARY_COLUMNS = [
    "dataset", "group", "task", "model", "metric", "value", "ci_low", "ci_high", "n", "n_invalid",
    "n_no_label",
]  # fmt: skip


def summarise_scores(
    scores: pd.DataFrame,
    *,
    dataset: str,
    group: str,
    task: str,
    model: str,
    task_metrics: Iterable[str] = (),
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Rows of the summary for one scores file; invalid samples are excluded and counted.

    Every score column a metric declares gets the mean over the valid samples; every aggregate
    metric of ``task_metrics`` (macro P/R/F1) its set statistic, both with a bootstrap interval.
    With a ``label_set`` column, an aggregate declared ``multi_label`` is also computed against
    the sets (on :func:`.registry.resolve_label_sets`, images with an empty set left out).
    """
    valid = scores["valid"].to_numpy(dtype=bool)
    n_invalid = int((~valid).sum())
    labelled = valid
    n_no_label = 0
    if "label_set" in scores.columns:
        has_labels = np.array([len(s) > 0 for s in as_objects(scores["label_set"])], dtype=bool)
        labelled = valid & has_labels
        n_no_label = int((valid & ~has_labels).sum())
    rows = []
    for metric in [c for c in scores.columns if describe_column(c) is not None]:
        values = scores.loc[valid, metric].to_numpy(dtype=np.float64)
        values = values[~np.isnan(values)]
        mean, low, high = bootstrap_ci(
            values, n_resamples, confidence, seed, keys=(dataset, task, model, metric)
        )
        unlabelled = n_no_label if multi_label_column(metric) else 0
        rows.append(_row(dataset, group, task, model, metric, mean, low, high, len(values),
                         n_invalid, unlabelled))  # fmt: skip
    for name in task_metrics:
        declared = METRICS.get(name)
        if declared is None or declared.aggregate is None:
            continue
        statistic = declared.aggregate(
            scores.loc[valid, "label"].tolist(), as_objects(scores.loc[valid, "answer"])
        )
        rows += _aggregate_rows(declared, statistic, int(valid.sum()), dataset, group, task,
                                model, n_invalid, n_resamples, confidence, seed)  # fmt: skip
        if declared.multi_label and "label_set" in scores.columns:
            answers = as_objects(scores.loc[labelled, "answer"])
            resolved = resolve_label_sets(
                scores.loc[labelled, "label"].tolist(),
                answers,
                as_objects(scores.loc[labelled, "label_set"]),
            )
            statistic = declared.aggregate(resolved, answers)
            rows += _aggregate_rows(declared, statistic, int(labelled.sum()), dataset, group,
                                    task, model, n_invalid, n_resamples, confidence, seed,
                                    suffix=MULTI_SUFFIX, n_no_label=n_no_label)  # fmt: skip
    return rows


def _row(dataset, group, task, model, metric, value, low, high, n, n_invalid,
         n_no_label=0) -> dict[str, Any]:  # fmt: skip
    return {
        "dataset": dataset, "group": group, "task": task, "model": model, "metric": metric,
        "value": value, "ci_low": low, "ci_high": high, "n": n, "n_invalid": n_invalid,
        "n_no_label": n_no_label,
    }  # fmt: skip


def _aggregate_rows(metric: Metric, statistic: Callable[[np.ndarray], tuple[float, ...]], n,
                    dataset, group, task, model, n_invalid, n_resamples, confidence,
                    seed, *, suffix: str = "",
                    n_no_label: int = 0) -> list[dict[str, Any]]:  # fmt: skip
    """A set statistic of ``n`` valid samples with a bootstrap over samples (it is not a mean of
    samples); ``suffix`` names its rows (``_multi``: against the label sets)."""
    names = [column.name + suffix for column in metric.columns]
    point = statistic(np.arange(n))
    if n < 2:
        return [_row(dataset, group, task, model, m, v, v, v, n, n_invalid, n_no_label)
                for m, v in zip(names, point, strict=True)]  # fmt: skip
    rng = rng_for(seed, "bootstrap", dataset, task, model, metric.name + suffix)
    # Each replica draws its own indices so memory stays O(n) (an (R, n) matrix is 400 MB for
    # ImageNet's 50k images).
    replicas = np.empty((n_resamples, len(names)))
    for replica in range(n_resamples):
        replicas[replica] = statistic(rng.integers(0, n, size=n))
    alpha = (1 - confidence) / 2
    low = np.percentile(replicas, 100 * alpha, axis=0)
    high = np.percentile(replicas, 100 * (1 - alpha), axis=0)
    return [
        _row(dataset, group, task, model, m, point[i], low[i], high[i], n, n_invalid, n_no_label)
        for i, m in enumerate(names)
    ]


def build_summary(
    entries: Iterable[Mapping[str, Any]],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """``entries``: dicts with ``scores`` (DataFrame), ``dataset, group, task, model, metrics``."""
    rows: list[dict[str, Any]] = []
    for entry in entries:
        rows += summarise_scores(
            entry["scores"],
            dataset=entry["dataset"],
            group=entry["group"],
            task=entry["task"],
            model=entry["model"],
            task_metrics=entry.get("metrics", ()),
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
        )
    frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    return frame.astype({"n": "int64", "n_invalid": "int64", "n_no_label": "int64"})
