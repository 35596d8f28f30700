"""Paper figures from the summary, Elo and letter-count frames.

Every function writes ``stem.png`` (200 dpi) and ``stem.pdf`` atomically and returns both paths;
input without data gives a figure saying "no data". Proportions and similarities are drawn in %;
error bars and bands are the summary's confidence intervals; means over datasets follow
:func:`classbench.report.tables.aggregate_datasets`.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures are only ever written to files

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator
from matplotlib.transforms import Bbox

from classbench.io import atomic_path
from classbench.report.tables import (
    AVG,
    METRIC_NAMES,
    aggregate_datasets,
    dataset_order,
    group_rank,
)

__all__ = [
    "plot_accuracy_vs_k",
    "plot_elo",
    "plot_group_bars",
    "plot_letter_bias",
    "plot_open_vs_closed",
    "plot_vs_contrastive",
]

DPI = 200
SINGLE, DOUBLE = 3.5, 7.0  # column widths in inches
RC = {
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "figure.titlesize": 11,
    "pdf.fonttype": 42,  # embed TrueType: editable text, accepted by publishers
    "ps.fonttype": 42,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
HATCHES = ("", "//", "..", "xx", "\\\\", "oo")


def _style():
    return matplotlib.rc_context({**sns.axes_style("whitegrid"), **RC})


def _colors(n: int) -> list:
    """Colour-blind-safe colours; past ten they repeat (bars then also differ by hatch)."""
    palette = list(sns.color_palette("colorblind", 10))
    return (palette * (n // 10 + 1))[: max(n, 1)]


def _hatch(i: int) -> str:
    return HATCHES[(i // 10) % len(HATCHES)]


def _metric_label(metric: str) -> str:
    return f"{METRIC_NAMES.get(metric, metric.replace('_', ' '))} (%)"


def _wrap(text: object, width: int) -> str:
    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _save(fig: Figure, stem: str | Path) -> list[Path]:
    stem = Path(stem)
    paths = []
    for ext in ("png", "pdf"):
        tmp, target = atomic_path(stem.with_name(f"{stem.name}.{ext}"))
        try:
            # tight bbox as a safety net for text placed beyond the axes (point labels)
            fig.savefig(tmp, format=ext, dpi=DPI, bbox_inches="tight", pad_inches=0.03)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
        paths.append(target)
    return paths


def _no_data(stem: str | Path, title: str | None) -> list[Path]:
    with _style():
        fig = _figure(SINGLE, 2.0)
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no data", ha="center", va="center", fontsize=12, color="0.35")
        if title:
            ax.set_title(title)
        return _save(fig, stem)


def _errors(value: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Asymmetric error lengths for ``errorbar``; a missing bound draws no bar."""
    err = np.vstack([value - low, high - value])
    return np.nan_to_num(np.clip(err, 0, None), nan=0.0)


def _legend(fig: Figure, handles: list, labels: list[str], n_cols_max: int = 4) -> None:
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=min(len(labels), n_cols_max),
        frameon=False,
    )


def _grouped_bars(
    ax,
    frame: pd.DataFrame,
    categories: list,
    series: list,
    colors: Mapping,
    hatches: Mapping,
) -> dict:
    """Grouped bars of ``frame`` (columns category, series, value, ci_low, ci_high) in %."""
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(categories))
    handles = {}
    indexed = frame.set_index(["series", "category"])
    for i, name in enumerate(series):
        rows = indexed.reindex([(name, c) for c in categories])
        v, lo, hi = (rows[k].to_numpy(dtype=float) * 100 for k in ("value", "ci_low", "ci_high"))
        pos = x - 0.4 + width * (i + 0.5)
        handles[name] = ax.bar(
            pos,
            np.nan_to_num(v),
            width * 0.92,
            color=colors[name],
            hatch=hatches.get(name, ""),
            edgecolor="white" if not hatches.get(name) else "0.25",
            linewidth=0.5,
        )
        zero = np.isclose(v, 0.0)
        if zero.any():
            # A zero-height bar is invisible, and would read as missing data: draw it as a
            # dash in the series colour on the baseline.
            ax.hlines(
                np.zeros(zero.sum()),
                pos[zero] - width * 0.46,
                pos[zero] + width * 0.46,
                colors=[colors[name]],
                linewidth=2.5,
                clip_on=False,
                zorder=3,
            )
        ok = ~np.isnan(v)
        if ok.any():
            ax.errorbar(
                pos[ok],
                v[ok],
                yerr=_errors(v[ok], lo[ok], hi[ok]),
                fmt="none",
                ecolor="0.15",
                elinewidth=0.8,
                capsize=1.5,
            )
    ax.set_xticks(x, [_wrap(c, BAR_CATEGORY_CHARS) for c in categories])
    ax.set_xlim(-0.5, len(categories) - 0.5)
    ax.grid(axis="x", visible=False)
    return handles


