"""The summary table, row by row, against an independent computation: the mean rows through
:func:`bootstrap_ci`, the set statistics resampled here from the same seeded stream, the counts
of invalid and unlabelled samples, and the label-set rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from classbench.scoring.registry import METRICS
from classbench.seeding import rng_for
from classbench.summary.aggregate import SUMMARY_COLUMNS, build_summary, summarise_scores
from classbench.summary.bootstrap import bootstrap_ci

CLASSES = ["cat", "dog", "fox", "owl"]
PRF = ["macro_precision", "macro_recall", "macro_f1"]


def scores_frame(n: int, seed: int) -> pd.DataFrame:
    """n samples: every tenth invalid, a NaN score, label sets of sizes 0 to 2."""
    rng = np.random.default_rng(seed)
    labels = [CLASSES[i] for i in rng.integers(0, 4, n)]
    answers = [CLASSES[i] if rng.random() < 0.8 else None for i in rng.integers(0, 4, n)]
    sizes = [0, 1, 1, 2] * n
    label_sets = [
        [label, *(["owl"] if size == 2 else [])][:size]
        for label, size in zip(labels, sizes, strict=False)
    ]
    accuracy = [float(a == b) for a, b in zip(labels, answers, strict=True)]
    accuracy[1] = np.nan
    return pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(n)],
            "label": labels,
            "answer": answers,
            "valid": [i % 10 != 3 for i in range(n)],
            "accuracy": accuracy,
            "accuracy_multi": [float(a in s) for a, s in zip(answers, label_sets, strict=True)],
            "label_set": label_sets,
        }
    )


def set_rows(statistic, n, keys, names, n_resamples, confidence, seed):
    """Point value and percentile interval of a set statistic, resampled independently."""
    point = statistic(np.arange(n))
    if n < 2:
        return [(name, point[i], point[i], point[i]) for i, name in enumerate(names)]
    rng = rng_for(seed, "bootstrap", *keys)
    replicas = np.array([statistic(rng.integers(0, n, size=n)) for _ in range(n_resamples)])
    low, high = np.percentile(replicas, [50 * (1 - confidence), 50 * (1 + confidence)], axis=0)
    return [(name, point[i], low[i], high[i]) for i, name in enumerate(names)]


def assert_rows(rows, expected):
    """Rows of the summary equal (metric, value, ci_low, ci_high) tuples, numbers to rounding."""
    assert [r["metric"] for r in rows] == [e[0] for e in expected]
    got = [[r["value"], r["ci_low"], r["ci_high"]] for r in rows]
    np.testing.assert_allclose(got, [e[1:] for e in expected], rtol=1e-12)


def expected_rows(scores, where, n_resamples, confidence, seed):
    dataset, _, task, model = where
    valid = scores["valid"].to_numpy()
    has_labels = np.array([len(s) > 0 for s in scores["label_set"]])
    n_invalid, n_no_label = int((~valid).sum()), int((valid & ~has_labels).sum())
    rows = []
    for metric in ["accuracy", "accuracy_multi"]:
        values = scores.loc[valid, metric].to_numpy(dtype=float)
        values = values[~np.isnan(values)]
        value, low, high = bootstrap_ci(values, n_resamples, confidence, seed,
                                        keys=(dataset, task, model, metric))  # fmt: skip
        unlabelled = n_no_label if metric.endswith("_multi") else 0
        rows.append([*where, metric, value, low, high, len(values), n_invalid, unlabelled])
    aggregate = METRICS["macro_prf"].aggregate
    kept = scores[valid]
    statistic = aggregate(kept["label"].tolist(), kept["answer"].tolist())
    for row in set_rows(statistic, len(kept), (dataset, task, model, "macro_prf"), PRF,
                        n_resamples, confidence, seed):  # fmt: skip
        rows.append([*where, *row, len(kept), n_invalid, 0])
    labelled = scores[valid & has_labels]
    resolved = [
        answer if answer in label_set else label if label in label_set else label_set[0]
        for label, answer, label_set in zip(
            labelled["label"], labelled["answer"], labelled["label_set"], strict=True
        )
    ]
    statistic = aggregate(resolved, labelled["answer"].tolist())
    names = [f"{name}_multi" for name in PRF]
    for row in set_rows(statistic, len(labelled), (dataset, task, model, "macro_prf_multi"),
                        names, n_resamples, confidence, seed):  # fmt: skip
        rows.append([*where, *row, len(labelled), n_invalid, n_no_label])
    return rows


def test_every_row_equals_an_independent_computation():
    entries = [
        {"scores": scores_frame(40, 1), "dataset": "d1", "group": "g1", "task": "t1",
         "model": "m1", "metrics": ["accuracy", "macro_prf"]},
        {"scores": scores_frame(6, 2), "dataset": "d2", "group": "g2", "task": "t2",
         "model": "m2", "metrics": ["macro_prf"]},
    ]  # fmt: skip
    summary = build_summary(entries, n_resamples=200, confidence=0.9, seed=5)
    expected = []
    for entry in entries:
        where = (entry["dataset"], entry["group"], entry["task"], entry["model"])
        expected += expected_rows(entry["scores"], where, 200, 0.9, 5)
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert summary.drop(columns=["value", "ci_low", "ci_high"]).values.tolist() == [
        [*row[:5], *row[8:]] for row in expected
    ]
    for column, position in [("value", 5), ("ci_low", 6), ("ci_high", 7)]:
        assert summary[column].tolist() == pytest.approx([row[position] for row in expected])
    # The intervals are real: no set statistic's interval collapses to its point.
    prf = summary[summary["metric"].str.startswith("macro") & (summary["dataset"] == "d1")]
    assert (prf["ci_high"] > prf["ci_low"]).all()


@pytest.mark.parametrize("n", [1, 2, 3])
def test_a_set_statistic_of_few_samples(n):
    """One valid sample has no spread to resample: its interval is the point. From two samples
    on, the interval is resampled."""
    labels = ["cat", "dog", "fox"][:n]
    answers = ["cat", "fox", "fox"][:n]
    scores = pd.DataFrame(
        {"label": [*labels, "owl"], "answer": [*answers, "owl"], "valid": [True] * n + [False]}
    )
    rows = summarise_scores(scores, dataset="d", group="g", task="t", model="m",
                            task_metrics=["macro_prf"], n_resamples=50, seed=2)  # fmt: skip
    statistic = METRICS["macro_prf"].aggregate(labels, answers)
    expected = set_rows(statistic, n, ("d", "t", "m", "macro_prf"), PRF, 50, 0.95, 2)
    assert_rows(rows, expected)
    assert all((r["dataset"], r["group"], r["task"], r["model"]) == ("d", "g", "t", "m")
               for r in rows)  # fmt: skip
    assert [(r["n"], r["n_invalid"], r["n_no_label"]) for r in rows] == [(n, 1, 0)] * 3
    if n == 2:
        assert rows[2]["ci_low"] < rows[2]["ci_high"]


def test_defaults_are_1000_resamples_at_95_percent_seed_0():
    scores = scores_frame(30, 3).drop(columns=["label_set", "accuracy_multi"])
    rows = summarise_scores(scores, dataset="d", group="g", task="t", model="m",
                            task_metrics=["macro_prf"])  # fmt: skip
    valid = scores["valid"].to_numpy()
    values = scores.loc[valid, "accuracy"].dropna().to_numpy()
    assert (rows[0]["value"], rows[0]["ci_low"], rows[0]["ci_high"]) == pytest.approx(
        bootstrap_ci(values, 1000, 0.95, 0, keys=("d", "t", "m", "accuracy"))
    )
    kept = scores[valid]
    statistic = METRICS["macro_prf"].aggregate(kept["label"].tolist(), kept["answer"].tolist())
    expected = set_rows(statistic, len(kept), ("d", "t", "m", "macro_prf"), PRF, 1000, 0.95, 0)
    assert_rows(rows[1:], expected)
    assert [r["n_no_label"] for r in rows] == [0] * 4


def test_label_sets_of_one_label_count_as_labelled():
    scores = pd.DataFrame(
        {
            "label": ["cat", "dog", "fox", "owl"],
            "answer": ["cat", "cat", "fox", None],
            "valid": [True, True, True, False],
            "accuracy_multi": [1.0, 0.0, 1.0, 0.0],
            "label_set": [["cat"], [], ["fox", "owl"], []],
        }
    )
    rows = summarise_scores(scores, dataset="d", group="g", task="t", model="m",
                            task_metrics=["macro_prf"], n_resamples=20)  # fmt: skip
    counts = {r["metric"]: (r["n"], r["n_invalid"], r["n_no_label"]) for r in rows}
    assert counts == {
        "accuracy_multi": (3, 1, 1),
        **{name: (3, 1, 0) for name in PRF},
        **{f"{name}_multi": (2, 1, 1) for name in PRF},
    }
    assert rows[0]["value"] == pytest.approx(2 / 3)


def test_one_labelled_sample_keeps_its_counts():
    """The single-sample path reports the same counts as the resampled one: invalid samples and
    samples without a label, each in its own column."""
    scores = pd.DataFrame(
        {
            "label": ["cat", "dog", "fox"],
            "answer": ["cat", "dog", None],
            "valid": [True, True, False],
            "label_set": [["cat"], [], ["fox"]],
        }
    )
    rows = summarise_scores(scores, dataset="d", group="g", task="t", model="m",
                            task_metrics=["macro_prf"], n_resamples=20)  # fmt: skip
    counts = {r["metric"]: (r["n"], r["n_invalid"], r["n_no_label"]) for r in rows}
    assert counts == {
        **{name: (2, 1, 0) for name in PRF},
        **{f"{name}_multi": (1, 1, 1) for name in PRF},
    }
    multi = [r for r in rows if r["metric"].endswith("_multi")]
    assert [(r["value"], r["ci_low"], r["ci_high"]) for r in multi] == [(1.0, 1.0, 1.0)] * 3


def test_empty_and_partial_inputs():
    """No scores at all, a scores file without label sets, an entry naming no metrics and an
    empty study each give their rows (or none) with every column."""
    empty = pd.DataFrame({"label": [], "answer": [], "valid": [], "label_set": []})
    empty = empty.astype({"valid": bool})
    rows = summarise_scores(empty, dataset="d", group="g", task="t", model="m",
                            task_metrics=["macro_prf"], n_resamples=20)  # fmt: skip
    assert [(r["metric"], r["n"], r["n_invalid"], r["n_no_label"]) for r in rows] == [
        (name, 0, 0, 0) for name in [*PRF, *(f"{name}_multi" for name in PRF)]
    ]
    shares = np.random.default_rng(4).random(40).tolist()
    no_sets = pd.DataFrame(
        {"label": ["cat"] * 40, "answer": ["cat"] * 40, "valid": [True] * 40,
         "accuracy_multi": shares}
    )  # fmt: skip
    entry = {"scores": no_sets, "dataset": "d", "group": "g", "task": "t", "model": "m"}
    summary = build_summary([entry])
    assert summary[["metric", "n", "n_invalid", "n_no_label"]].values.tolist() == [
        ["accuracy_multi", 40, 0, 0]
    ]
    expected = bootstrap_ci(shares, 1000, 0.95, 0, keys=("d", "t", "m", "accuracy_multi"))
    got = summary[["value", "ci_low", "ci_high"]].values.tolist()[0]
    assert got == pytest.approx(list(expected), rel=1e-12)
    nothing = build_summary([])
    assert list(nothing.columns) == SUMMARY_COLUMNS and nothing.empty
