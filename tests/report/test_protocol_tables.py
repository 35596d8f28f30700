"""The out-of-list and multi-label tables, and their place in the study's table plan."""

from __future__ import annotations

import pandas as pd
import pytest

from classbench.report.build import make_table, table_plan
from classbench.report.protocol_tables import multi_label_table, out_of_list_table

PROTOCOLS = {"owc-base": "open", "labels-k5": "labels", "mcq4": "mcq"}


def _row(dataset, task, model, metric, value, half=0.02):
    return {"dataset": dataset, "group": "prototypical", "task": task, "model": model,
            "metric": metric, "value": value, "ci_low": value - half, "ci_high": value + half,
            "n": 100, "n_invalid": 0, "n_no_label": 0}  # fmt: skip


def _summary() -> pd.DataFrame:
    rows = [
        _row("a", "labels-k5", "m1", "out_of_list", 0.10),
        _row("b", "labels-k5", "m1", "out_of_list", 0.30),
        _row("a", "mcq4", "m1", "out_of_list", 0.02),
        _row("b", "mcq4", "m1", "out_of_list", 0.04),
        _row("a", "owc-base", "m1", "textual_inclusion", 0.40),
        _row("a", "owc-base", "m1", "textual_inclusion_multi", 0.50),
        _row("a", "owc-base", "m1", "mapped_accuracy", 0.60),
        _row("a", "owc-base", "m1", "mapped_accuracy_multi", 0.70),
        _row("a", "mcq4", "m1", "accuracy", 0.80),
        _row("a", "mcq4", "m1", "accuracy_multi", 0.90),
        # dataset b has no label sets: its single-label rows stay out of the comparison
        _row("b", "owc-base", "m1", "textual_inclusion", 0.10),
    ]
    return pd.DataFrame(rows)


def test_out_of_list_per_dataset_and_mean():
    _, numeric = out_of_list_table(_summary(), PROTOCOLS)
    assert list(numeric.index) == [("labels-k5", "m1"), ("mcq4", "m1")]
    assert numeric[("Avg", "value")].tolist() == pytest.approx([0.20, 0.03])
    assert numeric[("b", "value")].tolist() == pytest.approx([0.30, 0.04])
    assert numeric.attrs["table"]["best"] is False


def test_single_label_beside_label_set():
    _, numeric = multi_label_table(_summary(), PROTOCOLS)
    assert list(numeric.index) == [("owc-base", "m1"), ("mcq4", "m1")]
    owc = numeric.loc[("owc-base", "m1")]
    assert owc[("textual_inclusion", "single label", "value")] == pytest.approx(0.40)
    assert owc[("textual_inclusion", "label set", "value")] == pytest.approx(0.50)
    assert owc[("mapped_accuracy", "label set", "value")] == pytest.approx(0.70)
    mcq = numeric.loc[("mcq4", "m1")]
    assert mcq[("accuracy", "label set", "value")] == pytest.approx(0.90)
    assert "Means over a;" in numeric.attrs["table"]["note"]


def test_the_plan_has_them_where_they_apply(tmp_path):
    plan = table_plan(PROTOCOLS, [])
    assert "out_of_list" in plan and "multi_label" not in plan
    assert "multi_label" in table_plan(PROTOCOLS, [], multi_label=True)
    assert "out_of_list" not in table_plan({"owc-base": "open"}, [])
    written = make_table(
        plan["out_of_list"], tmp_path / "out_of_list", summary=_summary(), protocols=PROTOCOLS
    )
    assert sorted(p.suffix for p in written) == [".csv", ".md", ".tex"]
    assert "30.0" in (tmp_path / "out_of_list.md").read_text()


def test_a_model_without_a_valid_answer_is_named_not_shown_as_dashes(tmp_path):
    failed = [
        {**_row(d, t, "m2", metric, float("nan")), "n": 0, "n_invalid": 100}
        for d, t, metric in [("a", "labels-k5", "out_of_list"), ("b", "labels-k5", "out_of_list"),
                             ("a", "mcq4", "out_of_list"), ("a", "mcq4", "accuracy")]
    ]  # fmt: skip
    # m1 has no valid sample on one row only: it keeps its place
    partial = {**_row("a", "owc-base", "m1", "textual_inclusion_multi", float("nan")), "n": 0}
    summary = pd.concat([_summary(), pd.DataFrame([*failed, partial])], ignore_index=True)
    plan = table_plan(PROTOCOLS, [])
    make_table(plan["out_of_list"], tmp_path / "ool", summary=summary, protocols=PROTOCOLS)
    md = (tmp_path / "ool.md").read_text()
    assert "m2 |" not in md and "| m1 " in md
    assert "Left out, no valid answer: m2 (labels-k5), m2 (mcq4)." in md
    csv = pd.read_csv(tmp_path / "ool.csv")
    assert set(csv["model"]) == {"m1"}
    # a table whose tasks the failed model never ran says nothing about it
    make_table(plan["out_of_list"], tmp_path / "ok", summary=_summary(), protocols=PROTOCOLS)
    assert "Left out" not in (tmp_path / "ok.md").read_text()


def test_the_elo_table_names_the_models_its_boards_left_out(tmp_path):
    board = pd.DataFrame(
        {"model": ["m1", "m3"], "rating": [1010.0, 990.0], "ci_low": [1000.0, 980.0],
         "ci_high": [1020.0, 1000.0], "games": [4, 4], "wins": [3, 1], "draws": [0, 0],
         "losses": [1, 3]}
    )  # fmt: skip
    make_table(
        {"kind": "elo", "caption": "Elo"},
        tmp_path / "elo",
        summary=_summary(),
        protocols=PROTOCOLS,
        elo={"owc-base/all": board, "owc-base/a": board},
        elo_left_out={"owc-base/all": {"m2": "no valid answer in this scope"}, "owc-base/a": {}},
    )
    md = (tmp_path / "elo.md").read_text()
    assert "Left out of owc-base/all: m2 (no valid answer in this scope)." in md
    assert "owc-base/a:" not in md and "| m2 " not in md
