"""Our numbers beside the anchor papers' published ones: the reproduction table and figure.

The published numbers live in ``config/published/<paper>.csv``, one row per number: ``paper``,
``source`` (table and section, or the file they were read from), ``model``, ``dataset``,
``task``, ``metric`` (registry names), ``value`` on the scale the paper prints, and ``scale``
(100 for percentages, 1 for proportions). A study names the files of the papers it reproduces
(config ``reproduction.published``); :func:`reproduction_table` joins them with the summary,
converts ours to the paper's scale, and says, number by number, whether the published value
lies in our 95% interval.

A registry model with ``variant_of`` (the same checkpoint at the precision a paper used, or with
its class prompt) is compared with the numbers published for the model it is a variant of.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from tabulate import tabulate

from classbench.io import write_text
from classbench.report.tables import escape_latex
from classbench.scoring.registry import FINAL_SUFFIX, METRICS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PUBLISHED_COLUMNS = ("paper", "source", "model", "dataset", "task", "metric", "value", "scale")
TABLE_COLUMNS = [
    "paper", "source", "model", "published_model", "dataset", "task", "metric", "scale",
    "published", "ours", "ci_low", "ci_high", "difference", "in_interval", "n",
]  # fmt: skip
NO_MATCH = "No published number matches a result of this run."


class PublishedError(ValueError):
    """A published-numbers file is malformed or names something the registries do not know."""


def task_computes(task: Mapping[str, Any], column: str) -> bool:
    """Whether a summary row named ``column`` can come from ``task``'s metrics.

    A metric's columns are declared in :data:`classbench.scoring.registry.METRICS` (``macro_prf``
    writes macro precision, recall and F1; ``similarity_at_thresholds`` one column per
    threshold); a task with ``answer_extraction: final`` also scores its final answer (suffix
    ``_final``) with the metrics declared for it.
    """
    final = task.get("answer_extraction") == "final" and column.endswith(FINAL_SUFFIX)
    base = column.removesuffix(FINAL_SUFFIX) if final else column
    for name in task["metrics"]:
        metric = METRICS.get(name)
        if metric is None or (final and not (metric.on_final_answer and metric.per_sample)):
            continue
        if any(declared.match(base) is not None for declared in metric.columns):
            return True
    return False


def _decimals(text: str) -> int:
    _, _, fraction = text.strip().partition(".")
    return len(fraction)


def load_published(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """The published rows of every file in ``paths``, with ``value`` and ``scale`` as numbers
    and ``digits`` (the decimals the paper prints, for our numbers beside them).

    Raises :class:`PublishedError` naming the file and line of a missing column, a value that is
    not a number, or a scale other than 1 or 100.
    """
    frames = []
    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
            header = rows[0].keys() if rows else _header(path)
        missing = [c for c in PUBLISHED_COLUMNS if c not in header]
        if missing:
            raise PublishedError(f"{path}: missing column(s) {', '.join(missing)}")
        for line, row in enumerate(rows, start=2):
            try:
                row["digits"] = _decimals(row["value"])
                row["value"] = float(row["value"])
                row["scale"] = float(row["scale"])
            except (TypeError, ValueError):
                raise PublishedError(
                    f"{path}:{line}: value {row['value']!r} or scale {row['scale']!r} is not "
                    "a number"
                ) from None
            if row["scale"] not in (1.0, 100.0):
                raise PublishedError(f"{path}:{line}: scale must be 1 or 100, not {row['scale']}")
            row["file"] = str(path)
        frames.append(pd.DataFrame(rows, columns=[*PUBLISHED_COLUMNS, "digits", "file"]))
    if not frames:
        return pd.DataFrame(columns=[*PUBLISHED_COLUMNS, "digits", "file"])
    published = pd.concat(frames, ignore_index=True)
    return published.astype({"value": float, "scale": float, "digits": int})


def _header(path: str | os.PathLike) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle), [])


def check_published(
    published: pd.DataFrame,
    *,
    models: Mapping[str, Any],
    datasets: Mapping[str, Any],
    tasks: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """Problems of published rows: a model, dataset or task the registries do not know, or a
    metric the task does not compute (:func:`task_computes`: ``macro_precision`` is a column of
    ``macro_prf``)."""
    problems = []
    for row in published.itertuples(index=False):
        where = f"{row.file}: {row.model}/{row.dataset}/{row.task}/{row.metric}"
        for kind, registry, name in (
            ("model", models, row.model),
            ("dataset", datasets, row.dataset),
            ("task", tasks, row.task),
        ):
            if name not in registry:
                problems.append(f"{where}: unknown {kind} '{name}'")
        task = tasks.get(row.task)
        if task is not None and not task_computes(task, row.metric):
            problems.append(f"{where}: task '{row.task}' computes no metric '{row.metric}'")
    return problems


def reproduction_table(
    summary: pd.DataFrame,
    published: pd.DataFrame,
    *,
    variants: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Every published number that this run also measured, with ours beside it.

    ``variants`` maps our model names to the published model they are compared with
    (``variant_of``); other models are compared under their own name. Columns
    :data:`TABLE_COLUMNS`, then ``digits`` (the decimals the paper prints): ``ours``, ``ci_low``,
    ``ci_high`` and ``difference`` (ours minus published) are on the paper's scale;
    ``in_interval`` is whether the published value lies in our interval (missing when we have no
    interval). Sorted by paper, source, task, dataset, model, metric.
    """
    variants = dict(variants or {})
    empty = pd.DataFrame(columns=[*TABLE_COLUMNS, "digits"])
    if summary.empty or published.empty:
        return empty
    ours = summary.rename(columns={"model": "our_model"}).copy()
    ours["published_model"] = ours["our_model"].map(lambda m: variants.get(m, m))
    keys = ["published_model", "dataset", "task", "metric"]
    merged = published.rename(columns={"model": "published_model"}).merge(
        ours[[*keys, "our_model", "value", "ci_low", "ci_high", "n"]].rename(
            columns={"value": "ours_raw"}
        ),
        on=keys,
        how="inner",
    )
    if merged.empty:
        return empty
    scale = merged["scale"].astype(float)
    table = pd.DataFrame(
        {
            "paper": merged["paper"],
            "source": merged["source"],
            "model": merged["our_model"],
            "published_model": merged["published_model"],
            "dataset": merged["dataset"],
            "task": merged["task"],
            "metric": merged["metric"],
            "scale": scale,
            "published": merged["value"].astype(float),
            "ours": merged["ours_raw"].astype(float) * scale,
            "ci_low": merged["ci_low"].astype(float) * scale,
            "ci_high": merged["ci_high"].astype(float) * scale,
            "n": merged["n"],
            "digits": merged["digits"],
        }
    )
    table["difference"] = table["ours"] - table["published"]
    has_interval = table["ci_low"].notna() & table["ci_high"].notna()
    inside = (table["ci_low"] <= table["published"]) & (table["published"] <= table["ci_high"])
    table["in_interval"] = pd.array(
        [bool(i) if h else None for i, h in zip(inside, has_interval, strict=True)],
        dtype="boolean",
    )
    order = ["paper", "source", "task", "dataset", "model", "metric"]
    table = table.sort_values(order, kind="stable").reset_index(drop=True)
    return table[[*TABLE_COLUMNS, "digits"]]


