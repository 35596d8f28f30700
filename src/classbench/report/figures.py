"""Paper figures from the summary, Elo and letter-count frames.

Every function writes ``stem.png`` (200 dpi) and ``stem.pdf`` atomically and returns both paths;
input without data gives a figure saying "no data". Values of the metrics declared in percent
(proportions and similarities) are drawn x100; error bars and bands are the summary's confidence
intervals; means over datasets follow :func:`classbench.report.frames.aggregate_datasets`. The
shared style and drawing pieces are in :mod:`classbench.report.figure_parts`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.ticker import NullLocator

from classbench.report import figure_parts as parts
from classbench.report.frames import AVG, aggregate_datasets, dataset_order, group_rank
from classbench.scoring.registry import long_label

__all__ = [
    "plot_accuracy_vs_k",
    "plot_elo",
    "plot_group_bars",
    "plot_letter_bias",
    "plot_open_vs_closed",
    "plot_vs_contrastive",
]


def plot_group_bars(
    summary: pd.DataFrame,
    metric: str,
    stem: str | Path,
    tasks: Sequence[str] | None = None,
    *,
    by: str = "auto",
    title: str | None = None,
) -> list[Path]:
    """Bars per model for ``metric``, one cluster per granularity group (mean over its datasets).

    ``by="auto"`` clusters by dataset instead when there are fewer than two groups or every group
    holds a single dataset; one panel per task.
    """
    data = summary[summary["metric"] == metric]
    if tasks is not None:
        data = data[data["task"].isin(tasks)]
    if data.empty:
        return parts.no_data(stem, title or long_label(metric))
    datasets = dataset_order(data)
    group_of = data.drop_duplicates("dataset").set_index("dataset")["group"]
    groups = sorted(set(group_of), key=group_rank)
    if by == "auto":
        by = "group" if 1 < len(groups) < len(datasets) else "dataset"
    if by == "group":
        sets = {g: [d for d in datasets if group_of[d] == g] for g in groups}
    else:
        sets = {d: [d] for d in datasets}
    long = aggregate_datasets(data, ["task", "model", "metric"], sets)
    long = long.rename(columns={"model": "series", "column": "category"})
    task_list = [t for t in (tasks or dict.fromkeys(data["task"])) if t in set(long["task"])]
    models = sorted(set(long["series"]), key=str)
    colors = dict(zip(models, parts.palette(len(models)), strict=False))
    hatches = {m: parts.hatch(i) for i, m in enumerate(models)}
    categories = list(sets)
    width, per_row = parts.bar_layout(len(categories), len(models))
    n_axes = len(task_list) * math.ceil(len(categories) / per_row)
    panels = [(t if len(task_list) > 1 else None, long[long["task"] == t]) for t in task_list]
    with parts.style():
        fig = parts.new_figure(width, 0.6 + 2.3 * n_axes + 0.25 * math.ceil(len(models) / 4))
        factor = parts.scale(metric)
        handles, axes = parts.bar_panels(
            fig, panels, categories, models, colors, hatches, parts.metric_label(metric), per_row,
            factor,
        )  # fmt: skip
        if data["value"].min() >= 0:
            axes[0].set_ylim(bottom=0)
        if not (data["value"].abs() > 0).any():
            # all zero: autoscaling would give a meaningless 0-0.05 % axis
            axes[0].set_ylim(0, factor)
        if title:
            fig.suptitle(title)
        parts.legend(fig, [handles[m] for m in models], models)
        return parts.save(fig, stem)


def plot_elo(elo: pd.DataFrame, stem: str | Path, title: str) -> list[Path]:
    """Elo ratings as points with CI whiskers, best model on top."""
    if elo is None or elo.empty:
        return parts.no_data(stem, title)
    data = elo.sort_values("rating", kind="stable").reset_index(drop=True)
    y = np.arange(len(data))
    r = data["rating"].to_numpy(dtype=float)
    lo = data.get("ci_low", pd.Series(np.nan, index=data.index)).to_numpy(dtype=float)
    hi = data.get("ci_high", pd.Series(np.nan, index=data.index)).to_numpy(dtype=float)
    with parts.style():
        fig = parts.new_figure(parts.SINGLE + 0.5, 0.9 + 0.3 * len(data))
        ax = fig.add_subplot()
        ax.errorbar(
            r,
            y,
            xerr=parts.errors(r, lo, hi),
            fmt="o",
            color=parts.palette(1)[0],
            ecolor="0.3",
            elinewidth=1.0,
            capsize=2.5,
            markersize=5,
        )
        ax.set_yticks(y, [str(m) for m in data["model"]])
        ax.set_ylim(-0.6, len(data) - 0.4)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("Elo rating")
        ax.set_title(title)
        return parts.save(fig, stem)


def plot_accuracy_vs_k(
    summary: pd.DataFrame,
    task_k: Mapping[str, int],
    stem: str | Path,
    *,
    metric: str = "accuracy",
    chance: bool = True,
    title: str | None = None,
) -> list[Path]:
    """Label-list sweep: ``metric`` against K (log axis) per model with CI bands, one panel per
    dataset; ``chance`` draws 1/K."""
    data = summary[summary["task"].isin(list(task_k)) & (summary["metric"] == metric)].copy()
    if data.empty:
        return parts.no_data(stem, title)
    data["K"] = data["task"].map(task_k).astype(float)
    datasets = dataset_order(data)
    models = sorted(set(data["model"]), key=str)
    colors = dict(zip(models, parts.palette(len(models)), strict=False))
    markers = dict(
        zip(models, ["o", "s", "^", "D", "v", "P", "X", "<", ">", "*"] * 10, strict=False)
    )
    ks = sorted(set(data["K"]))
    factor = parts.scale(metric)
    n_cols = min(3, len(datasets))
    n_rows = math.ceil(len(datasets) / n_cols)
    with parts.style():
        width = min(parts.DOUBLE, 0.6 + 2.6 * n_cols) if n_cols > 1 else parts.SINGLE + 0.3
        fig = parts.new_figure(width, 0.9 + 2.4 * n_rows + 0.25 * math.ceil(len(models) / 4))
        axes = fig.subplots(n_rows, n_cols, sharey=True, squeeze=False).ravel()
        handles = {}
        for ax, dataset in zip(axes, datasets, strict=False):
            part = data[data["dataset"] == dataset]
            for i, model in enumerate(models):
                rows = part[part["model"] == model].sort_values("K")
                if rows.empty:
                    continue
                k = rows["K"].to_numpy()
                value = rows["value"].to_numpy(dtype=float) * factor
                low = rows["ci_low"].to_numpy(dtype=float) * factor
                high = rows["ci_high"].to_numpy(dtype=float) * factor
                if len(ks) == 1:
                    # One K: no line or band to draw; dodge the models apart (in log space) and
                    # show each interval as an error bar, so the points do not hide each other.
                    x = k * 10 ** (0.04 * (i - (len(models) - 1) / 2))
                    handles[model] = ax.errorbar(
                        x, value, yerr=parts.errors(value, low, high), fmt=markers[model],
                        markersize=5, color=colors[model], elinewidth=1.0, capsize=2,
                    )  # fmt: skip
                    continue
                (handles[model],) = ax.plot(
                    k, value, marker=markers[model], markersize=4, color=colors[model],
                    linewidth=1.4,
                )  # fmt: skip
                ax.fill_between(k, low, high, color=colors[model], alpha=0.2)
            if chance and metric == "accuracy":
                if len(ks) > 1:
                    grid = np.geomspace(min(ks), max(ks), 50)
                    (handles["chance (1/K)"],) = ax.plot(
                        grid, factor / grid, linestyle="--", color="0.45", linewidth=1.0
                    )
                else:  # a single K: chance is one level, drawn across the panel
                    handles["chance (1/K)"] = ax.axhline(
                        factor / ks[0], linestyle="--", color="0.45", linewidth=1.0
                    )
            ax.set_xscale("log")
            if len(ks) == 1:
                ax.set_xlim(ks[0] / 2, ks[0] * 2)
            ax.set_xticks(ks, [f"{k:g}" for k in ks])
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_title(str(dataset), loc="left")
            ax.set_xlabel("K (candidate labels)")
        for ax in axes[len(datasets) :]:
            ax.set_visible(False)
        for row in range(n_rows):
            axes[row * n_cols].set_ylabel(parts.metric_label(metric))
        axes[0].set_ylim(bottom=0)
        if title:
            fig.suptitle(title)
        parts.legend(fig, list(handles.values()), list(handles))
        return parts.save(fig, stem)


def plot_open_vs_closed(
    summary: pd.DataFrame,
    open_task: str,
    closed_task: str,
    stem: str | Path,
    *,
    open_metric: str = "textual_inclusion",
    closed_metric: str = "accuracy",
    title: str | None = None,
) -> list[Path]:
    """Per model, open-world ``open_metric`` against closed-world ``closed_metric``, each the
    mean over the datasets both tasks cover."""
    op = summary[(summary["task"] == open_task) & (summary["metric"] == open_metric)]
    cl = summary[(summary["task"] == closed_task) & (summary["metric"] == closed_metric)]
    common = [d for d in dataset_order(op) if d in set(cl["dataset"])]
    sets = {AVG: common}
    a = aggregate_datasets(op[op["dataset"].isin(common)], ["model", "metric"], sets)
    b = aggregate_datasets(cl[cl["dataset"].isin(common)], ["model", "metric"], sets)
    data = a.merge(b, on="model", suffixes=("_open", "_closed"))
    if data.empty:
        return parts.no_data(stem, title)
    data = data.sort_values("model").reset_index(drop=True)
    x_factor, y_factor = parts.scale(closed_metric), parts.scale(open_metric)
    x, y = (data[f"value_{side}"].to_numpy(dtype=float) * f
            for side, f in (("closed", x_factor), ("open", y_factor)))  # fmt: skip
    xerr = parts.errors(
        x, data["ci_low_closed"].to_numpy() * x_factor, data["ci_high_closed"].to_numpy() * x_factor
    )
    yerr = parts.errors(
        y, data["ci_low_open"].to_numpy() * y_factor, data["ci_high_open"].to_numpy() * y_factor
    )
    colors = parts.palette(len(data))
    bounds = np.concatenate([x - xerr[0], x + xerr[1], y - yerr[0], y + yerr[1]])
    span = max(np.nanmax(bounds) - np.nanmin(bounds), 10.0)
    lo = np.floor((np.nanmin(bounds) - 0.15 * span) / 5) * 5
    hi = np.ceil((np.nanmax(bounds) + 0.15 * span) / 5) * 5
    if np.nanmin(bounds) >= 0:  # proportions: stay within [0, 100] %
        lo, hi = max(lo, 0.0), min(hi, max(x_factor, y_factor))
    with parts.style():
        fig = parts.new_figure(parts.SINGLE + 0.4, parts.SINGLE + 0.2)
        ax = fig.add_subplot()
        ax.plot([lo, hi], [lo, hi], linestyle="--", color="0.6", linewidth=0.9, zorder=0)
        for i in range(len(data)):
            ax.errorbar(
                x[i],
                y[i],
                xerr=xerr[:, [i]],
                yerr=yerr[:, [i]],
                fmt="o",
                color=colors[i],
                ecolor=colors[i],
                elinewidth=0.9,
                capsize=2,
                markersize=5,
            )
        # a little room below the lower bound, so a point at 0 % is not cut in half by the axes
        pad = 0.02 * (hi - lo)
        ax.set_xlim(lo - pad, hi)
        ax.set_ylim(lo - pad, hi)
        ax.set_aspect("equal")
        ax.set_xlabel(f"{closed_task}: {parts.metric_label(closed_metric)}")
        ax.set_ylabel(f"{open_task}: {parts.metric_label(open_metric)}")
        if title:
            ax.set_title(title)
        parts.place_labels(fig, ax, x, y, list(data["model"]))
        return parts.save(fig, stem)


def plot_letter_bias(
    counts: pd.DataFrame, stem: str | Path, *, title: str | None = None
) -> list[Path]:
    """Row-normalised heatmaps of chosen letter (columns) against the true letter (rows), one
    panel per model; an unparsed choice (null ``chosen_letter``) gets its own ``n/a`` column."""
    if counts is None or counts.empty or counts["count"].sum() == 0:
        return parts.no_data(stem, title)
    data = counts.copy()
    data["chosen_letter"] = data["chosen_letter"].where(data["chosen_letter"].notna(), "n/a")
    data["chosen_letter"] = data["chosen_letter"].astype(str).replace("", "n/a")
    letters = sorted(set(data["gt_letter"].astype(str)) | (set(data["chosen_letter"]) - {"n/a"}))
    rows = sorted(set(data["gt_letter"].astype(str)))
    cols = letters + (["n/a"] if "n/a" in set(data["chosen_letter"]) else [])
    models = sorted(set(data["model"]), key=str)
    panel = 0.6 + (0.3 if len(cols) <= 8 else 0.14) * len(cols)
    # + 1e-9: 6.3 / 2.1 is 2.999… in floating point, which would drop a panel that fits
    max_cols = max(1, min(3, int((parts.DOUBLE - 0.7) / panel + 1e-9)))
    n_rows = math.ceil(len(models) / max_cols)
    n_cols = math.ceil(len(models) / n_rows)
    annotate = len(cols) <= 8
    norm = Normalize(0, 100)
    cmap = "mako_r"
    with parts.style():
        fig = parts.new_figure(0.9 + panel * n_cols, 0.5 + panel * n_rows)
        axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
        for ax, model in zip(axes, models, strict=False):
            part = data[data["model"] == model]
            matrix = part.pivot_table(
                index="gt_letter", columns="chosen_letter", values="count", aggfunc="sum"
            )
            matrix.index = matrix.index.astype(str)
            matrix = matrix.reindex(index=rows, columns=cols).fillna(0)
            share = matrix.div(matrix.sum(axis=1).replace(0, np.nan), axis=0)
            sns.heatmap(
                share * 100,
                ax=ax,
                cmap=cmap,
                vmin=0,
                vmax=100,
                cbar=False,
                square=True,
                linewidths=0.4,
                linecolor="white",
                annot=annotate,
                xticklabels=True,  # every letter, not seaborn's thinned ticks
                yticklabels=True,
                fmt=".0f",
                annot_kws={"fontsize": 9},
            )
            ax.set_title(str(model))
            ax.set_xlabel("chosen letter")
            ax.set_ylabel("true letter")
            ax.tick_params(axis="y", rotation=0)
            ax.tick_params(axis="x", rotation=0)
        for ax in axes[len(models) :]:
            ax.set_visible(False)
        fig.colorbar(
            ScalarMappable(norm=norm, cmap=cmap),
            ax=list(axes[: len(models)]),
            label="share of the row (%)",
            shrink=0.8,
        )
        if title:
            fig.suptitle(title)
        return parts.save(fig, stem)


def plot_vs_contrastive(
    summary: pd.DataFrame,
    mcq_task: str,
    zeroshot_task: str,
    stem: str | Path,
    *,
    options_label: str = "acc4",
    title: str | None = None,
) -> list[Path]:
    """Per dataset, each LMM's ``mcq_task`` accuracy beside each contrastive model's accuracy over
    the same options (``accuracy_options`` of ``zeroshot_task``, hatched grey), plus ``Avg``."""
    lmm = summary[(summary["task"] == mcq_task) & (summary["metric"] == "accuracy")]
    base = summary[(summary["task"] == zeroshot_task) & (summary["metric"] == "accuracy_options")]
    if lmm.empty and base.empty:
        return parts.no_data(stem, title)
    datasets = dataset_order(lmm) if not lmm.empty else dataset_order(base)
    base = base[base["dataset"].isin(datasets)].assign(
        model=lambda f: f["model"].astype(str) + f" ({options_label})"
    )
    sets: dict = {d: [d] for d in datasets}
    if len(datasets) > 1:
        sets[AVG] = datasets
    both = pd.concat([lmm, base], ignore_index=True)
    long = aggregate_datasets(both, ["model", "metric"], sets)
    long = long.rename(columns={"model": "series", "column": "category"})
    lmms = sorted(set(lmm["model"]), key=str)
    bases = sorted(set(base["model"]), key=str)
    colors = dict(zip(lmms, parts.palette(len(lmms)), strict=False))
    greys = sns.color_palette("Greys", len(bases) + 2)[1:-1] if bases else []
    colors.update(dict(zip(bases, greys, strict=False)))
    hatches = {m: parts.hatch(i) for i, m in enumerate(lmms)}
    hatches.update({b: "///" for b in bases})
    series = lmms + bases
    categories = list(sets)
    width, per_row = parts.bar_layout(len(categories), len(series))
    n_axes = math.ceil(len(categories) / per_row)
    with parts.style():
        fig = parts.new_figure(width, 0.9 + 2.4 * n_axes + 0.25 * math.ceil(len(series) / 4))
        handles, axes = parts.bar_panels(
            fig,
            [(title or f"{mcq_task} vs. contrastive ({options_label})", long)],
            categories,
            series,
            colors,
            hatches,
            parts.metric_label("accuracy"),
            per_row,
            parts.scale("accuracy"),
        )
        axes[0].set_ylim(0, parts.scale("accuracy"))
        parts.legend(fig, [handles[s] for s in series], series)
        return parts.save(fig, stem)
