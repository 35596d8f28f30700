"""The offline demo DAG end to end, in a scratch copy of the repository.

These tests run the real Snakemake workflow with the tiny models: every contract file of the
design exists with its columns, a second run does nothing, a changed metric setting re-runs only
scoring and what depends on it, and a killed inference job resumes from its chunks.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from workflow_helpers import make_workdir, planned_jobs, snakemake, write_config

from classbench.io import read_metadata, read_parquet

pytestmark = pytest.mark.slow

DATASETS = ["shapes", "patterns"]
GENERATIVE = ["qwen2-vl-tiny", "llava-tiny"]
GENERATIVE_TASKS = ["owc-base", "owc-tailored", "owc-cot", "labels-k5", "labels-all", "mcq4",
                    "mcq4-loglik"]  # fmt: skip
OPEN_TASKS = ["owc-base", "owc-tailored", "owc-cot"]
ELO_SCOPES = ["all", "group-prototypical", "group-non-prototypical", "dataset-shapes",
              "dataset-patterns"]  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    workdir = make_workdir(tmp_path_factory.mktemp("demo"))
    snakemake(workdir)
    return workdir


def _columns(path: Path) -> set[str]:
    return set(read_parquet(path).columns)


def test_dataset_contract(demo):
    for dataset in DATASETS:
        root = demo / "resources" / "datasets" / dataset
        manifest = read_parquet(root / "manifest.parquet")
        assert {"sample_id", "image", "label", "label_idx"} <= set(manifest.columns)
        assert len(manifest) >= 30 and manifest["label"].nunique() >= 5
        assert manifest["sample_id"].is_unique
        assert all((root / image).is_file() for image in manifest["image"])
        assert {"label_idx", "label"} <= _columns(root / "classes.parquet")
        meta = yaml.safe_load((root / "meta.json").read_text())
        assert meta["counts"] == {"images": len(manifest), "classes": manifest["label"].nunique()}
        assert len(meta["checksums"]) == len(manifest)


def test_embeddings_and_options_contract(demo):
    for dataset in DATASETS:
        stem = demo / "resources" / "embeddings" / dataset / "clip-tiny"
        images = read_parquet(f"{stem}.images.parquet")
        assert {"sample_id", "embedding"} <= set(images.columns)
        norms = [sum(x * x for x in e) ** 0.5 for e in images["embedding"]]
        assert all(abs(n - 1) < 1e-4 for n in norms)
        assert {"label_idx", "label", "embedding"} <= _columns(Path(f"{stem}.classes.parquet"))
        options = read_parquet(demo / "resources" / "options" / dataset / "clip-tiny-k4.parquet")
        assert {"sample_id", "options", "gt_rank"} <= set(options.columns)
        manifest = read_parquet(demo / "resources" / "datasets" / dataset / "manifest.parquet")
        truth = dict(zip(manifest["sample_id"], manifest["label"], strict=True))
        for sid, opts in zip(options["sample_id"], options["options"], strict=True):
            assert len(opts) == 4 and len(set(opts)) == 4 and opts[0] == truth[sid]


def test_predictions_contract(demo):
    for dataset in DATASETS:
        for task in GENERATIVE_TASKS:
            for model in GENERATIVE:
                path = demo / "results" / "predictions" / dataset / task / f"{model}.parquet"
                frame = read_parquet(path)
                assert {"sample_id", "prompt", "options", "raw", "answer", "error", "tokens_in",
                        "tokens_out", "latency_s"} <= set(frame.columns)  # fmt: skip
                assert frame["error"].isna().all()
                meta = read_metadata(path)
                for key in ("checkpoint", "revision", "backend", "model_spec", "task_spec",
                            "seed", "provenance", "throughput", "backend_info"):  # fmt: skip
                    assert key in meta, key
                assert meta["backend_info"]["dtype"] == "float32"
                assert meta["provenance"]["versions"]["transformers"]
                assert meta["throughput"]["images_per_s"] > 0
        zeroshot = demo / "results" / "predictions" / dataset / "zeroshot" / "clip-tiny.parquet"
        assert {"answer", "answer_options", "options"} <= _columns(zeroshot)


def test_mcq_prompts_identical_across_models(demo):
    frames = [
        read_parquet(demo / "results" / "predictions" / "shapes" / "mcq4" / f"{m}.parquet")
        for m in GENERATIVE
    ]
    assert frames[0]["prompt"].tolist() == frames[1]["prompt"].tolist()
    assert (
        frames[0]["prompt"]
        .iloc[0]
        .endswith("Answer with the letter from the given choices directly.")
    )
    # The ground truth is not always behind the same letter.
    pairs = zip(frames[0]["options"], frames[0]["label"], strict=True)
    positions = {list(options).index(label) for options, label in pairs}
    assert len(positions) > 1


def test_demo_prompts_of_the_new_task_families(demo):
    def frame(dataset, task):
        return read_parquet(
            demo / "results" / "predictions" / dataset / task / "llava-tiny.parquet"
        )

    assert set(frame("patterns", "owc-tailored")["prompt"]) == {
        "What type of texture is in this photo?"
    }  # fmt: skip
    assert set(frame("shapes", "owc-cot")["prompt"]) == {
        "What type of object is in this photo? Think step by step."
    }  # fmt: skip
    assert "answer_final" in frame("shapes", "owc-cot").columns
    k5 = frame("shapes", "labels-k5")
    for prompt, options, label in zip(k5["prompt"], k5["options"], k5["label"], strict=True):
        assert len(options) == 5 and label in options
        assert prompt == ('What type of object is in this photo? Choose one from "'
                          + ", ".join(options) + '".')  # fmt: skip
    assert all(len(o) == 6 for o in frame("shapes", "labels-all")["options"])
    loglik = frame("shapes", "mcq4-loglik")
    assert set(loglik["answer_mode"]) == {"loglik"}
    assert all(list(json.loads(raw)) == ["A", "B", "C", "D"] for raw in loglik["raw"])
    scores = read_parquet(
        demo / "results" / "scores" / "shapes" / "labels-k5" / "llava-tiny.parquet"
    )
    assert set(scores["mapping"]) <= {"exact", "inclusion", "nli", "none"}
    assert (scores["answer"].notna() == (scores["mapping"] != "none")).all()


def test_scores_summary_elo_contract(demo):
    thresholds = {f"semantic_similarity@{t}" for t in ("0.5", "0.6", "0.7", "0.8", "0.9", "avg")}
    open_metrics = {"textual_inclusion", "exact_match", "semantic_similarity", "concept_similarity",
                    "llm_inclusion", "mapped_accuracy", "mapped_class"} | thresholds  # fmt: skip
    label_metrics = {"accuracy", "textual_inclusion", "parse_failure", "out_of_list", "mapping"}
    final = {f"{m}_final" for m in open_metrics - {"llm_inclusion"}}
    expected_metrics = {
        "owc-base": open_metrics,
        "owc-tailored": open_metrics,
        "owc-cot": open_metrics | final,
        "labels-k5": label_metrics,
        "labels-all": label_metrics,
        "mcq4": {"accuracy", "parse_failure", "out_of_list"},
        "mcq4-loglik": {"accuracy", "parse_failure", "out_of_list"},
        "zeroshot": {"accuracy", "accuracy_options"},
    }
    for dataset in DATASETS:
        for task, metrics in expected_metrics.items():
            models = ["clip-tiny"] if task == "zeroshot" else GENERATIVE
            for model in models:
                scores = read_parquet(
                    demo / "results" / "scores" / dataset / task / f"{model}.parquet"
                )
                assert {"sample_id", "valid"} | metrics <= set(scores.columns)
                # shapes has label sets: the label-comparing metrics are scored against them
                multi = {c for c in scores.columns if c.endswith(("_multi", "_multi_final"))}
                assert bool(multi) == (dataset == "shapes")
    summary = read_parquet(demo / "results" / "summary.parquet")
    assert list(summary.columns) == ["dataset", "group", "task", "model", "metric", "value",
                                     "ci_low", "ci_high", "n", "n_invalid",
                                     "n_no_label"]  # fmt: skip
    # Per dataset: owc-base and owc-tailored 12 metrics (TI, EM, SS, SS@0.5..0.9 and @avg, CS,
    # LI, mapped accuracy), owc-cot 12 + 11 on the final answer, each label list 4 + macro
    # P/R/F1, mcq4 and mcq4-loglik 3, for 2 models; zeroshot 2 for CLIP. shapes adds the
    # label-set forms: 11 per open task (twice for owc-cot), 2 + 3 per label list, 1 per mcq
    # task and 1 for zeroshot.
    per_model = 12 + 12 + 23 + 7 + 7 + 3 + 3
    multi_per_model = 11 + 11 + 22 + 5 + 5 + 1 + 1
    assert len(summary) == 2 * (2 * per_model + 2) + 2 * multi_per_model + 1
    no_label = summary[summary["metric"].str.contains("_multi")]
    assert set(no_label["dataset"]) == {"shapes"} and (no_label["n_no_label"] == 6).all()
    assert ((summary["ci_low"] <= summary["value"] + 1e-12)
            & (summary["value"] <= summary["ci_high"] + 1e-12)).all()  # fmt: skip
    for task, scope in itertools.product(OPEN_TASKS, ELO_SCOPES):
        board = read_parquet(demo / "results" / "elo" / task / f"{scope}.parquet")
        assert list(board.columns) == ["model", "rating", "ci_low", "ci_high", "games", "wins",
                                       "draws", "losses"]  # fmt: skip
        assert sorted(board["model"]) == sorted(GENERATIVE)
        assert board["games"].sum() > 0


def test_rerun_does_nothing(demo):
    result = snakemake(demo, "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_metric_setting_change_reruns_only_scoring(demo):
    configfile = write_config(demo, "changed.yaml", {"scoring": {"encode_batch_size": 64}})
    plan = planned_jobs(_output(snakemake(demo, "-n", configfile=configfile)))
    assert plan.get("score") == 30
    assert {"infer", "zeroshot", "judge", "embed", "prepare_dataset", "build_tiny_model",
            "mine_options", "sensitivity_infer"}.isdisjoint(plan)  # fmt: skip
    assert set(plan) <= {"score", "summary", "elo", "all", "sensitivity"} | _report_rules()
    assert plan.get("resolved_config") == 1  # the provenance record follows the config
    assert plan.get("sensitivity") == 1  # re-scored, its changed runs kept


def test_label_fallback_change_reruns_only_scoring(demo):
    tasks = yaml.safe_load((demo / "config" / "tasks.yaml").read_text())
    tasks["labels-k5"]["fallback"] = "embedding"
    (demo / "config" / "tasks-embedding.yaml").write_text(yaml.safe_dump(tasks, sort_keys=False))
    configfile = write_config(
        demo, "embedding.yaml", {"registries": {"tasks": "config/tasks-embedding.yaml"}}
    )
    plan = planned_jobs(_output(snakemake(demo, "-n", configfile=configfile)))
    assert plan.get("score") == 4  # labels-k5: 2 datasets x 2 models
    assert set(plan) <= {"score", "summary", "all"} | _report_rules()


def _report_rules() -> set[str]:
    # gallery_images is not one: thumbnails depend on the dataset alone. resolved_config is:
    # every config change rewrites the record of the config.
    return {"table", "figure", "report_tables", "report_figures", "cost_table", "gallery",
            "resolved_config"}  # fmt: skip


def test_resolved_config_is_written_next_to_the_results(demo, monkeypatch):
    """results/config.resolved.yaml: the demo preset over the defaults, every default filled;
    passed back as the config, it plans the same jobs."""
    from classbench.config import load_study

    resolved = yaml.safe_load((demo / "results" / "config.resolved.yaml").read_text())
    preset = yaml.safe_load((demo / "config" / "demo.yaml").read_text())
    for key in ("datasets", "models", "tasks", "option_miner", "nli_model"):
        assert resolved[key] == preset[key], key
    # The preset's keys over the defaults, nested ones included.
    assert resolved["registries"] == {"datasets": "config/datasets.yaml",
                                      "models": preset["registries"]["models"],
                                      "tasks": "config/tasks.yaml"}  # fmt: skip
    assert resolved["inference"] == {"chunk_size": 16, "image_workers": 4}
    assert resolved["report"]["gallery_limit"] == 500
    monkeypatch.chdir(demo)
    again = load_study(resolved, "workflow/schemas")
    first = load_study(preset, "workflow/schemas")
    assert again.jobs == first.jobs


def _output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def test_killed_inference_resumes_from_chunks(tmp_path):
    """SIGKILL an inference job half way: the re-run reuses every finished chunk and its
    predictions equal an uninterrupted run's, sample for sample."""
    workdir = make_workdir(tmp_path / "kill")
    models = yaml.safe_load((workdir / "config" / "demo-models.yaml").read_text())
    models["qwen2-vl-tiny"]["batch_size"] = 1
    (workdir / "config" / "demo-models.yaml").write_text(yaml.safe_dump(models))
    configfile = write_config(workdir, "kill.yaml", {"inference": {"chunk_size": 2}})
    target = "results/predictions/shapes/owc-base/qwen2-vl-tiny.parquet"
    snakemake(workdir, "resources/options/shapes/clip-tiny-k4.parquet",
              "resources/models/qwen2-vl-tiny", configfile=configfile)  # fmt: skip
    chunks = workdir / f"{target}.chunks"
    command = [sys.executable, "-m", "snakemake", "--configfile", configfile, "--cores", "1",
               "--profile", "profiles/local", target]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=workdir, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    written = 0
    while time.monotonic() < deadline and process.poll() is None:
        written = len(list(chunks.glob("*/chunk-*.parquet")))
        if written >= 3:
            break
        time.sleep(0.01)
    assert process.poll() is None, "the job finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (workdir / target).exists()
    finished = sum(len(read_parquet(p)) for p in chunks.glob("*/chunk-*.parquet"))
    assert 0 < finished < 48

    # A killed Snakemake leaves its lock behind, as after a power loss.
    snakemake(workdir, "--unlock", configfile=configfile)
    snakemake(workdir, target, configfile=configfile)
    resume = read_metadata(workdir / target)["resume"]
    assert resume["reused"] == finished
    assert resume["computed"] == 48 - finished

    fresh = make_workdir(tmp_path / "fresh")
    (fresh / "config" / "demo-models.yaml").write_text(yaml.safe_dump(models))
    fresh_config = write_config(fresh, "kill.yaml", {"inference": {"chunk_size": 2}})
    snakemake(fresh, target, configfile=fresh_config)
    resumed = read_parquet(workdir / target)
    uninterrupted = read_parquet(fresh / target)
    columns = ["sample_id", "prompt", "raw", "answer", "error", "tokens_in", "tokens_out"]
    pd.testing.assert_frame_equal(resumed[columns], uninterrupted[columns])


