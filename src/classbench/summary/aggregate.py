"""The study's summary table: every (dataset, task, model, metric) with a bootstrap 95% CI."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from classbench.io import as_objects
from classbench.scoring.metrics import label_codes, macro_prf_codes
from classbench.seeding import rng_for
from classbench.summary.bootstrap import bootstrap_ci

SUMMARY_COLUMNS = [
    "dataset", "group", "task", "model", "metric", "value", "ci_low", "ci_high", "n", "n_invalid",
]  # fmt: skip
# Per-sample columns of a scores file that are not metrics (``mapping``: how a label-list answer
# was mapped onto a candidate).
_NOT_METRICS = {"sample_id", "label", "answer", "valid", "mapping"}


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
    """Rows of the summary for one scores file; invalid samples are excluded and counted."""
    valid = scores["valid"].to_numpy(dtype=bool)
    n_invalid = int((~valid).sum())
    rows = []
    for metric in [c for c in scores.columns if c not in _NOT_METRICS]:
        values = scores.loc[valid, metric].to_numpy(dtype=np.float64)
        values = values[~np.isnan(values)]
        mean, low, high = bootstrap_ci(
            values, n_resamples, confidence, seed, keys=(dataset, task, model, metric)
        )
        rows.append(_row(dataset, group, task, model, metric, mean, low, high, len(values),
                         n_invalid))  # fmt: skip
    if "macro_prf" in task_metrics:
        rows += _macro_rows(scores[valid], dataset, group, task, model, n_invalid,
                            n_resamples, confidence, seed)  # fmt: skip
    return rows


def _row(dataset, group, task, model, metric, value, low, high, n, n_invalid) -> dict[str, Any]:
    return {
        "dataset": dataset, "group": group, "task": task, "model": model, "metric": metric,
        "value": value, "ci_low": low, "ci_high": high, "n": n, "n_invalid": n_invalid,
    }  # fmt: skip


def _macro_rows(valid_scores, dataset, group, task, model, n_invalid, n_resamples, confidence,
                seed) -> list[dict[str, Any]]:  # fmt: skip
    """Macro P/R/F1 with a bootstrap over samples (the statistic is not a mean of samples)."""
    true, pred, n_labels = label_codes(
        valid_scores["label"].tolist(), as_objects(valid_scores["answer"])
    )
    point = macro_prf_codes(true, pred, n_labels)
    n = len(true)
    names = ("macro_precision", "macro_recall", "macro_f1")
    if n < 2:
        return [_row(dataset, group, task, model, m, v, v, v, n, n_invalid)
                for m, v in zip(names, point, strict=True)]  # fmt: skip
    rng = rng_for(seed, "bootstrap", dataset, task, model, "macro_prf")
    # The labels are encoded once; each replica only indexes the code arrays, and draws its own
    # indices so memory stays O(n) (an (R, n) matrix is 400 MB for ImageNet's 50k images).
    replicas = np.empty((n_resamples, 3))
    for replica in range(n_resamples):
        idx = rng.integers(0, n, size=n)
        replicas[replica] = macro_prf_codes(true[idx], pred[idx], n_labels)
    alpha = (1 - confidence) / 2
    low = np.percentile(replicas, 100 * alpha, axis=0)
    high = np.percentile(replicas, 100 * (1 - alpha), axis=0)
    return [
        _row(dataset, group, task, model, m, point[i], low[i], high[i], n, n_invalid)
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
    return frame.astype({"n": "int64", "n_invalid": "int64"})
