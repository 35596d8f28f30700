"""The config's `sensitivity` section: off by default, planned from the study when enabled, and
refused with one message naming the key when it names what the study does not run."""

from __future__ import annotations

import copy

import pytest
import yaml
from config_helpers import DEMO, REPO, SCHEMAS, demo, expect_error

from classbench.config import config_defaults, load_study
from classbench.sensitivity.plan import FACTORS


def _with(tmp_path, edit=None, **section):
    """The demo with its sensitivity section changed by ``section``."""
    return demo(tmp_path, edit, sensitivity={**DEMO["sensitivity"], **section})


def test_off_by_default_and_the_defaults_name_every_factor():
    defaults = config_defaults(SCHEMAS)["sensitivity"]
    assert defaults == {"enabled": False, "factors": list(FACTORS), "images": 500,
                        "mapping_encoders": [], "seed": None}  # fmt: skip
    assert yaml.safe_load((REPO / "config" / "config.yaml").read_text())["sensitivity"] == (
        defaults
    )
    schema = yaml.safe_load((SCHEMAS / "config.schema.yaml").read_text())
    factors = schema["properties"]["sensitivity"]["properties"]["factors"]
    assert factors["items"]["enum"] == list(FACTORS)  # the schema and the library in step


def test_a_disabled_section_plans_nothing(tmp_path):
    study = load_study(_with(tmp_path, enabled=False), SCHEMAS)
    assert study.sensitivity is None and study.sensitivity_runs == []
    # off, it may name anything: nothing of it is planned
    load_study(_with(tmp_path, enabled=False, models=["clip-tiny"]), SCHEMAS)


def test_the_demo_varies_every_factor(monkeypatch):
    monkeypatch.chdir(REPO)
    study = load_study(copy.deepcopy(DEMO), SCHEMAS)
    runs = {(run["task"], run["model"]): run for run in study.sensitivity_runs}
    assert list(runs) == [("owc-base", "qwen2-vl-tiny"), ("mcq4", "qwen2-vl-tiny")]
    factors = {s["factor"] for run in runs.values() for s in run["settings"]}
    assert factors == set(FACTORS)
    names = [f"{s['factor']}={s['level']}" for s in runs[("mcq4", "qwen2-vl-tiny")]["settings"]]
    assert names == ["batch_size=1", "image_order=shuffled", "precision=bfloat16",
                     "precision=float32", "distractors=random", "ground_truth=multi"]  # fmt: skip


def test_enabled_without_a_selection(tmp_path):
    config = demo(tmp_path, sensitivity={"enabled": True, "dataset": "shapes"})
    expect_error(config, "config", "sensitivity", "'tasks' is a required property")


@pytest.mark.parametrize(
    ("section", "fragments"),
    [
        ({"dataset": "flowers"}, ["sensitivity.dataset", "'flowers'"]),
        ({"tasks": ["owc-base", "mcq26"]}, ["sensitivity.tasks.1", "'mcq26'"]),
        ({"tasks": ["zeroshot"]}, ["sensitivity.tasks.0", "zeroshot task", "open, labels, mcq"]),
        ({"models": ["qwen2-vl-tiny", "qwen2.5-vl-tiny"]}, ["sensitivity.models.1"]),
        ({"mapping_encoders": ["minilm", "bart-nli-tiny"]},
         ["sensitivity.mapping_encoders.1", "'bart-nli-tiny'", "contrastive"]),
        ({"factors": ["batch_size", "temperature"]}, ["sensitivity.factors.1", "temperature"]),
        ({"images": 0}, ["sensitivity.images"]),
    ],
)  # fmt: skip
def test_a_name_the_study_does_not_use(tmp_path, section, fragments):
    expect_error(_with(tmp_path, **section), "config", *fragments)


def test_a_combination_that_is_not_a_job_of_the_study(tmp_path):
    # clip-tiny is a model of the study, but no open-world job runs it: no default to compare
    config = _with(tmp_path, models=["qwen2-vl-tiny", "clip-tiny"])
    message = expect_error(config, "config: sensitivity:", "(shapes, owc-base, clip-tiny)",
                           "is not a job of the study")  # fmt: skip
    assert "'shapes'" in message
    # an excluded job has no default run either
    config = _with(tmp_path)
    config["exclude"] = [{"task": "mcq4", "model": "qwen2-vl-tiny", "dataset": "shapes"}]
    expect_error(config, "config: sensitivity:", "(shapes, mcq4, qwen2-vl-tiny)")


def test_mined_distractors_need_the_miner(tmp_path):
    def random(kind, content):
        if kind == "tasks":
            content["mcq4"]["distractors"] = "random"

    config = _with(tmp_path, random)
    config.update(models=["qwen2-vl-tiny", "llava-tiny"], tasks=["owc-base", "mcq4"])
    config.pop("option_miner")
    expect_error(config, "config: option_miner", "'distractors'", "'mcq4'")
    # with the miner, the random task's changed run mines its options
    config["option_miner"] = "clip-tiny"
    runs = load_study(config, SCHEMAS).sensitivity_runs
    assert {"factor": "distractors", "level": "mined", "model": {},
            "task": {"distractors": "mined"}, "scoring": {}} in runs[1]["settings"]  # fmt: skip
