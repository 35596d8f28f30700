"""Tables and figures from a small synthetic summary."""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from classbench.report import figure_parts as parts
from classbench.report import figures, tables
from classbench.scoring.registry import METRICS, Metric, ScoreColumn

DATASETS = {"cifar_10": "prototypical", "flowers": "fine-grained"}
LMMS = ("llava_1.5-7b", "qwen2-vl-7b")
CLIP = "clip_vit-l"
PROTOCOLS = {
    "owc-base": "open",
    "mcq4": "mcq",
    "zeroshot": "zeroshot",
    "labels-k2": "labels",
    "labels-k5": "labels",
}
HALF = 0.021  # CI half-width of every synthetic value


def _summary() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    mapped_rng = np.random.default_rng(1)
    rows = []

    def add(dataset, task, model, metric, value, ci=True):
        rows.append(
            {
                "dataset": dataset,
                "group": DATASETS[dataset],
                "task": task,
                "model": model,
                "metric": metric,
                "value": value,
                "ci_low": value - HALF if ci else np.nan,
                "ci_high": value + HALF if ci else np.nan,
                "n": 200,
                "n_invalid": 2,
            }
        )

    for d in DATASETS:
        for m in LMMS:
            for metric in tables.OPEN_METRICS:
                # mapped accuracy draws from its own stream: the other values stay as pinned
                source = mapped_rng if metric == "mapped_accuracy" else rng
                add(d, "owc-base", m, metric, round(source.uniform(0.2, 0.8), 3))
            add(d, "mcq4", m, "accuracy", round(rng.uniform(0.4, 0.9), 3))
            add(d, "mcq4", m, "parse_failure", round(rng.uniform(0.0, 0.1), 3))
            for t in ("labels-k2", "labels-k5"):
                add(d, t, m, "accuracy", round(rng.uniform(0.4, 0.9), 3))
                for metric in ("macro_precision", "macro_recall", "macro_f1"):
                    add(d, t, m, metric, round(rng.uniform(0.4, 0.9), 3), ci=False)
        add(d, "zeroshot", CLIP, "accuracy", round(rng.uniform(0.5, 0.8), 3))
        add(d, "zeroshot", CLIP, "accuracy_options", round(rng.uniform(0.8, 0.95), 3))
    frame = pd.DataFrame(rows)
    # one value with a known rendering
    pick = (frame["task"] == "owc-base") & (frame["model"] == LMMS[0])
    pick &= (frame["dataset"] == "cifar_10") & (frame["metric"] == "textual_inclusion")
    frame.loc[pick, ["value", "ci_low", "ci_high"]] = [0.464, 0.443, 0.485]
    return frame


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    return _summary()


def _elo() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": [*LMMS, CLIP],
            "rating": [1012.0, 1043.5, 944.5],
            "ci_low": [990.0, 1020.0, np.nan],
            "ci_high": [1030.0, 1066.0, np.nan],
            "games": [40, 40, 40],
            "wins": [18, 24, 8],
            "draws": [4, 4, 4],
            "losses": [18, 12, 28],
        }
    )


def _balanced(tex: str) -> bool:
    depth = 0
    # drop line breaks (\\) first so "\\{" is not read as an escaped brace
    for ch in re.sub(r"\\[{}]", "", tex.replace("\\\\", "")):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _check_files(paths: list[Path], stem: Path) -> tuple[pd.DataFrame, str, str]:
    assert [p.name for p in paths] == [f"{stem.name}.{e}" for e in ("csv", "md", "tex")]
    assert all(p.stat().st_size > 0 for p in paths)
    assert not list(stem.parent.glob(".*.tmp"))  # atomic writes leave no temp files
    csv = pd.read_csv(paths[0])
    md, tex = paths[1].read_text(), paths[2].read_text()
    for rule in ("\\toprule", "\\midrule", "\\bottomrule", "\\caption{", "\\label{tab:"):
        assert rule in tex
    assert _balanced(tex)
    assert re.search(r"^\|[-|]+\|$", md, re.M)  # the Markdown header separator
    return csv, md, tex


