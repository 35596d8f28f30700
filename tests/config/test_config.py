"""Study loading: the demo plans the expected jobs, defaults fill in, bad configs fail clearly."""

from __future__ import annotations

import pytest
import yaml
from config_helpers import DEMO, REPO, SCHEMAS, demo, expect_error, registry, triples

from classbench.config import ConfigError, config_defaults, load_study

GENERATIVE = ["qwen2-vl-tiny", "llava-tiny"]
DEMO_GENERATIVE_TASKS = ("owc-base", "owc-tailored", "owc-cot", "labels-k5", "labels-all", "mcq4",
                         "mcq4-loglik")  # fmt: skip


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


# --- the default config, the presets and the registry files ------------------------------------
def test_default_config_holds_exactly_the_schema_defaults():
    """config/config.yaml is what a run starts from: the documented defaults, no selection, so
    a preset or a user's own file inherits nothing it did not ask for."""
    defaults = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert defaults == config_defaults(SCHEMAS)
    assert not {"datasets", "models", "tasks", "option_miner", "nli_model"} & set(defaults)
    assert "model" not in defaults["judge"]


def test_no_selection_stops_with_one_message():
    defaults = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    message = expect_error(defaults, "No study selected", "config/study.yaml", "config/demo.yaml")
    assert message.startswith("No study selected")


def test_a_partial_selection_names_what_is_missing(tmp_path):
    config = demo(tmp_path)
    del config["tasks"]
    expect_error(config, "config", "'tasks' is a required property")


def test_study_preset_is_the_full_study(monkeypatch):
    """config/study.yaml over the defaults: what a run with --configfile config/study.yaml loads."""
    monkeypatch.chdir(REPO)
    config = {
        **config_defaults(SCHEMAS),
        **yaml.safe_load((REPO / "config/study.yaml").read_text()),
    }
    study = load_study(config, SCHEMAS, check_packages=False)
    assert study.judge_model == "llama-3.2-3b-instruct"
    assert study.config["judge"] == {"model": "llama-3.2-3b-instruct", "question": "lmms-owc",
                                     "reply": "stripped", "batch_size": 16,
                                     "max_new_tokens": 16}  # fmt: skip
    assert not any("tiny" in spec for spec in study.models.values())
    assert len({job.model for job in study.jobs}) == len(study.config["models"])


def test_demo_reads_its_tiny_models_from_their_own_file(monkeypatch):
    monkeypatch.chdir(REPO)
    study = load_study(DEMO, SCHEMAS)
    assert DEMO["registries"]["models"] == ["config/models.yaml", "config/demo-models.yaml"]
    for name in study.built_models:
        assert study.source("models", name) == "config/demo-models.yaml"
    assert study.source("models", "bart-large-mnli") == "config/models.yaml"
    catalogue = yaml.safe_load((REPO / "config" / "models.yaml").read_text())
    assert not any("tiny" in spec for spec in catalogue.values())


def test_registry_files_are_read_together_and_errors_name_their_file(tmp_path):
    models = registry("models")
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({"llava-tiny-2": {**models["llava-tiny"], "seed": 1}}))
    rest = tmp_path / "models.yaml"
    rest.write_text(yaml.safe_dump(models))
    config = demo(tmp_path, models=["llava-tiny", "llava-tiny-2", "clip-tiny"])
    config["registries"]["models"] = [str(rest), str(mine)]
    study = load_study(config, SCHEMAS)
    assert {job.model for job in study.jobs} == {"llava-tiny", "llava-tiny-2", "clip-tiny"}
    assert study.source("models", "llava-tiny-2") == str(mine)

    mine.write_text(yaml.safe_dump({"llava-tiny-2": {**models["llava-tiny"], "seed": "one"}}))
    message = expect_error(config, str(mine), "llava-tiny-2.seed")
    assert str(rest) not in message


def test_a_name_defined_in_two_registry_files_names_both(tmp_path):
    models = registry("models")
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(yaml.safe_dump(models))
    second.write_text(yaml.safe_dump({"clip-tiny": models["clip-tiny"]}))
    config = demo(tmp_path)
    config["registries"]["models"] = [str(first), str(second)]
    expect_error(config, str(first), str(second), "clip-tiny", "already defined")


def test_an_empty_registry_list_is_refused(tmp_path):
    config = demo(tmp_path)
    config["registries"]["models"] = []
    expect_error(config, "config", "registries.models")


def test_a_missing_spacy_pipeline_stops_the_run_before_the_first_job(tmp_path):
    study = load_study(demo(tmp_path, spacy_model="en_core_web_absent"), SCHEMAS)
    with pytest.raises(ConfigError, match="python -m spacy download en_core_web_absent"):
        study.check_packages()
    # Without a concept-similarity task no pipeline is needed.
    quiet = demo(tmp_path, spacy_model="en_core_web_absent", tasks=["mcq4", "zeroshot"])
    load_study(quiet, SCHEMAS).check_packages()


def test_task_limits_beat_dataset_limits_which_beat_the_limit(tmp_path):
    # The label-list thesis: 10,000 images for its 20-way task, 1,600 for the 100-way one.
    config = demo(tmp_path, limit=30, dataset_limits={"shapes": 20}, task_limits={"labels-all": 8})
    study = load_study(config, SCHEMAS)
    assert study.job_limit("shapes", "labels-all") == 8
    assert study.job_limit("shapes", "owc-base") == 20
    assert study.job_limit("patterns", "owc-base") == 30
    # the gallery's thumbnails cover every subset a task of the dataset evaluates
    assert study.dataset_limits_of_tasks("shapes") == [8, 20]
    expect_error(demo(tmp_path, task_limits={"mcq26": 5}), "task_limits", "'mcq26'")


def test_a_variant_is_compared_with_the_numbers_published_for_its_model(tmp_path):
    def add_variant(kind, content):
        if kind == "models":
            content["llava-tiny-8bit"] = {**content["llava-tiny"], "variant_of": "llava-tiny"}

    study = load_study(demo(tmp_path, add_variant), SCHEMAS)
    assert study.published_model("llava-tiny-8bit") == "llava-tiny"
    assert study.published_model("llava-tiny") == "llava-tiny"

    def broken(kind, content):
        if kind == "models":
            content["llava-tiny"]["variant_of"] = "llava-huge"

    expect_error(demo(tmp_path, broken), "llava-tiny.variant_of", "'llava-huge'")


def test_the_preflight_is_on_by_default_and_can_be_turned_off(tmp_path):
    assert load_study(demo(tmp_path), SCHEMAS).config["preflight"] is True
    assert load_study(demo(tmp_path, preflight=False), SCHEMAS).config["preflight"] is False
    expect_error(demo(tmp_path, preflight="no"), "preflight", "is not of type 'boolean'")
