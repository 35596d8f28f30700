"""The resume fingerprint: a setting that can change an answer invalidates the finished
samples; a setting that only changes how the job runs reuses them."""

from __future__ import annotations

import pytest
from test_inference import MODEL_SPEC, SPEC, Fake

import classbench.inference.job as job
from classbench.config import RUN_ONLY_MODEL_KEYS, SCORING_ONLY_TASK_KEYS
from classbench.data import prepare_dataset
from classbench.io import read_metadata

TASK = {"protocol": "open", "prompt": "What type of {noun} is in this photo?",
        "max_new_tokens": 16, "metrics": ["textual_inclusion"]}  # fmt: skip
LIMIT = 6

# One changed value per setting that reaches the model or the parser of its answer.
ANSWER_SETTINGS = {
    "checkpoint": {"checkpoint": "another/model"},
    "revision": {"revision": "0123abcd"},
    "dtype": {"dtype": "float32"},
    "quantization": {"quantization": "4bit"},
    "max_pixels": {"max_pixels": 100},
    "generation": {"generation": {"temperature": 0.7, "do_sample": True}},
    "system_prompt": {"system_prompt": "You are a classifier."},
    "backend": {"backend": "vllm"},
    "seed": {"seed": 1},
}
# One changed value per run-only model key (each must be listed here).
RUN_ONLY_VALUES = {
    "description": "a note", "resources": {"gpus": 2}, "batch_size": 1, "chunk_size": 2,
    "concurrency": 16, "timeout_s": 5, "max_retries": 9, "backoff_s": 0.1,
    "max_backoff_s": 3, "gpu_memory_utilization": 0.5, "params_b": 72, "support": "partial",
    "support_note": "why", "parity_of": "other", "variant_of": "base",
}  # fmt: skip


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets") / "shapes"
    prepare_dataset("shapes", SPEC, root)
    return root


def run_job(root, output, monkeypatch, task=TASK, model_spec=MODEL_SPEC, backend=Fake, **overrides):
    """Evaluate with a fake backend; returns how many samples were asked this time."""
    monkeypatch.setattr(job, "load_backend", lambda spec: backend())
    settings = {
        "dataset_root": root, "dataset_name": "shapes", "dataset_spec": SPEC,
        "task_name": "owc", "task": task, "model_name": "m", "model_spec": model_spec,
        "output": output, "seed": 0, "limit": LIMIT, "chunk_size": 4, "image_workers": 1,
        **overrides,
    }  # fmt: skip
    job.evaluate(**settings)
    return read_metadata(output)["resume"]["computed"]


def test_an_unchanged_job_asks_nothing(prepared, tmp_path, monkeypatch):
    output = tmp_path / "p.parquet"
    assert run_job(prepared, output, monkeypatch) == LIMIT
    assert run_job(prepared, output, monkeypatch) == 0


def test_max_new_tokens_invalidates(prepared, tmp_path, monkeypatch):
    output = tmp_path / "p.parquet"
    run_job(prepared, output, monkeypatch)
    assert run_job(prepared, output, monkeypatch, task={**TASK, "max_new_tokens": 64}) == LIMIT


@pytest.mark.parametrize("change", list(ANSWER_SETTINGS.values()), ids=list(ANSWER_SETTINGS))
def test_a_model_setting_that_changes_answers_invalidates(change, prepared, tmp_path,
                                                          monkeypatch):  # fmt: skip
    output = tmp_path / "p.parquet"
    run_job(prepared, output, monkeypatch)
    changed = {**MODEL_SPEC, **change}
    monkeypatch.setattr(job, "answer_mode_problem", lambda task, spec: None)
    assert run_job(prepared, output, monkeypatch, model_spec=changed) == LIMIT


def test_a_new_classbench_version_invalidates(prepared, tmp_path, monkeypatch):
    output = tmp_path / "p.parquet"
    run_job(prepared, output, monkeypatch)
    monkeypatch.setattr(job, "__version__", "999.0")
    assert run_job(prepared, output, monkeypatch) == LIMIT


def test_every_run_only_key_has_a_case():
    assert set(RUN_ONLY_VALUES) == set(RUN_ONLY_MODEL_KEYS)


