"""Constraints between the config and the registries stop a study before any job starts.

Each of these used to pass validation and fail later: a zero-shot `k` above a dataset's class
count crashed option mining after other jobs had run, a dataset name that no Elo scope can match
broke the DAG, a `dataset_limits` typo was ignored, and an empty selection ended in a KeyError.
"""

from __future__ import annotations

from config_helpers import SCHEMAS, demo, expect_error
from workflow_helpers import make_workdir, snakemake, write_config

from classbench.config import load_study


def _set_task_key(task: str, key: str, value):
    def edit(kind, content):
        if kind == "tasks":
            content[task][key] = value

    return edit


def _rename_dataset(old: str, new: str):
    def edit(kind, content):
        if kind == "datasets":
            content[new] = content.pop(old)

    return edit


def test_zeroshot_k_above_the_class_count(tmp_path):
    config = demo(tmp_path, _set_task_key("zeroshot", "k", 8))
    message = expect_error(config, config["registries"]["tasks"], "zeroshot.k", "8 options")
    assert "6 classes" in message
    assert "exclude {task: zeroshot, dataset: shapes}" in message


def test_zeroshot_k_above_the_class_count_is_checked_per_pair(tmp_path):
    exclude = [{"task": "zeroshot", "dataset": "shapes"}]
    config = demo(tmp_path, _set_task_key("zeroshot", "k", 8), exclude=exclude)
    expect_error(config, "zeroshot.k", "dataset 'patterns'")


def test_a_dataset_name_no_elo_scope_can_match(tmp_path):
    config = demo(tmp_path, _rename_dataset("shapes", "shapes v2"),
                  datasets=["patterns", "shapes v2"])  # fmt: skip
    message = expect_error(config, "config", "datasets.1", "'shapes v2'", "elo.scopes")
    assert "'dataset-shapes v2'" in message
    # Ranked over all datasets and per group only, the name needs no scope of its own.
    config["elo"] = {**config["elo"], "scopes": ["all", "group"]}
    assert load_study(config, SCHEMAS).elo_scopes("owc-base") == [
        "all", "group-non-prototypical", "group-prototypical"
    ]  # fmt: skip


def test_a_dataset_name_ending_like_a_games_file(tmp_path):
    config = demo(tmp_path, _rename_dataset("shapes", "shapes.games"),
                  datasets=["shapes.games", "patterns"])  # fmt: skip
    expect_error(config, "config", "datasets.0", "'shapes.games'")


def test_dataset_limits_naming_an_unknown_dataset(tmp_path):
    config = demo(tmp_path, dataset_limits={"shapes": 12, "shapse": 5})
    expect_error(config, "config", "dataset_limits.shapse", "unknown dataset")


def test_dataset_limits_may_name_a_registered_dataset_outside_the_selection(tmp_path):
    study = load_study(demo(tmp_path, dataset_limits={"imagenet": 5000}), SCHEMAS)
    assert study.dataset_limit("shapes") is None


def test_exclusions_that_leave_nothing_to_run(tmp_path):
    config = demo(tmp_path, exclude=[{"dataset": "shapes"}, {"dataset": "patterns"}])
    expect_error(config, "config", "exclude", "no job to run")


def test_a_selection_no_model_can_answer(tmp_path):
    config = demo(tmp_path, models=["qwen2-vl-tiny"], tasks=["zeroshot"])
    expect_error(config, "config", "models", "no job to run", "contrastive")


def test_snakemake_stops_on_a_bad_config_before_any_job(tmp_path):
    """The whole workflow, not a dry run: the check fails while the workflow is parsed, so no
    job starts and nothing is written under results/ or resources/."""
    workdir = make_workdir(tmp_path / "bad")
    tasks = workdir / "config" / "tasks.yaml"
    tasks.write_text(
        tasks.read_text().replace("protocol: zeroshot\n  k: 4", "protocol: zeroshot\n  k: 8")
    )
    configfile = write_config(workdir, "bad.yaml", {"limit": 6})
    result = snakemake(workdir, configfile=configfile, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "config/tasks.yaml: zeroshot.k: 8 options" in output
    for folder in ("results", "resources", "logs", "benchmarks"):
        assert not (workdir / folder).exists(), folder


def test_a_selected_task_no_model_can_answer(tmp_path):
    """Before, a zero-shot task without a contrastive model was dropped without a word, and
    its multiple-choice table came out empty."""
    config = demo(tmp_path, models=["qwen2-vl-tiny", "llava-tiny"], tasks=["owc-base", "zeroshot"])
    expect_error(config, "config", "tasks.1", "'zeroshot' has no job", "contrastive model")


def test_a_selected_model_all_of_whose_jobs_are_excluded_is_left_out(tmp_path):
    config = demo(tmp_path, exclude=[{"model": "llava-tiny", "dataset": "shapes"},
                                     {"model": "llava-tiny", "dataset": "patterns"}])  # fmt: skip
    assert not load_study(config, SCHEMAS).jobs_where(model="llava-tiny")


def test_a_selected_dataset_no_selected_task_can_run(tmp_path):
    """A supervised-only study names a dataset without an ImageNet mapping: nothing runs on it."""

    def mapped(kind, content):
        if kind == "datasets":
            content["shapes"]["imagenet_classes"] = list(range(6))

    config = demo(tmp_path, mapped, models=["resnet-classifier-tiny"], tasks=["supervised"])
    expect_error(config, "config", "datasets.1", "'patterns' has no job", "ImageNet mapping")
    config["datasets"] = ["shapes"]
    assert len(load_study(config, SCHEMAS).jobs) == 1