def test_open_world_table(summary, tmp_path):
    display, numeric = tables.open_world_table(summary, PROTOCOLS)
    assert list(numeric.index.names) == ["task", "model"]
    assert list(numeric.index) == [("owc-base", m) for m in LMMS]
    groups = list(dict.fromkeys(numeric.columns.get_level_values("group")))
    assert groups == ["prototypical", "fine-grained", "all"]
    metrics = list(dict.fromkeys(numeric.columns.get_level_values("metric")))
    assert metrics == list(tables.OPEN_METRICS)
    assert display.loc[("owc-base", LMMS[0]), ("prototypical", "TI")] == "46.4 [44.3, 48.5]"

    # "all" = mean over datasets; interval from independent half-widths
    ti = summary[(summary["metric"] == "textual_inclusion") & (summary["model"] == LMMS[1])]
    row = numeric.loc[("owc-base", LMMS[1])]
    assert row[("all", "textual_inclusion", "value")] == pytest.approx(ti["value"].mean())
    half = math.sqrt(2 * HALF**2) / 2
    assert row[("all", "textual_inclusion", "ci_high")] == pytest.approx(ti["value"].mean() + half)

    stem = tmp_path / "open_world"
    csv, md, tex = _check_files(tables.write_table(numeric, stem, caption="Open world"), stem)
    assert {"task", "model", "all/textual_inclusion", "all/textual_inclusion/ci_low"} <= set(csv)
    assert pd.api.types.is_float_dtype(csv["prototypical/llm_inclusion/ci_high"])
    assert csv.loc[0, "prototypical/textual_inclusion"] == pytest.approx(0.464)
    assert "| task " in md and "prototypical TI" in md
    assert "46.4 [44.3, 48.5]" in md and "95% confidence interval" in md
    assert "llava\\_1.5-7b" in tex and "llava_1.5" not in tex
    n_open = len(tables.OPEN_METRICS)
    assert f"\\multicolumn{{{n_open}}}{{c}}{{fine-grained}}" in tex and "\\cmidrule" in tex
    assert "\\textbf{" in tex


def test_mcq_table(summary, tmp_path):
    display, numeric = tables.mcq_table(summary, PROTOCOLS)
    assert list(numeric.index) == [
        ("mcq4", LMMS[0]),
        ("mcq4", LMMS[1]),
        ("zeroshot (acc)", CLIP),
        ("zeroshot (acc4)", CLIP),
    ]
    columns = list(dict.fromkeys(numeric.columns.get_level_values("dataset")))
    assert columns == ["cifar_10", "flowers", "Avg", "parse_failure"]
    opts = summary[(summary["task"] == "zeroshot") & (summary["metric"] == "accuracy_options")]
    assert numeric.loc[("zeroshot (acc4)", CLIP), ("Avg", "value")] == pytest.approx(
        opts["value"].mean()
    )
    assert np.isnan(numeric.loc[("zeroshot (acc)", CLIP), ("parse_failure", "value")])
    assert display.loc[("zeroshot (acc)", CLIP), "parse fail."] == ""

    stem = tmp_path / "mcq"
    csv, md, tex = _check_files(tables.write_table(numeric, stem, caption="MCQ, 4 options"), stem)
    assert list(csv.columns[:4]) == ["task", "model", "cifar_10", "cifar_10/ci_low"]
    assert pd.api.types.is_float_dtype(csv["Avg"])
    assert "| task " in md and "parse fail." in md
    assert "cifar\\_10" in tex and "zeroshot (acc4)" in tex
    assert tex.count("\\midrule") == 3  # header + one between each of the three blocks


def test_labels_table(summary, tmp_path):
    display, numeric = tables.labels_table(
        summary, PROTOCOLS, task_k={"labels-k5": 5, "labels-k2": 2}
    )
    assert list(numeric.index) == list(LMMS)
    tasks = list(dict.fromkeys(numeric.columns.get_level_values("task")))
    assert tasks == ["labels-k2", "labels-k5"]
    assert ("K=2", "F1") in display.columns
    assert re.fullmatch(r"\d+\.\d", display.loc[LMMS[0], ("K=2", "F1")])  # no CI in the input

    stem = tmp_path / "labels"
    csv, md, tex = _check_files(tables.write_table(numeric, stem, caption="Label lists"), stem)
    assert csv["labels-k5/macro_f1/ci_low"].isna().all()
    assert pd.api.types.is_float_dtype(csv["labels-k5/accuracy"])
    assert "| model " in md and "K=5 Acc" in md
    assert "\\multicolumn{4}{c}{K=2}" in tex

    _, by_dataset = tables.labels_table(summary, PROTOCOLS, by_dataset=True)
    assert list(by_dataset.index.names) == ["dataset", "model"] and len(by_dataset) == 4