def _planned_jobs(output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job a dry run plans, from its job blocks."""
    jobs: list[tuple[str, dict[str, str]]] = []
    for line in output.splitlines():
        stripped = line.strip()
        if stripped.startswith(("rule ", "localrule ")) and stripped.endswith(":"):
            jobs.append((stripped.split()[1].rstrip(":"), {}))
        elif stripped.startswith("wildcards:") and jobs:
            pairs = stripped.removeprefix("wildcards:").split(",")
            jobs[-1][1].update(pair.strip().split("=", 1) for pair in pairs if "=" in pair)
    return jobs


NEW_MODEL = "qwen2.5-vl-tiny"


def test_adding_a_model_reruns_only_its_jobs_and_the_report(demo, monkeypatch):
    """A third VLM added to a finished run: its build, inference, judge and scoring jobs, and
    the rules that combine models (summary, Elo, tables, figures, galleries); nothing else."""
    from classbench.config import load_study

    config = yaml.safe_load((demo / "config" / "demo.yaml").read_text())
    configfile = write_config(demo, "added.yaml", {"models": [*config["models"], NEW_MODEL]})
    monkeypatch.chdir(demo)  # the registries are named relative to the workflow
    study = load_study(yaml.safe_load(Path(configfile).read_text()), "workflow/schemas")
    new_jobs = study.jobs_where(model=NEW_MODEL)
    assert new_jobs

    planned = _planned_jobs(_output(snakemake(demo, "-n", configfile=configfile)))
    rules = {rule for rule, _ in planned}
    assert rules <= {"build_tiny_model", "infer", "judge", "score", "summary", "elo", "all"} | (
        _report_rules()
    )
    for rule, wildcards in planned:
        if rule in ("build_tiny_model", "infer", "judge", "score"):
            assert wildcards["model"] == NEW_MODEL, (rule, wildcards)

    def keys(rule: str) -> set[tuple[str, str]]:
        return {(w["dataset"], w["task"]) for r, w in planned if r == rule}

    expected = {(job.dataset, job.task) for job in new_jobs}
    judged = {(job.dataset, job.task) for job in new_jobs
              if "llm_inclusion" in study.tasks[job.task]["metrics"]}  # fmt: skip
    assert keys("infer") == keys("score") == keys("gallery") == expected
    assert keys("judge") == judged
    assert [w["model"] for r, w in planned if r == "build_tiny_model"] == [NEW_MODEL]
    ranked = {(task, scope) for task in study.elo_tasks for scope in study.elo_scopes(task)}
    assert {(w["task"], w["scope"]) for r, w in planned if r == "elo"} == ranked
    assert {"summary", "table", "figure"} <= rules


def test_gallery_pages(demo):
    """One page per dataset x task with every evaluated image, thumbnails beside it, and a
    standalone copy with the thumbnails embedded for the report."""
    config = yaml.safe_load((demo / "config" / "demo.yaml").read_text())

    def evaluated(dataset: str, task: str = "*") -> set[str]:
        paths = (demo / "results" / "predictions" / dataset).glob(f"{task}/*.parquet")
        return {sid for path in paths for sid in read_parquet(path)["sample_id"]}

    for dataset in DATASETS:
        root = demo / "results" / "gallery" / dataset
        # the demo's sets are smaller than report.gallery_limit: every evaluated image shows
        assert len(list((root / "img").glob("*.jpg"))) == len(evaluated(dataset))
        for task in config["tasks"]:
            shown = len(evaluated(dataset, task))
            page = (root / f"{task}.html").read_text()
            assert page.count('<article class="sample"') == page.count('src="img/') == shown
            standalone = (root / f"{task}.standalone.html").read_text()
            assert standalone.count("data:image/jpeg;base64,") == shown
    page = (demo / "results" / "gallery" / "shapes" / "mcq4.html").read_text()
    assert all(model in page for model in GENERATIVE)


def test_preflight_stops_the_run_before_any_job(tmp_path, monkeypatch):
    """A dataset whose archive is missing stops the run at the preflight, before its
    preparation starts; `--config preflight=False` (or the environment variable) skips it."""
    workdir = make_workdir(tmp_path / "preflight")
    registry = yaml.safe_load((workdir / "config" / "datasets.yaml").read_text())
    registry["broken"] = {
        "source": {"kind": "archive", "archive": {"path": "missing.zip"},
                   "split_file": {"path": "missing.json"}, "split_format": "coop_json",
                   "split": "test"},
        "group": "prototypical",
    }  # fmt: skip
    (workdir / "config" / "broken.yaml").write_text(yaml.safe_dump(registry, sort_keys=False))
    configfile = write_config(
        workdir, "broken-study.yaml",
        {"datasets": ["broken"], "registries": {"datasets": "config/broken.yaml"}},
    )  # fmt: skip
    target = "resources/datasets/broken/manifest.parquet"
    stopped = snakemake(workdir, target, configfile=configfile, check=False)
    assert stopped.returncode != 0
    assert "archive missing.zip does not exist" in stopped.stderr
    assert "preflight: problems found" in stopped.stderr
    assert not (workdir / "logs" / "prepare_dataset").exists()  # no job started
    skipped = snakemake(workdir, target, "--config", "preflight=False", configfile=configfile,
                        check=False)  # fmt: skip
    assert "preflight:" not in skipped.stderr
    log = workdir / "logs" / "prepare_dataset" / "broken.log"
    assert "missing.json does not exist" in log.read_text()  # it ran, and failed
    log.unlink()
    monkeypatch.setenv("CLASSBENCH_SKIP_PREFLIGHT", "1")
    skipped = snakemake(workdir, target, configfile=configfile, check=False)
    assert "preflight:" not in skipped.stderr and log.exists()