def unmatched_count(published: pd.DataFrame, table: pd.DataFrame) -> int:
    """How many published numbers have no counterpart in ``table``."""
    if published.empty:
        return 0
    keys = ["model", "dataset", "task", "metric"]
    found = set(zip(*(table["published_model" if k == "model" else k] for k in keys), strict=True))
    return sum(key not in found for key in zip(*(published[k] for k in keys), strict=True))


# ----------------------------------------------------------------------------------- writing


def _number(value: float, digits: int) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _display_rows(table: pd.DataFrame, sources: Sequence[str]) -> list[list[str]]:
    rows = []
    for row in table.itertuples(index=False):
        d = max(int(row.digits), 1)
        interval = (
            f" [{_number(row.ci_low, d)}, {_number(row.ci_high, d)}]"
            if not (pd.isna(row.ci_low) or pd.isna(row.ci_high))
            else ""
        )
        model = row.model if row.model == row.published_model else (
            f"{row.model} ({row.published_model})"
        )  # fmt: skip
        flag = "" if pd.isna(row.in_interval) else ("yes" if row.in_interval else "no")
        rows.append([
            row.paper, str(sources.index(row.source) + 1), model, row.dataset, row.task,
            row.metric, f"{_number(row.ours, d)}{interval}", _number(row.published, d),
            f"{row.difference:+.{d}f}", flag,
        ])  # fmt: skip
    return rows


_HEADERS = ["paper", "src", "model", "dataset", "task", "metric", "ours [95% CI]", "published",
            "diff.", "in CI"]  # fmt: skip