def test_label_list_table_shows_plain_inclusion_beside_mapped_accuracy(summary, tmp_path):
    # VLMClassifier's number: the label named in the raw answer, its own column per K.
    inclusion = summary[(summary["task"] == "labels-k2") & (summary["metric"] == "accuracy")]
    inclusion = inclusion.assign(metric="textual_inclusion", value=0.5, ci_low=0.4, ci_high=0.6)
    inclusion.loc[inclusion["dataset"] == "flowers", ["value", "ci_low", "ci_high"]] = [
        0.7, 0.6, 0.8,
    ]  # fmt: skip
    data = pd.concat([summary, inclusion], ignore_index=True)
    display, numeric = tables.labels_table(data, PROTOCOLS, task_k={"labels-k2": 2})
    k2 = [m for t, m, s in numeric.columns if t == "labels-k2" and s == "value"]
    assert k2[:2] == ["accuracy", "textual_inclusion"]
    # the mean of 0.5 and 0.7 over the two datasets, its interval 0.6 ± sqrt(2 * 0.1²) / 2
    assert numeric.loc[LMMS[0], ("labels-k2", "textual_inclusion", "value")] == pytest.approx(0.6)
    assert numeric.loc[LMMS[0], ("labels-k2", "textual_inclusion", "ci_high")] == pytest.approx(
        0.6 + math.sqrt(2 * 0.1**2) / 2
    )
    assert display.loc[LMMS[0], ("K=2", "Incl.")].startswith("60.0 [")
    headline, _ = tables.labels_table(
        data, PROTOCOLS, task_k={"labels-k2": 2}, headline="textual_inclusion"
    )
    assert [m for t, m in headline.columns if t == "K=2"][:2] == ["Incl.", "Acc"]
    md = tables.write_table(numeric, tmp_path / "labels", caption="Label lists")[1].read_text()
    assert "K=2 Incl." in md
    with pytest.raises(ValueError, match="headline"):
        tables.labels_table(data, PROTOCOLS, headline="macro_f1")


def test_elo_and_cost_tables(tmp_path):
    display, numeric = tables.elo_table({"owc-base/all": _elo()})
    assert list(numeric.index.get_level_values("model")) == [LMMS[1], LMMS[0], CLIP]
    assert display.iloc[0, 0] == "1044 [1020, 1066]" and display.iloc[2, 0] == "944"
    stem = tmp_path / "elo"
    csv, md, tex = _check_files(tables.write_table(numeric, stem, caption="Elo"), stem)
    assert list(csv.columns) == [
        "leaderboard", "model", "rating", "rating/ci_low", "rating/ci_high",
        "games", "wins", "draws", "losses",
    ]  # fmt: skip
    assert "| leaderboard " in md and "\\textbf{1044}" in tex

    meta = pd.DataFrame(
        {
            "model": ["a", "a", "b"],
            "dataset": ["x", "y", "x"],
            "task": ["mcq4"] * 3,
            "n_samples": [100, 300, 50],
            "wall_s": [50.0, 100.0, 25.0],
            "gpus": [1, 2, 1],
        }
    )
    display, numeric = tables.cost_table(meta, by=["model"])
    assert list(numeric.index) == ["a", "b", "total"]
    assert numeric.loc["a", ("images_per_s", "value")] == pytest.approx(400 / 150)
    assert numeric.loc["a", ("gpu_hours", "value")] == pytest.approx((50 + 200) / 3600)
    stem = tmp_path / "cost"
    csv, md, _ = _check_files(tables.write_table(numeric, stem, caption="Cost"), stem)
    assert list(csv.columns) == ["model", "n_samples", "wall_s", "images_per_s", "gpu_hours"]
    assert "| model " in md and "img/s" in md


def test_plain_frame_with_ci_and_escaping(tmp_path):
    frame = pd.DataFrame({"acc_%": [0.5, 0.625]}, index=pd.Index(["m&1", "[m2]"], name="model"))
    ci = pd.DataFrame(
        {("acc_%", "ci_low"): [0.4, 0.6], ("acc_%", "ci_high"): [0.6, 0.65]}, index=frame.index
    )
    stem = tmp_path / "plain"
    paths = tables.write_table(frame, stem, caption="Rates & 100% #1", ci=ci, best="max")
    csv, md, tex = _check_files(paths, stem)
    assert list(csv.columns) == ["model", "acc_%", "acc_%/ci_low", "acc_%/ci_high"]
    assert "**62.5** [60.0, 65.0]" in md
    assert "Rates \\& 100\\% \\#1" in tex and "m\\&1" in tex and "{[}m2]" in tex
    assert "acc\\_\\%" in tex


def test_empty_tables(tmp_path):
    empty = _summary().iloc[:0]
    for name, (_, numeric) in {
        "open": tables.open_world_table(empty, PROTOCOLS),
        "mcq": tables.mcq_table(empty, PROTOCOLS),
        "labels": tables.labels_table(empty, PROTOCOLS),
        "elo": tables.elo_table({}),
    }.items():
        paths = tables.write_table(numeric, tmp_path / name, caption="Nothing yet")
        assert all(p.exists() for p in paths)
        assert _balanced(paths[2].read_text())


