"""The paper presets (config/papers/): each validates on its own, dry-runs, and plans every
published number of its paper that it selects; each carries its paper's settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from workflow_helpers import make_workdir

from classbench.config import load_study
from classbench.report.reproduction import load_published

REPO = Path(__file__).resolve().parents[2]
PRESETS = ["lmms-owc", "foci", "revisiting-mllms", "vlmclassifier", "label-list-thesis"]
WILDCARDS = re.compile(r"wildcards: dataset=([^,\s]+), task=([^,\s]+), model=([^,\s]+)")


def _preset(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / "papers" / f"{name}.yaml").read_text())


def _study(name: str, monkeypatch):
    monkeypatch.chdir(REPO)  # presets name the registries relative to the repository
    return load_study(_preset(name), "workflow/schemas", check_packages=False)


def _selected_rows(study) -> list[tuple[str, str, str]]:
    """(dataset, task, our model) of every published row whose model (or a variant of it),
    dataset and task the study selects."""
    published = load_published(REPO / p for p in study.config["reproduction"]["published"])
    ours: dict[str, list[str]] = {}
    for model in study.config["models"]:
        ours.setdefault(study.published_model(model), []).append(model)
    return [
        (row.dataset, row.task, model)
        for row in published.itertuples(index=False)
        if row.dataset in study.config["datasets"] and row.task in study.config["tasks"]
        for model in ours.get(row.model, [])
    ]


def test_the_presets_are_there_and_complete():
    assert sorted(p.stem for p in (REPO / "config" / "papers").glob("*.yaml")) == sorted(PRESETS)
    for name in PRESETS:
        preset = _preset(name)
        # complete on their own: nothing a run reads is left to config/config.yaml
        for key in ("registries", "datasets", "models", "tasks", "exclude", "seed", "limit",
                    "dataset_limits", "task_limits", "reproduction"):  # fmt: skip
            assert key in preset, f"{name}: {key}"
        assert preset["reproduction"]["published"] == [f"config/published/{name}.csv"]


@pytest.mark.parametrize("name", PRESETS)
def test_a_preset_plans_every_published_number_it_selects(name, monkeypatch):
    study = _study(name, monkeypatch)
    planned = {(job.dataset, job.task, job.model) for job in study.jobs}
    rows = _selected_rows(study)
    missing = [row for row in rows if row not in planned]
    assert missing == []
    if name not in ("lmms-owc", "revisiting-mllms"):  # their tables are header only
        assert rows


def test_the_presets_carry_their_papers_settings(monkeypatch):
    owc = _study("lmms-owc", monkeypatch).config
    assert owc["elo"]["method"] == "elo_shards" and owc["elo"]["rounds"] == 100
    assert owc["elo"]["randomize_order"] is False
    assert owc["judge"]["reply"] == "raw" and owc["judge"]["question"] == "lmms-owc"
    assert owc["spacy_model"] == "en_core_web_lg"
    assert owc["scoring"]["encoder_precision"] == "float16"
    assert {"owc-llava-cot", "owc-llamav-o1"} <= set(owc["tasks"])
    vlmc = _study("vlmclassifier", monkeypatch)
    assert vlmc.config["report"]["label_list_headline"] == "textual_inclusion"
    assert vlmc.models["clip-vit-l-14-336-photo"]["class_template"] == "A photo of a {}"
    thesis = _study("label-list-thesis", monkeypatch)
    assert thesis.job_limit("imagenet", "labels-thesis-k20") == 10000
    assert thesis.job_limit("imagenet", "supervised") == 10000
    assert thesis.job_limit("imagenet", "labels-thesis-all") == 1600
    int8 = [m for m in thesis.config["models"] if thesis.models[m].get("quantization") == "8bit"]
    assert sorted(int8) == [
        "llava-next-vicuna-13b-int8", "llava-next-vicuna-7b-int8", "qwen2-vl-7b-int8",
    ]  # fmt: skip
    foci = _study("foci", monkeypatch)
    assert {"cub200", "stanford_dogs"} <= set(foci.config["datasets"])
    assert "finedefics" in foci.config["models"]
    assert foci.models[foci.config["option_miner"]]["dtype"] == "float32"


@pytest.mark.slow
@pytest.mark.parametrize("name", PRESETS)
def test_a_preset_dry_runs_with_the_slurm_profile(name, tmp_path_factory, monkeypatch):
    """`snakemake --configfile config/papers/<paper>.yaml --profile profiles/slurm -n`: no job
    runs, and every published number the preset selects has its job in the plan."""
    workdir = make_workdir(tmp_path_factory.mktemp(name))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--configfile", f"config/papers/{name}.yaml",
         "--profile", "profiles/slurm", "-n"],
        cwd=workdir, capture_output=True, text=True, check=False,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "This was a dry-run" in output
    planned = set(WILDCARDS.findall(output))
    missing = [row for row in _selected_rows(_study(name, monkeypatch)) if row not in planned]
    assert missing == []
    assert not (workdir / "results").exists()