def write_reproduction(
    table: pd.DataFrame,
    stem: str | Path,
    *,
    caption: str,
    unmatched: int = 0,
) -> list[Path]:
    """Write ``stem.csv`` (raw numbers), ``stem.md`` and ``stem.tex`` atomically.

    Markdown and LaTeX number the sources below the table; with no row they say so
    (:data:`NO_MATCH`) instead of drawing an empty table.
    """
    stem = Path(stem)
    notes = []
    if unmatched:
        notes.append(
            f"{unmatched} published number(s) of the selected papers have no counterpart in "
            "this run (a model, dataset, task or metric it does not evaluate)."
        )
    sources = list(dict.fromkeys(table["source"]))
    csv_text = table[TABLE_COLUMNS].to_csv(index=False, lineterminator="\n")
    if table.empty:
        body_md = NO_MATCH
        body_tex = f"\\emph{{{escape_latex(NO_MATCH)}}}"
    else:
        rows = _display_rows(table, sources)
        body_md = tabulate(
            [[c.replace("|", r"\|") for c in r] for r in rows],
            headers=_HEADERS,
            tablefmt="github",
            disable_numparse=True,
            colalign=["left"] * 6 + ["right"] * 3 + ["left"],
        )
        tex_rows = [" & ".join(escape_latex(c) for c in r) + " \\\\" for r in rows]
        body_tex = "\n".join(
            [
                "\\begin{tabular}{llllllrrrl}",
                "\\toprule",
                " & ".join(escape_latex(h) for h in _HEADERS) + " \\\\",
                "\\midrule",
                *tex_rows,
                "\\bottomrule",
                "\\end{tabular}",
            ]
        )
    source_lines = [f"[{i}] {source}" for i, source in enumerate(sources, start=1)]
    md_parts = [caption, body_md]
    if source_lines:
        md_parts.append("Sources:\n\n" + "\n".join(f"- {line}" for line in source_lines))
    md = "\n\n".join([*md_parts, *notes]) + "\n"
    tex = (
        "\n".join(
            [
                "% Generated by classbench.report.reproduction; needs \\usepackage{booktabs}.",
                "\\begin{table*}[t]",
                "\\centering",
                "\\small",
                f"\\caption{{{escape_latex(caption)}}}",
                "\\label{tab:reproduction}",
                body_tex,
                *(f"\\par\\footnotesize {escape_latex(s)}" for s in [*source_lines, *notes]),
                "\\end{table*}",
            ]
        )
        + "\n"
    )
    return [
        write_text(csv_text, stem.with_name(stem.name + ".csv")),
        write_text(md, stem.with_name(stem.name + ".md")),
        write_text(tex, stem.with_name(stem.name + ".tex")),
    ]


def reproduction_figure(table: pd.DataFrame) -> Figure:
    """Ours against published, in % of the paper's scale, one colour per paper, our 95%
    interval as a vertical bar, the diagonal y = x drawn (the first line of the axes)."""
    import matplotlib
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 4.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 100], [0, 100], color="0.5", linestyle="--", linewidth=0.8, label="y = x")
    if table.empty:
        ax.text(50, 50, NO_MATCH.replace(" a result", "\na result"), ha="center", va="center",
                fontsize=9, color="0.35")  # fmt: skip
    percent = 100.0 / table["scale"].astype(float)  # ours and published in % of the scale
    colours = matplotlib.colormaps["tab10"]
    for i, (paper, part) in enumerate(table.groupby("paper", sort=True)):
        factor = percent.loc[part.index]
        ours, published = part["ours"] * factor, part["published"] * factor
        low = (ours - part["ci_low"] * factor).clip(lower=0).fillna(0)
        high = (part["ci_high"] * factor - ours).clip(lower=0).fillna(0)
        ax.errorbar(
            published, ours, yerr=[low, high], fmt="o", markersize=3.5, elinewidth=0.8,
            capsize=1.5, color=colours(i % 10), label=str(paper),
        )  # fmt: skip
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_aspect("equal")
    ax.set_xlabel("published (%)")
    ax.set_ylabel("ours (%, 95% CI)")
    ax.set_title("Reproduction: ours against published", fontsize=10)
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    return fig


def plot_reproduction(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """:func:`reproduction_figure` written as ``stem.png`` (200 dpi) and ``stem.pdf``."""
    from classbench.report.figure_parts import save

    return save(reproduction_figure(table), stem, tight=False)


CAPTION = (
    "Reproduction of the anchor papers: each published number beside ours on the paper's "
    "scale (ours with its 95% bootstrap interval), the difference (ours minus published) and "
    "whether the published value lies in our interval. A model named as model (published "
    "model) is a variant of the published one (its precision or class prompt as the paper ran "
    "it)."
)


def compare(
    summary: pd.DataFrame,
    published_files: Sequence[str | os.PathLike],
    *,
    table_stem: str | Path,
    figure_stem: str | Path,
    variants: Mapping[str, str] | None = None,
    caption: str = CAPTION,
) -> pd.DataFrame:
    """Build, write and draw the reproduction of ``published_files`` against ``summary``."""
    published = load_published(published_files)
    table = reproduction_table(summary, published, variants=variants)
    write_reproduction(
        table, table_stem, caption=caption, unmatched=unmatched_count(published, table)
    )
    plot_reproduction(table, figure_stem)
    return table


def registry_variants(models_registry: str | os.PathLike) -> dict[str, str]:
    """``{model: variant_of}`` of a model registry file's variants."""
    from classbench.config import load_yaml

    models = load_yaml(models_registry) or {}
    return {name: spec["variant_of"] for name, spec in models.items() if "variant_of" in spec}


def compare_files(
    summary: str | os.PathLike,
    published_files: Sequence[str | os.PathLike],
    *,
    out: str | os.PathLike,
    models_registry: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """:func:`compare` from files (``classbench compare``): a summary parquet, published CSVs,
    the model registry whose variants map onto published models (default
    ``config/models.yaml`` when it exists); writes ``out/reproduction.{csv,md,tex,png,pdf}``."""
    from classbench.io import read_parquet

    if models_registry is None and Path("config/models.yaml").exists():
        models_registry = "config/models.yaml"
    variants = registry_variants(models_registry) if models_registry is not None else {}
    stem = Path(out) / "reproduction"
    return compare(
        read_parquet(summary), published_files, table_stem=stem, figure_stem=stem,
        variants=variants,
    )  # fmt: skip