BAR_INCHES = 0.13  # per bar
BAR_CATEGORY_CHARS = 16  # tick labels wrap beyond this many characters


def _bar_layout(n_categories: int, n_series: int) -> tuple[float, int]:
    """Figure width and categories per panel row: rows wrap rather than exceed a page width."""
    per_category = max(0.35 + BAR_INCHES * n_series, 1.1)
    per_row = max(1, min(n_categories, int((DOUBLE - 0.8) // per_category)))
    rows = math.ceil(n_categories / per_row)
    per_row = math.ceil(n_categories / rows)  # balance the rows
    width = float(np.clip(0.8 + per_row * per_category, SINGLE, DOUBLE))
    return width, per_row


def _bar_panels(
    fig: Figure,
    panels: list[tuple[str | None, pd.DataFrame]],
    categories: list,
    series: list,
    colors: Mapping,
    hatches: Mapping,
    ylabel: str,
    per_row: int,
) -> tuple[dict, list]:
    """One row of axes per (panel, chunk of categories); returns legend handles and the axes."""
    chunks = [categories[i : i + per_row] for i in range(0, len(categories), per_row)]
    axes = fig.subplots(len(panels) * len(chunks), 1, sharey=True, squeeze=False)[:, 0]
    handles: dict = {}
    for p, (title, frame) in enumerate(panels):
        present = [s for s in series if s in set(frame["series"])]
        for c, chunk in enumerate(chunks):
            ax = axes[p * len(chunks) + c]
            handles.update(_grouped_bars(ax, frame, chunk, present, colors, hatches))
            # pad a short last chunk so bars keep the same width in every row
            ax.set_xlim(-0.5, per_row - 0.5)
            ax.set_ylabel(ylabel)
            if title and c == 0:
                ax.set_title(title, loc="left")
    return handles, list(axes)


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
        return _no_data(stem, title or METRIC_NAMES.get(metric, metric))
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
    colors = dict(zip(models, _colors(len(models)), strict=False))
    hatches = {m: _hatch(i) for i, m in enumerate(models)}
    categories = list(sets)
    width, per_row = _bar_layout(len(categories), len(models))
    n_axes = len(task_list) * math.ceil(len(categories) / per_row)
    panels = [(t if len(task_list) > 1 else None, long[long["task"] == t]) for t in task_list]
    with _style():
        fig = _figure(width, 0.6 + 2.3 * n_axes + 0.25 * math.ceil(len(models) / 4))
        handles, axes = _bar_panels(
            fig, panels, categories, models, colors, hatches, _metric_label(metric), per_row
        )
        if data["value"].min() >= 0:
            axes[0].set_ylim(bottom=0)
        if not (data["value"].abs() > 0).any():
            # all zero: autoscaling would give a meaningless 0-0.05 % axis
            axes[0].set_ylim(0, 100)
        if title:
            fig.suptitle(title)
        _legend(fig, [handles[m] for m in models], models)
        return _save(fig, stem)


def plot_elo(elo: pd.DataFrame, stem: str | Path, title: str) -> list[Path]:
    """Elo ratings as points with CI whiskers, best model on top."""
    if elo is None or elo.empty:
        return _no_data(stem, title)
    data = elo.sort_values("rating", kind="stable").reset_index(drop=True)
    y = np.arange(len(data))
    r = data["rating"].to_numpy(dtype=float)
    lo = data.get("ci_low", pd.Series(np.nan, index=data.index)).to_numpy(dtype=float)
    hi = data.get("ci_high", pd.Series(np.nan, index=data.index)).to_numpy(dtype=float)
    with _style():
        fig = _figure(SINGLE + 0.5, 0.9 + 0.3 * len(data))
        ax = fig.add_subplot()
        ax.errorbar(
            r,
            y,
            xerr=_errors(r, lo, hi),
            fmt="o",
            color=_colors(1)[0],
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
        return _save(fig, stem)


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
        return _no_data(stem, title)
    data["K"] = data["task"].map(task_k).astype(float)
    datasets = dataset_order(data)
    models = sorted(set(data["model"]), key=str)
    colors = dict(zip(models, _colors(len(models)), strict=False))
    markers = dict(
        zip(models, ["o", "s", "^", "D", "v", "P", "X", "<", ">", "*"] * 10, strict=False)
    )
    ks = sorted(set(data["K"]))
    n_cols = min(3, len(datasets))
    n_rows = math.ceil(len(datasets) / n_cols)
    with _style():
        width = min(DOUBLE, 0.6 + 2.6 * n_cols) if n_cols > 1 else SINGLE + 0.3
        fig = _figure(width, 0.9 + 2.4 * n_rows + 0.25 * math.ceil(len(models) / 4))
        axes = fig.subplots(n_rows, n_cols, sharey=True, squeeze=False).ravel()
        handles = {}
        for ax, dataset in zip(axes, datasets, strict=False):
            part = data[data["dataset"] == dataset]
            for i, model in enumerate(models):
                rows = part[part["model"] == model].sort_values("K")
                if rows.empty:
                    continue
                k = rows["K"].to_numpy()
                value = rows["value"].to_numpy(dtype=float) * 100
                low = rows["ci_low"].to_numpy(dtype=float) * 100
                high = rows["ci_high"].to_numpy(dtype=float) * 100
                if len(ks) == 1:
                    # One K: no line or band to draw; dodge the models apart (in log space) and
                    # show each interval as an error bar, so the points do not hide each other.
                    x = k * 10 ** (0.04 * (i - (len(models) - 1) / 2))
                    handles[model] = ax.errorbar(
                        x, value, yerr=_errors(value, low, high), fmt=markers[model],
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
                        grid, 100 / grid, linestyle="--", color="0.45", linewidth=1.0
                    )
                else:  # a single K: chance is one level, drawn across the panel
                    handles["chance (1/K)"] = ax.axhline(
                        100 / ks[0], linestyle="--", color="0.45", linewidth=1.0
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
            axes[row * n_cols].set_ylabel(_metric_label(metric))
        axes[0].set_ylim(bottom=0)
        if title:
            fig.suptitle(title)
        _legend(fig, list(handles.values()), list(handles))
        return _save(fig, stem)


def _place_labels(fig: Figure, ax, x: np.ndarray, y: np.ndarray, labels: Sequence[str]) -> None:
    """Label each point at the nearest candidate spot that overlaps no other label, no point and
    no axes edge; farther spots get a leader line. Falls back to the least-overlapping spot."""
    FigureCanvasAgg(fig)  # a renderer to measure text with
    fig.draw_without_rendering()  # settle the constrained layout first
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    to_px = fig.dpi / 72
    centres = ax.transData.transform(np.column_stack([x, y]))
    radius = 4 * to_px
    obstacles = [
        Bbox.from_extents(cx - radius, cy - radius, cx + radius, cy + radius) for cx, cy in centres
    ]
    candidates = [
        (dx * r, dy * r, ha, va)
        for r in (1.0, 2.6, 4.5)
        for dx, dy, ha, va in (
            (6, 3, "left", "bottom"),
            (-6, 3, "right", "bottom"),
            (6, -3, "left", "top"),
            (-6, -3, "right", "top"),
            (0, 5, "center", "bottom"),
            (0, -5, "center", "top"),
        )
    ]

    def cost(box: Bbox) -> float:
        inside = (
            frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
        )
        overlap = sum(
            max(0.0, min(box.x1, o.x1) - max(box.x0, o.x0))
            * max(0.0, min(box.y1, o.y1) - max(box.y0, o.y0))
            for o in obstacles
        )
        return overlap + (0.0 if inside else 1e9)

    for i in np.argsort(-y):  # top points first: they have the least room above
        best = None
        for dx, dy, ha, va in candidates:
            text = ax.annotate(
                str(labels[i]),
                (x[i], y[i]),
                xytext=(dx, dy),
                textcoords="offset points",
                ha=ha,
                va=va,
                fontsize=9,
            )
            box = text.get_window_extent(renderer).expanded(1.05, 1.1)
            text.remove()
            score = cost(box)
            if best is None or score < best[0]:
                best = (score, dx, dy, ha, va, box)
            if score == 0:
                break
        _, dx, dy, ha, va, box = best
        far = abs(dx) > 6 or abs(dy) > 6
        text = ax.annotate(
            str(labels[i]),
            (x[i], y[i]),
            xytext=(dx, dy),
            textcoords="offset points",
            ha=ha,
            va=va,
            fontsize=9,
            arrowprops={"arrowstyle": "-", "color": "0.55", "linewidth": 0.6, "shrinkB": 3}
            if far
            else None,
        )
        text.set_in_layout(False)
        obstacles.append(box)


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
        return _no_data(stem, title)
    data = data.sort_values("model").reset_index(drop=True)
    x = data["value_closed"].to_numpy(dtype=float) * 100
    y = data["value_open"].to_numpy(dtype=float) * 100
    xerr = _errors(
        x, data["ci_low_closed"].to_numpy() * 100, data["ci_high_closed"].to_numpy() * 100
    )
    yerr = _errors(y, data["ci_low_open"].to_numpy() * 100, data["ci_high_open"].to_numpy() * 100)
    colors = _colors(len(data))
    bounds = np.concatenate([x - xerr[0], x + xerr[1], y - yerr[0], y + yerr[1]])
    span = max(np.nanmax(bounds) - np.nanmin(bounds), 10.0)
    lo = np.floor((np.nanmin(bounds) - 0.15 * span) / 5) * 5
    hi = np.ceil((np.nanmax(bounds) + 0.15 * span) / 5) * 5
    if np.nanmin(bounds) >= 0:  # proportions: stay within [0, 100]
        lo, hi = max(lo, 0.0), min(hi, 100.0)
    with _style():
        fig = _figure(SINGLE + 0.4, SINGLE + 0.2)
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
        ax.set_xlabel(f"{closed_task}: {_metric_label(closed_metric)}")
        ax.set_ylabel(f"{open_task}: {_metric_label(open_metric)}")
        if title:
            ax.set_title(title)
        _place_labels(fig, ax, x, y, list(data["model"]))
        return _save(fig, stem)


def plot_letter_bias(
    counts: pd.DataFrame, stem: str | Path, *, title: str | None = None
) -> list[Path]:
    """Row-normalised heatmaps of chosen letter (columns) against the true letter (rows), one
    panel per model; an unparsed choice (null ``chosen_letter``) gets its own ``n/a`` column."""
    if counts is None or counts.empty or counts["count"].sum() == 0:
        return _no_data(stem, title)
    data = counts.copy()
    data["chosen_letter"] = data["chosen_letter"].where(data["chosen_letter"].notna(), "n/a")
    data["chosen_letter"] = data["chosen_letter"].astype(str).replace("", "n/a")
    letters = sorted(set(data["gt_letter"].astype(str)) | (set(data["chosen_letter"]) - {"n/a"}))
    rows = sorted(set(data["gt_letter"].astype(str)))
    cols = letters + (["n/a"] if "n/a" in set(data["chosen_letter"]) else [])
    models = sorted(set(data["model"]), key=str)
    panel = 0.6 + (0.3 if len(cols) <= 8 else 0.14) * len(cols)
    # + 1e-9: 6.3 / 2.1 is 2.999… in floating point, which would drop a panel that fits
    max_cols = max(1, min(3, int((DOUBLE - 0.7) / panel + 1e-9)))
    n_rows = math.ceil(len(models) / max_cols)
    n_cols = math.ceil(len(models) / n_rows)
    annotate = len(cols) <= 8
    norm = Normalize(0, 100)
    cmap = "mako_r"
    with _style():
        fig = _figure(0.9 + panel * n_cols, 0.5 + panel * n_rows)
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
        return _save(fig, stem)


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
        return _no_data(stem, title)
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
    colors = dict(zip(lmms, _colors(len(lmms)), strict=False))
    greys = sns.color_palette("Greys", len(bases) + 2)[1:-1] if bases else []
    colors.update(dict(zip(bases, greys, strict=False)))
    hatches = {m: _hatch(i) for i, m in enumerate(lmms)}
    hatches.update({b: "///" for b in bases})
    series = lmms + bases
    categories = list(sets)
    width, per_row = _bar_layout(len(categories), len(series))
    n_axes = math.ceil(len(categories) / per_row)
    with _style():
        fig = _figure(width, 0.9 + 2.4 * n_axes + 0.25 * math.ceil(len(series) / 4))
        handles, axes = _bar_panels(
            fig,
            [(title or f"{mcq_task} vs. contrastive ({options_label})", long)],
            categories,
            series,
            colors,
            hatches,
            _metric_label("accuracy"),
            per_row,
        )
        axes[0].set_ylim(0, 100)
        _legend(fig, [handles[s] for s in series], series)
        return _save(fig, stem)
