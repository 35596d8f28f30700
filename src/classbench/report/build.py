"""Which tables and figures a study gets, and how each is made from the pipeline's files.

The plan depends only on the study's tasks (their protocols) and ranked tasks, so the workflow
knows every output name before any job runs; each table and figure is one small job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from classbench.report import protocol_tables, tables
from classbench.scoring.registry import long_label

_OPEN_FIGURE_METRICS = ("textual_inclusion", "llm_inclusion", "semantic_similarity",
                        "concept_similarity")  # fmt: skip


# plot_group_bars clusters by dataset when groups would compare nothing or combine nothing
_BAR_CLUSTERS = "granularity group (per dataset when there is one group, or one dataset per group)"
_HEADLINES = {"accuracy": "mapped accuracy", "textual_inclusion": "plain inclusion"}
_ELO_CRITERIA = {
    "semantic_similarity": "semantic-similarity criterion",
    "llm_judge": "LLM-judge criterion",
}


# Table name -> (kind, caption), in the report's order; {headline} and {criterion} are filled in
# by the study's settings.
_TABLES = {
    "open_world": (
        "open_world",
        "Open-world classification per granularity group (lmms-owc layout): textual inclusion "
        "(TI), LLM-judge inclusion (LI), semantic (SS) and concept (CS) similarity, and the "
        "accuracy of the answer mapped to its nearest class name.",
    ),
    "multiple_choice": (
        "mcq",
        "Multiple-choice accuracy per dataset and average (FOCI layout), with the contrastive "
        "baselines over all classes (acc) and over the options (acc4).",
    ),
    "label_list": (
        "labels",
        "Label-list results per number of candidate labels K: accuracy of the answer mapped "
        "onto one candidate (Acc), plain inclusion of the label in the raw answer (Incl., "
        "VLMClassifier's number), macro precision / recall / F1; {headline} first.",
    ),
    "out_of_list": (
        "out_of_list",
        "Closed-world answers outside the offered list: the share of answers that name none of "
        "the candidate classes (label lists) or letters (multiple choice), per dataset.",
    ),
    "multi_label": (
        "multi_label",
        "Single-label against multi-label ground truth: each task's metrics against the "
        "original label and against the image's set of correct labels.",
    ),
    "supervised": (
        "supervised",
        "Supervised ImageNet classifiers (the label-list thesis's baselines): accuracy per "
        "dataset with ImageNet labels, argmax over the outputs of the dataset's classes.",
    ),
    "elo": (
        "elo",
        "Elo leaderboard over all datasets (lmms-owc games; {criterion}), with 95% bootstrap "
        "intervals.",
    ),
    "cost": (
        "cost",
        "Inference cost: generation time, throughput and GPU hours per model, dataset and task.",
    ),
}


# Figure captions by figure (open: per metric); the words in braces are filled in by the study.
_FIGURE_CAPTIONS = {
    "open": "Open world: {metric} per {clusters} and model (95% bootstrap intervals).",
    "mcq_accuracy": "Multiple choice: accuracy per {clusters} and model (95% bootstrap intervals).",
    "letter_bias": "Multiple choice: chosen letter against the ground-truth letter, "
    "row-normalised (FOCI's position-bias analysis); n/a = unparsed answer.",
    "vs_contrastive": "Each LMM's multiple-choice accuracy against the contrastive baselines "
    "restricted to the same options (acc4), per dataset.",
    "open_vs_closed": "Open-world textual inclusion against closed-world (multiple-choice) "
    "accuracy per model.",
    "accuracy_vs_k": "Label list: {headline} against the number of candidate labels K.",
    "elo": "Elo ratings on {task} over all datasets (lmms-owc games; {criterion}), with 95% "
    "intervals.",
}


def _spec(kind: str, caption: str, **arguments: Any) -> dict[str, Any]:
    """One table's or figure's spec: what makes it, its arguments, and its caption."""
    return {"kind": kind, **arguments, "caption": caption}


def table_plan(
    protocols: Mapping[str, str],
    elo_tasks: Sequence[str],
    elo_criterion: str = "semantic_similarity",
    label_headline: str = "accuracy",
    multi_label: bool = False,
) -> dict[str, dict]:
    """Table name -> spec (kind, caption) for a study; ``elo_criterion`` decides Elo games,
    ``label_headline`` the label-list table's first metric; ``multi_label``: some dataset of the
    study has label sets."""
    used = set(protocols.values())
    wanted = {
        "open_world": "open" in used,
        "multiple_choice": bool(used & {"mcq", "zeroshot"}),
        "label_list": "labels" in used,
        "out_of_list": bool(used & {"labels", "mcq"}),
        "multi_label": multi_label,
        "supervised": "supervised" in used,
        "elo": bool(elo_tasks),
        "cost": True,
    }
    arguments: dict[str, dict[str, Any]] = {
        "label_list": {"headline": label_headline},
        "elo": {"tasks": list(elo_tasks)},
    }
    words = {
        "headline": _HEADLINES.get(label_headline, label_headline),
        "criterion": _ELO_CRITERIA.get(elo_criterion, elo_criterion),
    }
    plan: dict[str, dict[str, Any]] = {}
    for name, (kind, caption) in _TABLES.items():
        if wanted[name]:
            plan[name] = _spec(kind, caption.format(**words), **arguments.get(name, {}))
    return plan


def figure_plan(
    protocols: Mapping[str, str],
    elo_tasks: Sequence[str],
    metrics: Mapping[str, Sequence[str]] | None = None,
    elo_criterion: str = "semantic_similarity",
    label_headline: str = "accuracy",
) -> dict[str, dict]:
    """Figure name -> spec (kind, arguments, caption) for a study.

    ``metrics`` (task -> its metrics) limits the open-world figures to metrics some task computes;
    ``elo_criterion`` is named in the Elo captions; the label-list sweep plots ``label_headline``.
    """
    plan: dict[str, dict[str, Any]] = {}
    open_tasks = [t for t, p in protocols.items() if p == "open"]
    mcq_tasks = [t for t, p in protocols.items() if p == "mcq"]
    zeroshot_tasks = [t for t, p in protocols.items() if p == "zeroshot"]
    label_tasks = [t for t, p in protocols.items() if p == "labels"]
    computed = {m for t in open_tasks for m in (metrics or {}).get(t, _OPEN_FIGURE_METRICS)}
    words = {
        "clusters": _BAR_CLUSTERS,
        "headline": _HEADLINES.get(label_headline, label_headline),
        "criterion": _ELO_CRITERIA.get(elo_criterion, elo_criterion),
    }

    def caption(name: str, **extra: str) -> str:
        return _FIGURE_CAPTIONS[name].format(**words, **extra)

    for metric in [m for m in _OPEN_FIGURE_METRICS if m in computed]:
        text = caption("open", metric=long_label(metric))
        plan[f"open_{metric}"] = _spec("group_bars", text, metric=metric, tasks=open_tasks)
    if mcq_tasks:
        text = caption("mcq_accuracy")
        plan["mcq_accuracy"] = _spec("group_bars", text, metric="accuracy", tasks=mcq_tasks)
        plan["mcq_letter_bias"] = _spec("letter_bias", caption("letter_bias"), tasks=mcq_tasks)
    # Figures that set the first task of one protocol against the first of another.
    versus = {
        "mcq_vs_contrastive": (
            "vs_contrastive",
            {"mcq_task": mcq_tasks, "zeroshot_task": zeroshot_tasks},
        ),
        "open_vs_closed": ("open_vs_closed", {"open_task": open_tasks, "closed_task": mcq_tasks}),
    }
    for name, (kind, sides) in versus.items():
        if all(sides.values()):
            first = {side: tasks[0] for side, tasks in sides.items()}
            plan[name] = _spec(kind, caption(kind), **first)
    if label_tasks:
        plan["labels_accuracy_vs_k"] = _spec(
            "accuracy_vs_k", caption("accuracy_vs_k"), tasks=label_tasks, metric=label_headline
        )
    for task in elo_tasks:
        plan[f"elo_{task}"] = _spec("elo", caption("elo", task=task), task=task)
    return plan


def letter_counts(predictions: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Letter counts ``model, gt_letter, chosen_letter, count`` from multiple-choice predictions."""
    rows = []
    for model, frame in predictions.items():
        valid = frame[frame["error"].isna()]
        for options, label, chosen in zip(
            valid["options"], valid["label"], valid.get("answer_letter", [None] * len(valid)),
            strict=True,
        ):  # fmt: skip
            options = list(options)
            if label not in options:
                continue
            rows.append((model, chr(ord("A") + options.index(label)), chosen))
    frame = pd.DataFrame(rows, columns=["model", "gt_letter", "chosen_letter"])
    if frame.empty:
        return frame.assign(count=pd.Series(dtype=int))
    frame["chosen_letter"] = frame["chosen_letter"].fillna("n/a")
    counts = frame.groupby(["model", "gt_letter", "chosen_letter"]).size()
    return counts.rename("count").reset_index()


