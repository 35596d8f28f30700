"""What the paper figures share: style, colours, saving, grouped bars and point labels.

Figures follow one style (seaborn's white grid, journal font sizes, TrueType fonts in PDFs, colour-
blind-safe colours) and are written as ``stem.png`` (200 dpi) and ``stem.pdf`` atomically. A
metric's axis label and scaling come from its declaration (:mod:`classbench.scoring.registry`).
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: figures are only ever written to files

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from classbench.io import atomic_path
from classbench.scoring.registry import in_percent, long_label

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


def style():
    return matplotlib.rc_context({**sns.axes_style("whitegrid"), **RC})


def palette(n: int) -> list:
    """Colour-blind-safe colours; past ten they repeat (bars then also differ by hatch)."""
    palette = list(sns.color_palette("colorblind", 10))
    return (palette * (n // 10 + 1))[: max(n, 1)]


def hatch(i: int) -> str:
    return HATCHES[(i // 10) % len(HATCHES)]


def metric_label(metric: str) -> str:
    """An axis label from the metric's declaration: its long name, and "(%)" when scaled."""
    name = long_label(metric)
    return f"{name} (%)" if in_percent(metric) else name


def scale(metric: str) -> float:
    """The factor a metric's values are drawn with: 100 for those declared in percent."""
    return 100.0 if in_percent(metric) else 1.0


def wrap(text: object, width: int) -> str:
    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


def new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def save(fig: Figure, stem: str | Path, *, tight: bool = True) -> list[Path]:
    """``fig`` written atomically as ``stem.png`` (``DPI``) and ``stem.pdf``; ``tight`` crops
    to the drawn content, a safety net for text placed beyond the axes (point labels)."""
    stem = Path(stem)
    paths = []
    crop: dict[str, Any] = {"bbox_inches": "tight", "pad_inches": 0.03} if tight else {}
    for ext in ("png", "pdf"):
        tmp, target = atomic_path(stem.with_name(f"{stem.name}.{ext}"))
        try:
            fig.savefig(tmp, format=ext, dpi=DPI, **crop)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
        paths.append(target)
    return paths


def no_data(stem: str | Path, title: str | None) -> list[Path]:
    with style():
        fig = new_figure(SINGLE, 2.0)
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no data", ha="center", va="center", fontsize=12, color="0.35")
        if title:
            ax.set_title(title)
        return save(fig, stem)


def errors(value: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Asymmetric error lengths for ``errorbar``; a missing bound draws no bar."""
    err = np.vstack([value - low, high - value])
    return np.nan_to_num(np.clip(err, 0, None), nan=0.0)


def legend(fig: Figure, handles: list, labels: list[str], n_cols_max: int = 4) -> None:
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=min(len(labels), n_cols_max),
        frameon=False,
    )


def grouped_bars(
    ax,
    frame: pd.DataFrame,
    categories: list,
    series: list,
    colors: Mapping,
    hatches: Mapping,
    factor: float = 100.0,
) -> dict:
    """Grouped bars of ``frame`` (columns category, series, value, ci_low, ci_high), values
    multiplied by ``factor`` (see :func:`scale`)."""
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(categories))
    handles = {}
    indexed = frame.set_index(["series", "category"])
    for i, name in enumerate(series):
        rows = indexed.reindex([(name, c) for c in categories])
        v, lo, hi = (rows[k].to_numpy(dtype=float) * factor for k in ("value", "ci_low", "ci_high"))
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
                yerr=errors(v[ok], lo[ok], hi[ok]),
                fmt="none",
                ecolor="0.15",
                elinewidth=0.8,
                capsize=1.5,
            )
    ax.set_xticks(x, [wrap(c, BAR_CATEGORY_CHARS) for c in categories])
    ax.set_xlim(-0.5, len(categories) - 0.5)
    ax.grid(axis="x", visible=False)
    return handles


BAR_INCHES = 0.13  # per bar
BAR_CATEGORY_CHARS = 16  # tick labels wrap beyond this many characters


def bar_layout(n_categories: int, n_series: int) -> tuple[float, int]:
    """Figure width and categories per panel row: rows wrap rather than exceed a page width."""
    per_category = max(0.35 + BAR_INCHES * n_series, 1.1)
    per_row = max(1, min(n_categories, int((DOUBLE - 0.8) // per_category)))
    rows = math.ceil(n_categories / per_row)
    per_row = math.ceil(n_categories / rows)  # balance the rows
    width = float(np.clip(0.8 + per_row * per_category, SINGLE, DOUBLE))
    return width, per_row


def bar_panels(
    fig: Figure,
    panels: list[tuple[str | None, pd.DataFrame]],
    categories: list,
    series: list,
    colors: Mapping,
    hatches: Mapping,
    ylabel: str,
    per_row: int,
    factor: float = 100.0,
) -> tuple[dict, list]:
    """One row of axes per (panel, chunk of categories); returns legend handles and the axes."""
    chunks = [categories[i : i + per_row] for i in range(0, len(categories), per_row)]
    axes = fig.subplots(len(panels) * len(chunks), 1, sharey=True, squeeze=False)[:, 0]
    handles: dict = {}
    for p, (title, frame) in enumerate(panels):
        present = [s for s in series if s in set(frame["series"])]
        for c, chunk in enumerate(chunks):
            ax = axes[p * len(chunks) + c]
            handles.update(grouped_bars(ax, frame, chunk, present, colors, hatches, factor))
            # pad a short last chunk so bars keep the same width in every row
            ax.set_xlim(-0.5, per_row - 0.5)
            ax.set_ylabel(ylabel)
            if title and c == 0:
                ax.set_title(title, loc="left")
    return handles, list(axes)


def place_labels(fig: Figure, ax, x: np.ndarray, y: np.ndarray, labels: Sequence[str]) -> None:
    """Label each point at the nearest candidate spot that overlaps no other label, no point and
    no axes edge; farther spots get a leader line. Falls back to the least-overlapping spot."""
    canvas = FigureCanvasAgg(fig)  # a renderer to measure text with
    fig.draw_without_rendering()  # settle the constrained layout first
    renderer = canvas.get_renderer()
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

    def annotate(i: int, dx: float, dy: float, ha: str, va: str, leader: bool = False):
        arrow = {"arrowstyle": "-", "color": "0.55", "linewidth": 0.6, "shrinkB": 3}
        return ax.annotate(
            str(labels[i]),
            (x[i], y[i]),
            xytext=(dx, dy),
            textcoords="offset points",
            ha=ha,
            va=va,
            fontsize=9,
            arrowprops=arrow if leader else None,
        )

    for i in np.argsort(-y):  # top points first: they have the least room above
        best = None
        for dx, dy, ha, va in candidates:
            text = annotate(i, dx, dy, ha, va)
            box = text.get_window_extent(renderer).expanded(1.05, 1.1)
            text.remove()
            score = cost(box)
            if best is None or score < best[0]:
                best = (score, dx, dy, ha, va, box)
            if score == 0:
                break
        assert best is not None  # there are always candidates
        _, dx, dy, ha, va, box = best
        text = annotate(i, dx, dy, ha, va, leader=abs(dx) > 6 or abs(dy) > 6)
        text.set_in_layout(False)
        obstacles.append(box)
