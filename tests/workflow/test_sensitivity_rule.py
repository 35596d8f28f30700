"""The sensitivity report in the workflow: which jobs it plans (the study's own predictions as
every factor's default, one changed inference run per setting), and, on the demo's tiny model,
its table and figure and a second run that computes no default run again."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd
import pytest
import yaml
from workflow_helpers import make_workdir, planned_jobs, snakemake, write_config

from classbench.io import read_metadata, read_parquet
from classbench.sensitivity.plan import DEFAULT, FACTORS

TARGETS = ("results/tables/sensitivity.csv", "results/figures/sensitivity.png")
# The demo's report on the demo's model and tasks alone (no judge, no other model): a study
# whose default runs are the two inference jobs of qwen2-vl-tiny on shapes.
SUBSET = {"datasets": ["shapes"], "models": ["qwen2-vl-tiny"], "tasks": ["owc-base", "mcq4"],
          "sensitivity": {"enabled": True}}  # fmt: skip
CHANGED = {
    "owc-base": ["batch_size=1", "image_order=shuffled", "precision=bfloat16", "precision=float32"],
    "mcq4": ["batch_size=1", "image_order=shuffled", "precision=bfloat16", "precision=float32",
             "distractors=random"],
}  # fmt: skip


def _jobs(output: str) -> list[dict]:
    """Every job block of a Snakemake run or dry run: rule, inputs, output and wildcards."""
    jobs: list[dict] = []
    for line in output.splitlines():
        header = re.match(r"\s*(?:local)?rule (\w+):$", line)
        if header:
            jobs.append({"rule": header.group(1), "input": [], "output": [], "wildcards": {}})
            continue
        item = re.match(r"\s+(input|output|wildcards): (.*)$", line)
        if jobs and item:
            if item.group(1) == "wildcards":
                pairs = (pair.split("=", 1) for pair in item.group(2).split(", "))
                jobs[-1]["wildcards"] = dict(pairs)
            else:
                jobs[-1][item.group(1)] = item.group(2).split(", ")
    return jobs


def _output(result) -> str:
    return result.stdout + result.stderr


def _rules(jobs: list[dict], rule: str) -> list[dict]:
    return [job for job in jobs if job["rule"] == rule]


def test_the_demo_plans_the_report_on_its_own_predictions(tmp_path):
    workdir = make_workdir(tmp_path / "dry")
    whole = snakemake(workdir, "-n")  # the demo, report included, dry-runs
    assert planned_jobs(_output(whole))["sensitivity"] == 1
    jobs = _jobs(_output(snakemake(workdir, "-n", *TARGETS)))
    # the defaults: the study's own inference jobs, planned once, as for the study
    assert {(j["wildcards"]["task"], j["wildcards"]["model"]) for j in _rules(jobs, "infer")} == {
        ("owc-base", "qwen2-vl-tiny"), ("mcq4", "qwen2-vl-tiny")
    }  # fmt: skip
    changed = _rules(jobs, "sensitivity_infer")
    assert sorted((j["wildcards"]["task"], j["wildcards"]["setting"]) for j in changed) == sorted(
        (task, setting) for task, settings in CHANGED.items() for setting in settings
    )
    options = "resources/options/shapes/clip-tiny-k4.parquet"
    for job in changed:
        random = job["wildcards"]["setting"] == "distractors=random"
        mined = job["wildcards"]["task"] == "mcq4" and not random
        assert (options in job["input"]) == mined, job
    [report] = _rules(jobs, "sensitivity")
    assert "results/predictions/shapes/owc-base/qwen2-vl-tiny.parquet" in report["input"]
    assert "results/predictions/shapes/mcq4/qwen2-vl-tiny.parquet" in report["input"]
    assert sum("results/sensitivity/" in path for path in report["input"]) == len(changed)
    assert "resources/models/clip-tiny" in report["input"]  # the mapping encoder it compares
    assert {"score", "judge", "summary"}.isdisjoint(job["rule"] for job in jobs)


def test_random_distractors_are_varied_with_options_the_miner_mines(tmp_path):
    """The reverse of the demo's factor: a task with random distractors is run again with
    contrastive-mined ones, mined by the study's own mine_options rule."""
    workdir = make_workdir(tmp_path / "random")
    tasks = yaml.safe_load((workdir / "config" / "tasks.yaml").read_text())
    tasks["mcq4"]["distractors"] = "random"
    (workdir / "config" / "tasks-random.yaml").write_text(yaml.safe_dump(tasks))
    configfile = write_config(workdir, "random.yaml", {
        **SUBSET, "registries": {"tasks": "config/tasks-random.yaml"},
        "sensitivity": {"enabled": True, "tasks": ["mcq4"], "factors": ["distractors"]},
    })  # fmt: skip
    jobs = _jobs(_output(snakemake(workdir, "-n", *TARGETS, configfile=configfile)))
    [changed] = _rules(jobs, "sensitivity_infer")
    assert changed["wildcards"]["setting"] == "distractors=mined"
    assert "resources/options/shapes/clip-tiny-k4.parquet" in changed["input"]
    assert [j["wildcards"]["k"] for j in _rules(jobs, "mine_options")] == ["4"]
    [default] = _rules(jobs, "infer")  # the study's own run asks without mined options
    assert not any("resources/options/" in path for path in default["input"])