def make_table(
    spec: Mapping[str, Any],
    stem: str | Path,
    *,
    summary: pd.DataFrame,
    protocols: Mapping[str, str],
    elo: Mapping[str, pd.DataFrame] | None = None,
    elo_left_out: Mapping[str, Mapping[str, str]] | None = None,
    cost: pd.DataFrame | None = None,
) -> list[Path]:
    """Write one table (csv, md, tex) of kind ``spec["kind"]``.

    A (task, model) without a single valid sample (every summary row ``n == 0``: a model that
    answered nothing, imported predictions that are all errors) is left out of the rows and
    named in the caption rather than shown as a row of dashes; ``elo_left_out`` (each
    leaderboard's ``left_out`` metadata) names the models the Elo boards left out.
    """
    kind = spec["kind"]
    summary, unanswered = without_unanswered(summary)
    if kind == "open_world":
        _, numeric = tables.open_world_table(summary, protocols)
    elif kind == "mcq":
        _, numeric = tables.mcq_table(summary, protocols)
    elif kind == "labels":
        _, numeric = tables.labels_table(
            summary, protocols, headline=spec.get("headline", "accuracy")
        )
    elif kind == "supervised":
        _, numeric = tables.supervised_table(summary, protocols)
    elif kind == "out_of_list":
        _, numeric = protocol_tables.out_of_list_table(summary, protocols)
    elif kind == "multi_label":
        _, numeric = protocol_tables.multi_label_table(summary, protocols)
    elif kind == "elo":
        _, numeric = tables.elo_table(elo or {}, left_out=elo_left_out)
    elif kind == "cost":
        _, numeric = tables.cost_table(cost if cost is not None else pd.DataFrame())
    else:
        raise ValueError(f"unknown table kind '{kind}'")
    if kind != "elo":
        shown = [pair for pair in unanswered if pair[0] in protocols]
        if shown:
            _add_note(numeric, left_out_note(shown))
    return tables.write_table(
        numeric, stem, caption=spec["caption"], label=f"tab:{Path(stem).name}"
    )


