"""The sensitivity table (``results/tables/sensitivity.*``) and figure, from the long frame of
:func:`classbench.sensitivity.measure.results_frame`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from classbench.report import figure_parts as parts
from classbench.report.formatting import format_table, write_table
from classbench.report.frames import STAT, STATS, VALUE
from classbench.scoring.registry import long_label, short_label
from classbench.sensitivity.plan import DEFAULT

INDEX = ["task", "model", "factor", "setting", "metric"]
CAPTION = (
    "Sensitivity of the protocol: each task and model on a sample of images, with one factor "
    "changed at a time (batch size, image order, precision, distractors, the mapping's text "
    "encoder, single or multi-label ground truth)"
)
NOTE = (
    "One factor changed at a time from the study's own setting (default). Difference: the "
    "setting minus the default on the same images, with a paired bootstrap interval; exceeds = 1 "
    "when that interval leaves out zero."
)


def _ordered(results: pd.DataFrame) -> pd.DataFrame:
    """Tasks and models in order of first appearance; within each, the rows as measured (a
    metric's default row right before the first setting read on it)."""
    tasks = {task: i for i, task in enumerate(dict.fromkeys(results["task"]))}
    models = {model: i for i, model in enumerate(dict.fromkeys(results["model"]))}
    keys = results.assign(_task=results["task"].map(tasks), _model=results["model"].map(models))
    ordered = keys.sort_values(["_task", "_model"], kind="stable")
    return ordered.drop(columns=["_task", "_model"])


def sensitivity_table(results: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows (task, model, factor, setting, metric); columns the metric, its difference from the
    default (both with intervals) and whether the difference exceeds its interval."""
    data = _ordered(results)
    index = pd.MultiIndex.from_frame(data[INDEX].astype(str)) if len(data) else None
    columns = [("value", s) for s in STATS] + [("difference", s) for s in STATS]
    columns.append(("exceeds", VALUE))
    source = {
        ("value", "value"): "value", ("value", "ci_low"): "ci_low",
        ("value", "ci_high"): "ci_high", ("difference", "value"): "difference",
        ("difference", "ci_low"): "diff_low", ("difference", "ci_high"): "diff_high",
    }  # fmt: skip
    values = {
        col: data[source[col]].astype(float).to_numpy() if col in source else
        data["exceeds"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        for col in columns
    }  # fmt: skip
    numeric = pd.DataFrame(values, index=index)
    numeric.columns = pd.MultiIndex.from_tuples(columns, names=["column", STAT])
    numeric.attrs["table"] = {
        "percent": ["value", "difference"],
        "digits": {"value": 1, "difference": 1, "exceeds": 0},
        "best": False,
        "note": NOTE,
    }
    return format_table(numeric), numeric


def plot_sensitivity(results: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Each setting's difference from the default (x100, with its interval), one row per
    factor setting, one colour per model, one panel per task."""
    changed = _ordered(results[results["factor"] != DEFAULT])
    title = "Sensitivity: difference from the default setting"
    if changed.empty:
        return parts.no_data(stem, title)
    tasks = list(dict.fromkeys(changed["task"]))
    models = list(dict.fromkeys(changed["model"]))
    colours = dict(zip(models, parts.palette(len(models)), strict=True))
    labels_of = {
        task: list(dict.fromkeys(
            f"{f}: {s}" for f, s in zip(frame["factor"], frame["setting"], strict=True)
        ))
        for task, frame in changed.groupby("task", sort=False)
    }  # fmt: skip
    height = 0.8 + sum(0.28 * len(labels) + 0.5 for labels in labels_of.values())
    with parts.style():
        fig = parts.new_figure(parts.SINGLE + 1.2, height)
        axes = fig.subplots(
            len(tasks), 1, squeeze=False,
            height_ratios=[len(labels_of[t]) + 1 for t in tasks],
        )[:, 0]  # fmt: skip
        handles = {}
        for ax, task in zip(axes, tasks, strict=True):
            frame = changed[changed["task"] == task]
            labels = labels_of[task]
            offsets = np.linspace(-0.25, 0.25, len(models)) if len(models) > 1 else [0.0]
            for offset, model in zip(offsets, models, strict=True):
                rows = frame[frame["model"] == model]
                if rows.empty:
                    continue
                y = np.array(
                    [labels.index(f"{f}: {s}") for f, s in zip(rows["factor"], rows["setting"],
                                                               strict=True)]
                ) + offset  # fmt: skip
                diff = rows["difference"].to_numpy(dtype=float) * 100
                low = rows["diff_low"].to_numpy(dtype=float) * 100
                high = rows["diff_high"].to_numpy(dtype=float) * 100
                handles[model] = ax.errorbar(
                    diff, y, xerr=parts.errors(diff, low, high), fmt="o", markersize=4,
                    color=colours[model], elinewidth=1.0, capsize=2,
                )  # fmt: skip
            ax.axvline(0, color="0.3", linewidth=0.8)
            ax.set_yticks(range(len(labels)), labels)
            ax.set_ylim(-0.6, len(labels) - 0.4)
            ax.invert_yaxis()
            ax.grid(axis="y", visible=False)
            metrics = ", ".join(long_label(m) for m in dict.fromkeys(frame["metric"]))
            metrics = (
                metrics
                if len(metrics) <= 40
                else ", ".join(short_label(m) or m for m in dict.fromkeys(frame["metric"]))
            )
            ax.set_title(f"{task} ({metrics})", fontsize=9)
        axes[-1].set_xlabel("difference from the default (percentage points)")
        fig.suptitle(title)
        parts.legend(fig, list(handles.values()), list(handles))
        return parts.save(fig, stem)


def write_sensitivity(
    results: pd.DataFrame,
    table_stem: str | Path,
    figure_stem: str | Path,
    *,
    skipped: Sequence[str] = (),
    caption: str = CAPTION,
) -> list[Path]:
    """Write the table (``.csv``, ``.md``, ``.tex``) and the figure (``.png``, ``.pdf``);
    ``skipped`` (:func:`~classbench.sensitivity.plan.skipped_factors`) goes into the note."""
    _, numeric = sensitivity_table(results)
    note = NOTE
    if skipped:
        note += f" Factors without a setting (not applicable, or the default): {'; '.join(skipped)}"
    written = write_table(numeric, table_stem, caption=caption, note=note)
    return written + plot_sensitivity(results, figure_stem)
