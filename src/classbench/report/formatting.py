"""Formatting of the tables' numeric frames, and writing them as CSV, Markdown and LaTeX.

A numeric frame has a last column level ``stat`` whose values are ``value``, ``ci_low`` and
``ci_high``, in the summary's units (proportions in [0, 1], similarities in [-1, 1]); the CSV
holds exactly these numbers. Markdown and LaTeX show the columns a metric declares in percent
x100 with one decimal, followed by the confidence interval in brackets: ``46.4 [44.3, 48.5]``,
under the metric's short label. ``frame.attrs["table"]`` carries a builder's formatting hints.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from tabulate import tabulate

from classbench.io import write_text
from classbench.report.frames import CI_HIGH, CI_LOW, STAT, VALUE
from classbench.scoring.registry import short_label, static_columns

Best = Literal["max", "min"]

# Short labels of the columns that are not metrics (Elo and cost tables); a metric's column is
# labelled by its declaration (classbench.scoring.registry).
OTHER_LABELS: dict[str, str] = {
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
# Every short label for Markdown and LaTeX headers; the CSV keeps the column names.
LABELS: dict[str, str] = {
    **{name: column.short for name, column in static_columns().items()},
    **OTHER_LABELS,
}


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
    if key in labels:
        return labels[key]
    return OTHER_LABELS.get(key) or short_label(key) or key


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