def _letter_counts() -> pd.DataFrame:
    rows = []
    for model, bias in ((LMMS[0], 30), (LMMS[1], 0)):
        for gt in "ABCD":
            for chosen in [*"ABCD", None]:
                count = 5 + 40 * (chosen == gt) + bias * (chosen == "A")
                rows.append(
                    {"model": model, "gt_letter": gt, "chosen_letter": chosen, "count": count}
                )
    return pd.DataFrame(rows)


FIGURES = {
    "group_bars": lambda s, stem: figures.plot_group_bars(s, "textual_inclusion", stem),
    "elo": lambda s, stem: figures.plot_elo(_elo() if len(s) else _elo().iloc[:0], stem, "Elo"),
    "accuracy_vs_k": lambda s, stem: figures.plot_accuracy_vs_k(
        s, {"labels-k2": 2, "labels-k5": 5}, stem
    ),
    "open_vs_closed": lambda s, stem: figures.plot_open_vs_closed(s, "owc-base", "mcq4", stem),
    "letter_bias": lambda s, stem: figures.plot_letter_bias(
        _letter_counts() if len(s) else _letter_counts().iloc[:0], stem
    ),
    "vs_contrastive": lambda s, stem: figures.plot_vs_contrastive(s, "mcq4", "zeroshot", stem),
}


@pytest.mark.parametrize("empty", [False, True], ids=["data", "empty"])
@pytest.mark.parametrize("name", list(FIGURES))
def test_figures(summary, tmp_path, name, empty):
    stem = tmp_path / name
    paths = FIGURES[name](summary.iloc[:0] if empty else summary, stem)
    assert [p.name for p in paths] == [f"{name}.png", f"{name}.pdf"]
    assert paths[1].read_bytes()[:5] == b"%PDF-"
    image = mpimg.imread(paths[0])
    height, width = image.shape[:2]
    assert width >= 400 and height >= 250  # at 200 dpi: at least 2 x 1.25 inches
    assert image[..., :3].std() > 0.01  # not blank
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_declared_metric_reaches_the_tables_and_figures(summary, tmp_path, monkeypatch):
    """A metric declared once gets its labels, scaling and range in every table and figure."""
    words = ScoreColumn("answer_words", "words", "words per answer", proportion=False,
                        percent=False)  # fmt: skip
    metric = Metric(name="answer_words", columns=(words,), per_sample=lambda *_: np.zeros(0))
    monkeypatch.setitem(METRICS, metric.name, metric)
    ti = summary[summary["metric"] == "textual_inclusion"]
    counts = ti.assign(metric="answer_words", value=3.0, ci_low=2.5, ci_high=3.5)
    data = pd.concat([summary, counts], ignore_index=True)
    display, numeric = tables.open_world_table(
        data, PROTOCOLS, metrics=("textual_inclusion", "answer_words")
    )
    row = ("owc-base", LMMS[0])
    assert display.loc[row, ("prototypical", "words")] == "3.0 [2.5, 3.5]"  # not x100
    assert display.loc[row, ("prototypical", "TI")] == "46.4 [44.3, 48.5]"
    # not a proportion: a mean over datasets is not clipped to [0, 1]
    assert numeric.loc[row, ("all", "answer_words", "ci_high")] > 1.0
    stem = tmp_path / "open_world"
    _, md, tex = _check_files(tables.write_table(numeric, stem, caption="Open world"), stem)
    assert "prototypical words" in md and "3.0 [2.5, 3.5]" in md
    assert " & words & " in tex

    assert parts.metric_label("answer_words") == "words per answer"
    assert parts.metric_label("accuracy") == "accuracy (%)"
    paths = figures.plot_group_bars(data, "answer_words", tmp_path / "words", tasks=["owc-base"])
    assert [p.suffix for p in paths] == [".png", ".pdf"]


def test_a_preset_can_make_plain_inclusion_the_label_list_headline():
    from classbench.report.build import figure_plan, table_plan

    protocols = {"labels-k2": "labels", "labels-k5": "labels"}
    table = table_plan(protocols, [], label_headline="textual_inclusion")["label_list"]
    assert table["headline"] == "textual_inclusion" and "plain inclusion first" in table["caption"]
    figure = figure_plan(protocols, [], label_headline="textual_inclusion")
    assert figure["labels_accuracy_vs_k"]["metric"] == "textual_inclusion"
    assert table_plan(protocols, [])["label_list"]["headline"] == "accuracy"
