"""bench/compare_demo.py: two results trees are identical, or each difference is named."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "compare_demo.py"


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location("compare_demo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_tree(
    root: Path,
    *,
    answer: str = "cat",
    latency: float = 0.1,
    extra: bool = False,
    metrics: tuple[str, ...] = ("accuracy",),
) -> Path:
    predictions = pd.DataFrame(
        {
            "sample_id": ["b", "a"],
            "answer": [answer, "dog"],
            "options": [["cat", "dog"], None],
            "latency_s": [latency, 0.2],
        }
    )
    if extra:
        predictions["label_set"] = [["cat"], ["dog"]]
    (root / "predictions/d/t").mkdir(parents=True)
    predictions.to_parquet(root / "predictions/d/t/m.parquet")
    summary = pd.DataFrame(
        [
            {
                "dataset": "d",
                "group": "g",
                "task": "t",
                "model": "m",
                "metric": metric,
                "value": 0.5,
                "n": 2,
            }
            for metric in metrics
        ]
    )
    summary.to_parquet(root / "summary.parquet")
    return root


def test_the_same_values_in_another_row_order_and_timing_are_identical(compare, tmp_path):
    before = write_tree(tmp_path / "before")
    after = write_tree(tmp_path / "after", latency=9.0)
    frame = pd.read_parquet(after / "predictions/d/t/m.parquet").iloc[::-1]
    frame.to_parquet(after / "predictions/d/t/m.parquet")
    assert compare.main([str(before), str(after)]) == 0


def test_additions_are_listed_not_compared(compare, tmp_path, capsys):
    before = write_tree(tmp_path / "before")
    after = write_tree(tmp_path / "after", extra=True, metrics=("accuracy", "out_of_list"))
    assert compare.main([str(before), str(after)]) == 0
    out = capsys.readouterr().out
    assert "new columns: ['label_set']" in out
    assert "of the metrics ['out_of_list']" in out


def test_a_changed_value_and_a_lost_row_are_differences(compare, tmp_path, capsys):
    before = write_tree(tmp_path / "before", metrics=("accuracy", "exact_match"))
    after = write_tree(tmp_path / "after", answer="cow")
    assert compare.main([str(before), str(after)]) == 1
    out = capsys.readouterr().out
    assert "answer: 1 of 2 values differ (b: 'cat' -> 'cow')" in out
    assert "summary.parquet: 1 rows gone" in out


def test_a_column_changed_on_purpose_can_be_left_out(compare, tmp_path, capsys):
    before = write_tree(tmp_path / "before")
    after = write_tree(tmp_path / "after", answer="cow")
    assert compare.main([str(before), str(after), "--ignore-column", "answer"]) == 0
    assert "(left out: answer)" in capsys.readouterr().out