def without_unanswered(summary: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """The summary without the (task, model) pairs that have no valid sample on any row, and
    those pairs in order."""
    if summary.empty or "n" not in summary:
        return summary, []
    answered = summary.groupby(["task", "model"], sort=False)["n"].transform("max") > 0
    gone = summary.loc[~answered, ["task", "model"]].drop_duplicates()
    pairs = list(gone.itertuples(index=False, name=None))
    return summary[answered], pairs


def left_out_note(pairs: Sequence[tuple[str, str]]) -> str:
    """A caption sentence naming the (task, model) pairs left out for want of a valid answer."""
    named = ", ".join(f"{model} ({task})" for task, model in pairs)
    return f"Left out, no valid answer: {named}."


def _add_note(numeric: pd.DataFrame, sentence: str) -> None:
    hints = numeric.attrs.setdefault("table", {})
    note = hints.get("note")
    hints["note"] = f"{note.rstrip('.')}. {sentence}" if note else sentence


def make_figure(
    spec: Mapping[str, Any],
    stem: str | Path,
    *,
    summary: pd.DataFrame,
    elo: Mapping[str, pd.DataFrame] | None = None,
    letters: pd.DataFrame | None = None,
) -> list[Path]:
    # Imported here: matplotlib and seaborn take ~2 s to import, and the workflow imports this
    # module (for the plans) on every Snakemake invocation.
    from classbench.report import figures

    kind = spec["kind"]
    if kind == "group_bars":
        return figures.plot_group_bars(summary, spec["metric"], stem, tasks=spec["tasks"])
    if kind == "letter_bias":
        return figures.plot_letter_bias(letters, stem)
    if kind == "vs_contrastive":
        return figures.plot_vs_contrastive(summary, spec["mcq_task"], spec["zeroshot_task"], stem)
    if kind == "open_vs_closed":
        return figures.plot_open_vs_closed(summary, spec["open_task"], spec["closed_task"], stem)
    if kind == "accuracy_vs_k":
        # K is the last number of the task name (labels-k20); a task listing every class
        # (labels-all) has no single K across datasets and stays out of the sweep.
        numbers = {task: re.findall(r"\d+", task) for task in spec["tasks"]}
        task_k = {task: int(found[-1]) for task, found in numbers.items() if found}
        return figures.plot_accuracy_vs_k(
            summary, task_k, stem, metric=spec.get("metric", "accuracy")
        )
    if kind == "elo":
        board = (elo or {}).get(spec["task"], pd.DataFrame())
        return figures.plot_elo(board, stem, title=f"Elo: {spec['task']}")
    raise ValueError(f"unknown figure kind '{kind}'")
