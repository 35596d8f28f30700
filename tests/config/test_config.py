"""Study loading: the demo plans the expected jobs, defaults fill in, bad configs fail clearly."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from classbench.config import ConfigError, Job, load_study

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "workflow" / "schemas"
DEMO = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
GENERATIVE = ["qwen2-vl-tiny", "llava-tiny"]
DEMO_GENERATIVE_TASKS = ("owc-base", "owc-tailored", "owc-cot", "labels-k5", "labels-all", "mcq4",
                         "mcq4-loglik")  # fmt: skip


def registries(tmp_path: Path, edit: Callable[[str, dict], None] | None = None) -> dict[str, str]:
    """Copies of the registries (changed by ``edit(kind, content)``) under ``tmp_path``."""
    paths = {}
    for kind in ("datasets", "models", "tasks"):
        content = yaml.safe_load((REPO / "config" / f"{kind}.yaml").read_text())
        if edit is not None:
            edit(kind, content)
        path = tmp_path / f"{kind}.yaml"
        path.write_text(yaml.safe_dump(content, sort_keys=False))
        paths[kind] = str(path)
    return paths


def demo(tmp_path: Path, edit=None, **changes) -> dict:
    config = copy.deepcopy(DEMO)
    config.update(changes)
    config["registries"] = registries(tmp_path, edit)
    return config


def triples(jobs: list[Job]) -> set[tuple[str, str, str]]:
    return {(job.dataset, job.task, job.model) for job in jobs}


def expect_error(config: dict, *fragments: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMAS)
    message = str(caught.value)
    assert "\n" not in message.strip()
    for fragment in fragments:
        assert fragment in message
    return message


def test_demo_plans_generative_and_contrastive_jobs(monkeypatch):
    monkeypatch.chdir(REPO)  # the demo names its registries relative to the repository
    study = load_study(DEMO, "workflow/schemas")
    expected = {
        (dataset, task, model)
        for dataset in ("shapes", "patterns")
        for task in DEMO_GENERATIVE_TASKS
        for model in GENERATIVE
    } | {("shapes", "zeroshot", "clip-tiny"), ("patterns", "zeroshot", "clip-tiny")}
    assert triples(study.jobs) == expected
    assert len(study.jobs) == len(expected)
    assert study.protocol("mcq4") == "mcq"
    assert study.backend("clip-tiny") == "contrastive"
    assert study.judge_model == "qwen2-judge-tiny"
    assert study.built_models == ["bart-nli-tiny", "clip-tiny", "llava-tiny", "qwen2-judge-tiny",
                                  "qwen2-vl-tiny"]  # fmt: skip
    assert study.nli_model == "bart-nli-tiny"
    assert study.elo_tasks == ["owc-base", "owc-tailored", "owc-cot"]
    assert study.elo_scopes("owc-base") == [
        "all",
        "group-non-prototypical",
        "group-prototypical",
        "dataset-patterns",
        "dataset-shapes",
    ]
    assert study.scope_datasets("owc-base", "group-non-prototypical") == ["patterns"]
    assert "exclude" not in DEMO  # the input config is not modified


def test_exclusions_are_honoured(tmp_path):
    config = demo(
        tmp_path,
        exclude=[
            {"model": "llava-tiny", "task": "mcq4"},
            {"dataset": "patterns", "task": "zeroshot"},
        ],
    )
    jobs = triples(load_study(config, SCHEMAS).jobs)
    everything = 2 * 2 * len(DEMO_GENERATIVE_TASKS) + 2
    assert len(jobs) == everything - 2 - 1
    assert not {job for job in jobs if job[1:] == ("mcq4", "llava-tiny")}
    assert ("patterns", "zeroshot", "clip-tiny") not in jobs
    assert ("shapes", "zeroshot", "clip-tiny") in jobs
    assert ("patterns", "mcq4", "qwen2-vl-tiny") in jobs


def test_defaults_are_filled(tmp_path):
    config = demo(tmp_path)
    for key in ("inference", "summary", "elo", "seed"):
        del config[key]
    study = load_study(config, SCHEMAS)
    assert study.config["inference"] == {"chunk_size": 64, "image_workers": 4}
    assert study.config["seed"] == 1234
    assert study.config["exclude"] == []
    assert study.config["limit"] is None
    assert study.config["elo"]["criterion"] == "semantic_similarity"
    assert study.config["elo"]["randomize_order"] is True
    assert study.config["summary"] == {"bootstrap_resamples": 1000, "confidence": 0.95}
    assert study.config["judge"]["question"] == "task"
    assert study.tasks["owc-base"]["answer_extraction"] == "whole"
    assert study.models["llava-tiny"]["quantization"] is None
    # A partly given section keeps what it names and gains the rest.
    partial = load_study(demo(tmp_path, inference={"chunk_size": 16}), SCHEMAS)
    assert partial.config["inference"] == {"chunk_size": 16, "image_workers": 4}


def test_model_spec_and_limits(tmp_path):
    study = load_study(demo(tmp_path, limit=20, dataset_limits={"patterns": 5}), SCHEMAS)
    assert study.dataset_limit("shapes") == 20
    assert study.dataset_limit("patterns") == 5
    spec = study.model_spec("llava-tiny", models_dir="models")
    assert spec["checkpoint"] == "models/llava-tiny"
    assert spec["image_first"] is True
    assert spec["max_pixels"] is None
    assert "checkpoint" not in study.models["llava-tiny"]
    assert study.resources("llava-tiny")["cpus_per_gpu"] == 8


def test_unknown_top_level_key(tmp_path):
    expect_error(demo(tmp_path, chunk_size=16), "config", "'chunk_size'")


def test_unknown_nested_key(tmp_path):
    expect_error(demo(tmp_path, inference={"chunksize": 16}), "config", "inference", "chunksize")


@pytest.mark.parametrize(
    ("kind", "name", "index"),
    [("datasets", "no-such-dataset", "datasets.1"), ("models", "gpt-5", "models.1"),
     ("tasks", "owc-no-such-variant", "tasks.1")],
)  # fmt: skip
def test_unknown_name_in_selection(tmp_path, kind, name, index):
    config = demo(tmp_path)
    config[kind] = [config[kind][0], name]
    message = expect_error(config, "config", index, f"'{name}'")
    assert config["registries"][kind] in message


def test_wrong_type_in_models_registry(tmp_path):
    def edit(kind, content):
        if kind == "models":
            content["llava-tiny"]["batch_size"] = "eight"

    config = demo(tmp_path, edit)
    expect_error(config, config["registries"]["models"], "llava-tiny.batch_size", "'eight'")


def test_wrong_type_in_config(tmp_path):
    expect_error(demo(tmp_path, seed="1234"), "config", "seed")


def test_task_without_protocol(tmp_path):
    def edit(kind, content):
        if kind == "tasks":
            del content["mcq4"]["protocol"]

    config = demo(tmp_path, edit)
    message = expect_error(config, config["registries"]["tasks"], "mcq4", "'protocol'")
    assert "required" in message


def test_unknown_protocol(tmp_path):
    def edit(kind, content):
        if kind == "tasks":
            content["owc-base"]["protocol"] = "captioning"

    config = demo(tmp_path, edit)
    expect_error(config, config["registries"]["tasks"], "owc-base.protocol", "'captioning'")


def test_tiny_model_with_checkpoint(tmp_path):
    def edit(kind, content):
        if kind == "models":
            content["llava-tiny"]["checkpoint"] = "llava-hf/llava-1.5-7b-hf"

    config = demo(tmp_path, edit)
    message = expect_error(config, config["registries"]["models"], "llava-tiny")
    assert "'tiny'" in message
    assert "'checkpoint'" in message
    assert "{" not in message  # names the keys instead of dumping the entry


def test_option_miner_must_be_contrastive(tmp_path):
    expect_error(demo(tmp_path, option_miner="llava-tiny"), "config", "option_miner", "llava-tiny")


def test_llm_inclusion_needs_a_judge(tmp_path):
    config = demo(tmp_path)
    del config["judge"]
    expect_error(config, "config", "judge.model")


def test_exclude_names_an_unknown_model(tmp_path):
    config = demo(tmp_path, exclude=[{"task": "mcq4"}, {"model": "llava-huge"}])
    expect_error(config, "config", "exclude.1.model", "llava-huge")


def test_expected_classes_disagree_with_the_class_list(tmp_path):
    def edit(kind, content):
        if kind == "datasets":
            content["shapes"]["expected"]["classes"] = 7

    config = demo(tmp_path, edit)
    message = expect_error(config, config["registries"]["datasets"], "shapes.expected.classes")
    assert "7" in message
    assert "6" in message


def test_missing_registry_file(tmp_path):
    config = demo(tmp_path)
    config["registries"]["tasks"] = str(tmp_path / "nope.yaml")
    expect_error(config, "nope.yaml", "not found")


def test_the_preflight_is_on_by_default_and_can_be_turned_off(tmp_path):
    assert load_study(demo(tmp_path), SCHEMAS).config["preflight"] is True
    assert load_study(demo(tmp_path, preflight=False), SCHEMAS).config["preflight"] is False
    expect_error(demo(tmp_path, preflight="no"), "preflight", "is not of type 'boolean'")
