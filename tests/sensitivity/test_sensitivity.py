"""The sensitivity report's plan, numbers, table and figure."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from classbench.data import stratified_limit
from classbench.report.formatting import write_table
from classbench.scoring.score import score_predictions
from classbench.sensitivity import measure
from classbench.sensitivity.measure import (
    compare_runs,
    measure_report,
    paired_difference,
    results_frame,
    study_scorer,
)
from classbench.sensitivity.plan import (
    FACTORS,
    Setting,
    headline_metric,
    plan_runs,
    sample_ids,
    sensitivity_sample,
    settings_for,
    skipped_factors,
)
from classbench.sensitivity.report import plot_sensitivity, sensitivity_table, write_sensitivity

HF = {"backend": "hf", "batch_size": 8, "dtype": "bfloat16"}
MCQ = {"protocol": "mcq", "k": 4, "distractors": "mined", "metrics": ["accuracy"]}
OPEN = {"protocol": "open", "metrics": ["textual_inclusion"]}


def test_one_factor_at_a_time_where_it_applies():
    names = [s.name for s in settings_for(task=MCQ, model=HF, label_sets=True)]
    assert names == [
        "batch_size=1",
        "image_order=shuffled",
        "precision=float32",  # bfloat16 is the registry's own: the default run
        "distractors=random",
        "ground_truth=multi",
    ]
    names = [
        s.name
        for s in settings_for(
            task=OPEN, model={**HF, "dtype": "auto", "batch_size": 1},
            mapping_encoders=["minilm", "clip-tiny"],
        )
    ]  # fmt: skip
    # batch size 1 is the default already; "auto" is neither precision, so both are run
    assert names == [
        "image_order=shuffled",
        "precision=bfloat16",
        "precision=float32",
        "mapping_encoder=clip-tiny",
    ]
    # a served model's batching and precision are not the job's to change
    remote = settings_for(
        task=MCQ, model={"backend": "openai"}, factors=["batch_size", "precision"]
    )
    assert remote == []
    assert Setting("distractors", "random", task={"distractors": "random"}).infers
    assert not Setting("ground_truth", "multi").infers
    with pytest.raises(ValueError, match="unknown sensitivity factors"):
        settings_for(task=MCQ, model=HF, factors=["temperature"])


def test_the_metric_read_per_factor():
    assert headline_metric("mcq", "batch_size") == "accuracy"
    assert headline_metric("open", "mapping_encoder") == "mapped_accuracy"
    assert headline_metric("open", "precision", {"open": "llm_inclusion"}) == "llm_inclusion"


def _manifest() -> pd.DataFrame:
    """60 images of three classes, 20 each."""
    return pd.DataFrame(
        {"sample_id": [f"s{i}" for i in range(60)], "image": "x", "label": "c",
         "label_idx": np.repeat([0, 1, 2], 20)}
    )  # fmt: skip


def test_the_sample_is_drawn_from_the_study_images():
    manifest = _manifest()
    study = set(stratified_limit(manifest, 30, 3, "d")["sample_id"])
    sample = sensitivity_sample(manifest, study_limit=30, images=12, seed=3, dataset="d")
    assert len(sample) == 12 and set(sample["sample_id"]) <= study
    assert sample["label_idx"].value_counts().tolist() == [4, 4, 4]


def test_paired_difference_and_its_interval():
    default = np.array([1, 0, 1, 0, 1, 0, 1, 0] * 10, dtype=float)
    assert paired_difference(default, default, n_resamples=200) == (0.0, 0.0, 0.0)
    better = default.copy()
    better[1::2] = 1.0  # every wrong answer turns right: +0.5 on every draw's means
    diff, low, high = paired_difference(default, better, n_resamples=200)
    assert diff == pytest.approx(0.5) and 0 < low <= diff <= high
    # NaNs (images a run does not score) leave that run's mean only
    partial = better.copy()
    partial[:8] = np.nan
    diff, _, _ = paired_difference(default, partial, n_resamples=50)
    assert diff == pytest.approx(1.0 - 0.5)


def _predictions(answers):
    n = len(answers)
    return pd.DataFrame(
        {"sample_id": [f"s{i}" for i in range(n)], "label": ["cat"] * n, "raw": answers,
         "answer": answers, "error": [None] * n}
    )  # fmt: skip


def _score(frame, spec, scoring):
    label_sets = None
    if scoring.get("ground_truth") == "multi":
        label_sets = {sid: ["cat", "dog"] for sid in frame["sample_id"]}
    return score_predictions(frame, spec, label_sets=label_sets)


def test_rows_of_one_task_and_model():
    default = _predictions(["cat"] * 10 + ["dog"] * 10 + ["owl"] * 20)
    batch_one = _predictions(["cat"] * 30 + ["owl"] * 10)
    settings = [
        Setting("batch_size", "1", model={"batch_size": 1}),
        Setting("ground_truth", "multi", scoring={"ground_truth": "multi"}),
    ]
    rows = compare_runs(
        dataset="d", task="mcq4", model="m", protocol="mcq", task_spec=MCQ,
        sample_ids=[f"s{i}" for i in range(40)], default=default,
        changed={"batch_size=1": batch_one}, settings=settings, score=_score,
        default_scoring={}, n_resamples=200,
    )  # fmt: skip
    frame = results_frame(rows).set_index("factor")
    assert frame.loc["default", ["value", "n"]].tolist() == [0.25, 40]
    assert pd.isna(frame.loc["default", "exceeds"])
    assert frame.loc["batch_size", "value"] == pytest.approx(0.75)
    assert frame.loc["batch_size", "difference"] == pytest.approx(0.5)
    assert bool(frame.loc["batch_size", "exceeds"])
    # dog answers count against {cat, dog}: the default's answers re-scored, no new run
    assert frame.loc["ground_truth", "value"] == pytest.approx(0.5)
    assert frame.loc["ground_truth", "setting"] == "multi"


def test_a_sample_image_without_an_answer_is_an_error():
    with pytest.raises(ValueError, match="1 images of the sample have no answer"):
        compare_runs(
            dataset="d", task="t", model="m", protocol="mcq", task_spec=MCQ,
            sample_ids=["s0", "s9"], default=_predictions(["cat"]), changed={}, settings=[],
            score=_score, default_scoring={},
        )  # fmt: skip


def test_table_and_figure(tmp_path):
    rows = compare_runs(
        dataset="d", task="mcq4", model="m", protocol="mcq", task_spec=MCQ,
        sample_ids=[f"s{i}" for i in range(4)], default=_predictions(["cat", "dog", "cat", "x"]),
        changed={"batch_size=1": _predictions(["cat"] * 4)},
        settings=[Setting("batch_size", "1")], score=_score, default_scoring={}, n_resamples=50,
    )  # fmt: skip
    _, numeric = sensitivity_table(results_frame(rows))
    assert list(numeric.index.get_level_values("factor")) == ["default", "batch_size"]
    written = write_table(numeric, tmp_path / "sensitivity", caption="Sensitivity")
    assert sorted(p.suffix for p in written) == [".csv", ".md", ".tex"]
    csv = pd.read_csv(tmp_path / "sensitivity.csv")
    assert csv["difference"].tolist()[1] == pytest.approx(0.5)
    assert "50.0" in (tmp_path / "sensitivity.md").read_text()
    paths = plot_sensitivity(results_frame(rows), tmp_path / "sensitivity")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size for p in paths)


def test_the_plan_of_a_config_section():
    tasks = {"mcq4": MCQ, "owc-base": OPEN}
    models = {"m": HF}
    section = {"dataset": "d", "tasks": ["owc-base", "mcq4"], "models": ["m"],
               "factors": ["batch_size", "distractors"]}  # fmt: skip
    jobs = {("d", "owc-base", "m"), ("d", "mcq4", "m")}
    runs = plan_runs(section, tasks=tasks, models=models, jobs=jobs, label_sets=False,
                     default_encoder="minilm")  # fmt: skip
    assert [(r["task"], [s["factor"] for s in r["settings"]]) for r in runs] == [
        ("owc-base", ["batch_size"]),
        ("mcq4", ["batch_size", "distractors"]),
    ]
    assert runs[1]["settings"][1] == {
        "factor": "distractors", "level": "random", "model": {},
        "task": {"distractors": "random"}, "scoring": {},
    }  # fmt: skip
    with pytest.raises(ValueError, match=r"\(d, mcq4, m\) is not a job of the study"):
        plan_runs(section, tasks=tasks, models=models, jobs=jobs - {("d", "mcq4", "m")},
                  label_sets=False, default_encoder="minilm")  # fmt: skip


def test_factors_without_a_setting_are_named():
    runs = plan_runs(
        {"dataset": "d", "tasks": ["owc-base", "mcq4"], "models": ["m"]},
        tasks={"mcq4": MCQ, "owc-base": OPEN}, models={"m": {**HF, "batch_size": 1}},
        jobs={("d", "owc-base", "m"), ("d", "mcq4", "m")}, label_sets=False,
        default_encoder="minilm",
    )  # fmt: skip
    assert skipped_factors(runs, FACTORS) == [
        "owc-base x m: batch_size, distractors, mapping_encoder, ground_truth",
        "mcq4 x m: batch_size, mapping_encoder, ground_truth",
    ]
    assert skipped_factors(runs, ["image_order"]) == []


def test_the_report_may_draw_with_its_own_seed_from_the_study_images():
    manifest = _manifest()
    study = set(stratified_limit(manifest, 30, 3, "d")["sample_id"])
    ids = sample_ids(manifest, dataset="d", study_limit=30, study_seed=3, images=12, seed=7)
    assert len(ids) == 12 and set(ids) <= study
    assert ids != sample_ids(manifest, dataset="d", study_limit=30, study_seed=3, images=12,
                             seed=3)  # fmt: skip


class _Encoder:
    """Unit vectors by hand: "near" maps "a cat on a sofa" to sofa, "far" to cat."""

    def __init__(self, name):
        self.name = name
        answer = (0.8, 0.6) if name == "near" else (0.6, 0.8)
        self.vectors = {"cat": (0.0, 1.0), "sofa": (1.0, 0.0), "a cat on a sofa": answer}

    def encode(self, texts, **_):
        return np.array([self.vectors[t] for t in texts], dtype=np.float32)


def test_the_scorer_maps_with_each_encoder_and_scores_label_sets(monkeypatch):
    loaded = []

    def load(spec):
        loaded.append(spec["name"])
        return _Encoder(spec["name"])

    monkeypatch.setattr(measure, "load_mapping_encoder", load)
    score = study_scorer(
        settings={}, classes=["cat", "sofa"],
        mapping_encoders={"near": {"name": "near"}, "far": {"name": "far"}},
        label_sets={"s0": ["sofa", "cat"], "s1": []},
    )  # fmt: skip
    frame = pd.DataFrame({"sample_id": ["s0", "s1"], "label": ["sofa", "cat"],
                          "raw": ["a cat on a sofa"] * 2, "answer": ["a cat on a sofa"] * 2,
                          "error": [None, None]})  # fmt: skip
    task = {"protocol": "open", "metrics": ["mapped_accuracy"]}
    near = score(frame, task, {"mapping_encoder": "near"})
    far = score(frame, task, {"mapping_encoder": "far"})
    assert near["mapped_accuracy"].tolist() == [1.0, 0.0]
    assert far["mapped_accuracy"].tolist() == [0.0, 1.0]
    score(frame, task, {"mapping_encoder": "near"})
    assert loaded == ["near", "far"]  # each encoder loaded once
    assert "mapped_accuracy_multi" not in near.columns
    multi = score(frame, task, {"mapping_encoder": "far", "ground_truth": "multi"})
    # cat is in s0's set; s1 has no valid label and is left out
    np.testing.assert_array_equal(multi["mapped_accuracy_multi"], [1.0, np.nan])
    with pytest.raises(ValueError, match="no mapping encoder 'other'"):
        score(frame, task, {"mapping_encoder": "other"})
    single = study_scorer(settings={})
    with pytest.raises(ValueError, match="needs the dataset's label sets"):
        single(frame, {"protocol": "open", "metrics": ["textual_inclusion"]},
               {"ground_truth": "multi"})  # fmt: skip


def test_each_task_is_measured_on_the_sample_of_its_own_images(tmp_path):
    manifest = pd.DataFrame(
        {"sample_id": [f"s{i}" for i in range(60)], "image": "x", "label": "cat",
         "label_idx": np.repeat([0, 1, 2], 20)}
    )  # fmt: skip

    def answers(limit, answer):
        ids = stratified_limit(manifest, limit, 3, "d")["sample_id"]
        return pd.DataFrame({"sample_id": ids, "label": "cat", "raw": answer, "answer": answer,
                             "error": None})  # fmt: skip

    runs = [
        {"task": "a", "model": "m", "protocol": "mcq", "task_spec": MCQ,
         "settings": [asdict(Setting("batch_size", "1", model={"batch_size": 1}))]},
        {"task": "b", "model": "m", "protocol": "mcq", "task_spec": MCQ, "settings": []},
    ]  # fmt: skip
    # task a evaluates 30 of the images, task b all 60: each default covers only its own
    defaults = {("a", "m"): answers(30, "dog"), ("b", "m"): answers(None, "cat")}
    results = measure_report(
        dataset="d", runs=runs, manifest=manifest, limits={"a": 30, "b": None}, images=12,
        seed=7, study_seed=3, defaults=defaults,
        changed={("a", "m", "batch_size=1"): answers(30, "cat")}, score=_score,
        default_scoring={}, n_resamples=50,
    )  # fmt: skip
    assert results[["task", "factor", "value", "n"]].values.tolist() == [
        ["a", "default", 0.0, 12], ["a", "batch_size", 1.0, 12], ["b", "default", 1.0, 12],
    ]  # fmt: skip
    assert bool(results["exceeds"].iloc[1]) and results["difference"].iloc[1] == 1.0
    written = write_sensitivity(results, tmp_path / "t", tmp_path / "f",
                                skipped=["b x m: batch_size"])  # fmt: skip
    assert sorted(p.name for p in written) == ["f.pdf", "f.png", "t.csv", "t.md", "t.tex"]
    assert "not applicable, or the default): b x m: batch_size" in (tmp_path / "t.md").read_text()