def test_a_report_naming_no_job_of_the_study_stops_the_dry_run(tmp_path):
    workdir = make_workdir(tmp_path / "bad")
    configfile = write_config(workdir, "bad.yaml", {
        **SUBSET, "sensitivity": {"enabled": True, "tasks": ["owc-base", "owc-cot"]},
    })  # fmt: skip
    result = snakemake(workdir, "-n", configfile=configfile, check=False)
    assert result.returncode != 0
    assert "config: sensitivity.tasks.1: 'owc-cot' is not one of the study's tasks" in (
        _output(result)
    )
    assert not (workdir / "logs").exists()


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, str, dict[str, int]]:
    workdir = make_workdir(tmp_path_factory.mktemp("sensitivity"))
    configfile = write_config(workdir, "sensitivity.yaml", SUBSET)
    first = snakemake(workdir, *TARGETS, configfile=configfile)
    return workdir, configfile, planned_jobs(_output(first))


@pytest.mark.slow
def test_the_report_has_every_factor_with_numbers(report):
    workdir, _, first = report
    # the first run: the two default runs and one changed run per setting, nothing else infers
    assert first["infer"] == 2
    assert first["sensitivity_infer"] == sum(len(s) for s in CHANGED.values())
    assert first["sensitivity"] == 1
    table = pd.read_csv(workdir / "results" / "tables" / "sensitivity.csv")
    assert set(table["factor"]) == {DEFAULT, *FACTORS}
    assert table[["value", "value/ci_low", "value/ci_high"]].notna().all().all()
    changed = table[table["factor"] != DEFAULT]
    assert changed[["difference", "difference/ci_low", "difference/ci_high"]].notna().all().all()
    assert set(changed["exceeds"]) <= {0, 1}
    # each task's default row per metric read, then its settings
    assert set(table.loc[table["factor"] == "mapping_encoder", "metric"]) == {"mapped_accuracy"}
    assert table.loc[table["factor"] == "ground_truth", "setting"].tolist() == ["multi", "multi"]
    md = (workdir / "results" / "tables" / "sensitivity.md").read_text()
    assert "distractors" in md and "owc-base x qwen2-vl-tiny: distractors" in md
    assert "\\begin{table" in (workdir / "results" / "tables" / "sensitivity.tex").read_text()
    image = mpimg.imread(workdir / "results" / "figures" / "sensitivity.png")
    assert image.shape[0] > 400 and image.std() > 0.01
    assert (workdir / "results" / "figures" / "sensitivity.pdf").stat().st_size > 1000

    # the changed runs asked the report's images only, with the setting applied
    default = read_parquet(workdir / "results/predictions/shapes/mcq4/qwen2-vl-tiny.parquet")
    runs = workdir / "results" / "sensitivity" / "shapes" / "mcq4" / "qwen2-vl-tiny"
    one = read_parquet(runs / "batch_size=1" / "predictions.parquet")
    assert len(one) == 12 and set(one["sample_id"]) < set(default["sample_id"])
    assert read_metadata(runs / "batch_size=1" / "predictions.parquet")["backend_info"][
        "batch_size"
    ] == 1  # fmt: skip
    prompts = default.set_index("sample_id").loc[one["sample_id"], "prompt"]
    assert prompts.tolist() == one["prompt"].tolist()  # only the factor changes
    random = read_parquet(runs / "distractors=random" / "predictions.parquet")
    assert random["prompt"].tolist() != one["prompt"].tolist()


@pytest.mark.slow
def test_a_second_run_reuses_the_default_runs(report):
    workdir, configfile, _ = report
    defaults = sorted((workdir / "results" / "predictions").rglob("*.parquet"))
    stamps = [path.stat().st_mtime_ns for path in defaults]
    for path in (workdir / "results").glob("*/sensitivity.*"):
        path.unlink()
    assert planned_jobs(_output(snakemake(workdir, "-n", *TARGETS, configfile=configfile))) == {
        "sensitivity": 1
    }
    second = snakemake(workdir, *TARGETS, configfile=configfile)
    assert planned_jobs(_output(second)) == {"sensitivity": 1}
    assert [path.stat().st_mtime_ns for path in defaults] == stamps
    assert (workdir / "results" / "tables" / "sensitivity.csv").is_file()
    # another sample re-runs the changed runs, never the study's
    other = write_config(workdir, "other.yaml", {**SUBSET, "sensitivity": {"images": 6}})
    plan = planned_jobs(_output(snakemake(workdir, "-n", *TARGETS, configfile=other)))
    assert plan == {"sensitivity_infer": 9, "sensitivity": 1}

    snakemake(workdir, *TARGETS, "--report", "results/report.html", configfile=configfile)
    page = (workdir / "results" / "report.html").read_text(errors="replace")
    assert "sensitivity.csv" in page and "sensitivity.png" in page