@pytest.mark.parametrize("key", sorted(RUN_ONLY_VALUES))
def test_a_run_only_model_setting_reuses_the_answers(key, prepared, tmp_path, monkeypatch):
    output = tmp_path / "p.parquet"
    run_job(prepared, output, monkeypatch)
    changed = {**MODEL_SPEC, key: RUN_ONLY_VALUES[key]}
    assert run_job(prepared, output, monkeypatch, model_spec=changed) == 0


@pytest.mark.parametrize("key", sorted(SCORING_ONLY_TASK_KEYS))
def test_a_scoring_only_task_setting_reuses_the_answers(key, prepared, tmp_path, monkeypatch):
    output = tmp_path / "p.parquet"
    run_job(prepared, output, monkeypatch)
    changed = {**TASK, key: ["exact_match"] if key == "metrics" else "changed"}
    assert run_job(prepared, output, monkeypatch, task=changed) == 0


@pytest.mark.parametrize(("name", "value"), [("chunk_size", 1), ("image_workers", 3)])
def test_a_run_argument_reuses_the_answers(name, value, prepared, tmp_path, monkeypatch):
    output = tmp_path / "p.parquet"
    run_job(prepared, output, monkeypatch)
    assert run_job(prepared, output, monkeypatch, **{name: value}) == 0


MCQ = {"protocol": "mcq", "k": 4, "distractors": "random", "parser": "robust",
       "max_new_tokens": 6, "metrics": ["accuracy"]}  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [{"answer_mode": "constrained"}, {"follow_ups": ["Are you sure? Answer again."]}],
    ids=["answer_mode", "follow_ups"],
)
def test_a_task_setting_that_changes_answers_invalidates(change, prepared, tmp_path, monkeypatch):
    """The same first prompt answered another way (choices constrained, later turns) is another
    answer: nothing is reused."""
    monkeypatch.setattr(job, "answer_mode_problem", lambda task, spec: None)
    output = tmp_path / "p.parquet"
    assert run_job(prepared, output, monkeypatch, task=MCQ) == LIMIT
    assert run_job(prepared, output, monkeypatch, task=MCQ) == 0
    assert run_job(prepared, output, monkeypatch, task={**MCQ, **change}) == LIMIT


def test_the_fingerprint_ignores_key_order_and_hashes_any_value():
    """A setting written with its keys in another order is the same setting; a value JSON cannot
    write (a path) is hashed by its text. The key names a folder: 16 hex digits."""
    from pathlib import Path

    from classbench.inference.chunks import fingerprint

    key = fingerprint({"dtype": "float16", "max_pixels": 100}, 16)
    assert key == fingerprint({"max_pixels": 100, "dtype": "float16"}, 16)
    assert key != fingerprint({"max_pixels": 100, "dtype": "float32"}, 16)
    assert fingerprint({"path": Path("a/b")}) == fingerprint({"path": "a/b"})
    assert len(key) == 16 and int(key, 16) >= 0


def test_the_same_image_and_prompt_under_two_ids_are_two_questions():
    """An answer belongs to its sample id as well as its prompt and image bytes: a duplicate
    image asked under another id is still pending."""
    import pandas as pd

    from classbench.data.manifest import IMAGE_HASH_COLUMN
    from classbench.inference.chunks import pending_requests

    requests = pd.DataFrame(
        {"sample_id": ["s1", "s2"], "prompt": ["p", "p"], IMAGE_HASH_COLUMN: ["h", "h"]}
    )
    done = requests.iloc[:1].assign(error=[None])
    assert pending_requests(requests, done)["sample_id"].tolist() == ["s2"]


class Scorer(Fake):
    """A fake with log-likelihoods: the shorter a choice, the likelier."""

    def score_options(self, images, prompts, choices):
        return [[-float(len(choice)) for choice in sample] for sample in choices]


def test_another_loglik_target_invalidates(prepared, tmp_path, monkeypatch):
    """Scoring the option letters or the option texts under the same prompt are two answers:
    a log-likelihood task run again with the other target asks every sample again."""
    monkeypatch.setattr(job, "answer_mode_problem", lambda task, spec: None)
    loglik = {**MCQ, "answer_mode": "loglik", "loglik_target": "letter"}
    output = tmp_path / "p.parquet"

    def asked(task):
        return run_job(prepared, output, monkeypatch, task=task, backend=Scorer)

    assert asked(loglik) == LIMIT
    assert asked(loglik) == 0
    assert asked({**loglik, "loglik_target": "text"}) == LIMIT
    assert asked({**loglik, "loglik_target": "text"}) == 0
