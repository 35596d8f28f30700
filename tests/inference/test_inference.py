"""Resumable inference and the evaluation job, with a fake generative backend."""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from classbench.backends.base import BackendError, Generation
from classbench.data import load_manifest, prepare_dataset
from classbench.images import load_image
from classbench.inference.chunks import CHUNK_COLUMNS, chunk_dir, run_inference
from classbench.inference.job import (
    PREDICTION_COLUMNS,
    ModelFailedError,
    build_requests,
    evaluate,
    parse_answers,
)
from classbench.io import DamagedFileError, read_metadata, read_parquet

SHAPES = ["circle", "ring", "square", "triangle", "star", "cross"]
SPEC = {
    "source": {"kind": "synthetic", "generator": "shapes", "images_per_class": 3, "seed": 0,
               "size": 16},
    "classes": SHAPES,
    "group": "prototypical",
    "noun": "shape",
    "nouns": "shapes",
    "expected": {"classes": 6, "images": 18},
}  # fmt: skip
MODEL_SPEC = {"backend": "hf", "tiny": "qwen2_vl", "seed": 0, "batch_size": 8, "max_pixels": 144}


class Fake:
    """A generative backend that answers with the prompt and a digest of the image it got."""

    name = "fake"

    def __init__(
        self,
        *,
        stop_on_call: int | None = None,
        stop_with: type[BaseException] = KeyboardInterrupt,
        fail_prompts: frozenset[str] = frozenset(),
        broken: bool = False,
        reply: Callable[[str, str], str] | None = None,
    ):
        self.stop_on_call = stop_on_call
        self.stop_with = stop_with
        self.fail_prompts = fail_prompts
        self.broken = broken
        self.reply = reply or (lambda prompt, digest: f"{prompt}|{digest}")
        self.calls = 0
        self.prompts: list[str] = []
        self.sizes: set[tuple[int, int]] = set()
        self.choices: list = []
        self.budgets: list[int] = []
        self.closed = False

    def generate(self, images, prompts, *, max_new_tokens, choices=None):
        assert len(images) == len(prompts)
        self.calls += 1
        if self.calls == self.stop_on_call:
            raise self.stop_with()
        if self.broken:
            raise RuntimeError("CUDA out of memory")
        self.prompts.extend(prompts)
        self.choices.append(choices)
        self.budgets.append(max_new_tokens)
        out = []
        for image, prompt in zip(images, prompts, strict=True):
            self.sizes.add(image.size)
            if prompt in self.fail_prompts:
                out.append(Generation(text=None, error="TimeoutError: no answer"))
                continue
            text = self.reply(prompt, digest(image))
            out.append(Generation(text, tokens_in=len(prompt), tokens_out=2, latency_s=0.5))
        return out

    def info(self):
        return {"name": "fake", "checkpoint": "fake/model", "calls_at_start": self.calls}

    def close(self):
        self.closed = True


def digest(image) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()[:10]


def factory_of(backend: Fake) -> Callable[[], Fake]:
    made = []

    def make() -> Fake:
        made.append(backend)
        return backend

    make.made = made  # type: ignore[attr-defined]
    return make


def never() -> Fake:
    raise AssertionError("the backend must not be created when nothing is left to answer")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("datasets") / "shapes"
    prepare_dataset("shapes", SPEC, root)
    return root


@pytest.fixture
def dataset(prepared, tmp_path) -> Path:
    """A private copy of the prepared dataset (tests may damage it)."""
    return Path(shutil.copytree(prepared, tmp_path / "shapes"))


def make_requests(root: Path) -> pd.DataFrame:
    """One distinct prompt per sample, in reverse manifest order."""
    manifest = load_manifest(root).iloc[::-1].reset_index(drop=True)
    return pd.DataFrame(
        {
            "sample_id": manifest["sample_id"],
            "image": manifest["image"],
            "label": manifest["label"],
            "prompt": [f"What is {sid}?" for sid in manifest["sample_id"]],
            "options": [[label, "other"] for label in manifest["label"]],
        }
    )


def run(requests, factory, output, root, key="k1", **kwargs):
    settings = {"max_new_tokens": 8, "chunk_size": 4, "image_workers": 2, **kwargs}
    return run_inference(requests, factory, output, dataset_root=root, key=key, **settings)


def expected_raw(root: Path, requests: pd.DataFrame, max_pixels=None) -> list[str]:
    return [
        f"{prompt}|{digest(load_image(root / image, max_pixels))}"
        for prompt, image in zip(requests["prompt"], requests["image"], strict=True)
    ]


# --- run_inference ---------------------------------------------------------------------------


def test_every_request_is_answered_in_request_order(dataset, tmp_path):
    requests = make_requests(dataset)
    backend = Fake()
    rows, stats = run(requests, factory_of(backend), tmp_path / "out.parquet", dataset)
    assert list(rows.columns) == CHUNK_COLUMNS
    assert rows["sample_id"].tolist() == requests["sample_id"].tolist()
    assert rows["prompt"].tolist() == requests["prompt"].tolist()
    assert rows["raw"].tolist() == expected_raw(dataset, requests)  # each image with its prompt
    assert rows["error"].isna().all()
    assert rows["tokens_out"].tolist() == [2] * 18
    assert backend.prompts == requests["prompt"].tolist()
    assert backend.calls == 5  # 18 samples in chunks of 4
    assert backend.closed
    assert backend.choices == [None] * 5
    assert stats["computed"] == 18 and stats["reused"] == 0 and stats["errors"] == 0
    assert stats["backend_info"]["checkpoint"] == "fake/model"
    assert not (tmp_path / "out.parquet").exists()  # the declared output is the caller's


def test_pixel_budget_and_constrained_choices_reach_the_backend(dataset, tmp_path):
    requests = make_requests(dataset).iloc[:3]
    backend = Fake()
    rows, _ = run(
        requests, factory_of(backend), tmp_path / "out.parquet", dataset,
        max_pixels=64, constrained=True,
    )  # fmt: skip
    assert backend.sizes == {(8, 8)}
    assert backend.choices == [[list(o) for o in requests["options"]]]
    assert rows["raw"].tolist() == expected_raw(dataset, requests, max_pixels=64)


def test_second_call_with_the_same_key_computes_nothing(dataset, tmp_path):
    requests = make_requests(dataset)
    output = tmp_path / "out.parquet"
    first, _ = run(requests, factory_of(Fake()), output, dataset)
    again, stats = run(requests, never, output, dataset)
    pd.testing.assert_frame_equal(first, again)
    assert stats["computed"] == 0 and stats["reused"] == 18
    assert stats["backend_info"]["checkpoint"] == "fake/model"
    # A subset in another order is served from the same chunks.
    subset = requests.iloc[[7, 1, 12]]
    part, _ = run(subset, never, output, dataset)
    assert part["sample_id"].tolist() == subset["sample_id"].tolist()
    assert (
        part["raw"].tolist()
        == first.set_index("sample_id").loc[subset["sample_id"], "raw"].tolist()
    )


@pytest.mark.parametrize("stop_with", [KeyboardInterrupt, SystemExit])
def test_interrupted_run_resumes_with_the_remaining_samples(dataset, tmp_path, stop_with):
    requests = make_requests(dataset)
    output = tmp_path / "interrupted" / "out.parquet"
    with pytest.raises(stop_with):
        run(requests, factory_of(Fake(stop_on_call=3, stop_with=stop_with)), output, dataset)
    assert len(list(chunk_dir(output, "k1").glob("chunk-*.parquet"))) == 2
    assert not output.exists()

    resumed = Fake()
    rows, stats = run(requests, factory_of(resumed), output, dataset)
    assert stats["reused"] == 8 and stats["computed"] == 10
    assert resumed.prompts == requests["prompt"].tolist()[8:]

    reference, _ = run(requests, factory_of(Fake()), tmp_path / "whole" / "out.parquet", dataset)
    # Timings differ between runs; everything else must be identical.
    timing = ["wall_share_s"]
    pd.testing.assert_frame_equal(rows.drop(columns=timing), reference.drop(columns=timing))


def test_failed_samples_are_retried_and_successes_are_not(dataset, tmp_path):
    requests = make_requests(dataset)
    output = tmp_path / "out.parquet"
    failing = frozenset(requests["prompt"].iloc[[0, 5, 17]])
    rows, stats = run(requests, factory_of(Fake(fail_prompts=failing)), output, dataset)
    failed = rows["error"].notna()
    assert stats["errors"] == 3
    assert set(rows.loc[failed, "prompt"]) == failing
    assert rows.loc[failed, "raw"].isna().all()
    assert rows.loc[failed, "error"].str.startswith("TimeoutError").all()

    retry = Fake()
    rows, stats = run(requests, factory_of(retry), output, dataset)
    assert stats["computed"] == 3 and stats["reused"] == 15 and stats["errors"] == 0
    assert set(retry.prompts) == failing
    assert rows["raw"].tolist() == expected_raw(dataset, requests)
    assert run(requests, never, output, dataset)[1]["computed"] == 0


def test_a_changed_prompt_is_asked_again(dataset, tmp_path):
    requests = make_requests(dataset)
    output = tmp_path / "out.parquet"
    run(requests, factory_of(Fake()), output, dataset)
    changed = requests.copy()
    changed.loc[[2, 9], "prompt"] = ["New question 2?", "New question 9?"]
    backend = Fake()
    rows, stats = run(changed, factory_of(backend), output, dataset)
    assert stats["computed"] == 2
    assert backend.prompts == ["New question 2?", "New question 9?"]
    assert rows["prompt"].tolist() == changed["prompt"].tolist()
    assert rows["raw"].tolist() == expected_raw(dataset, changed)


def test_unreadable_image_is_a_per_sample_error(dataset, tmp_path):
    requests = make_requests(dataset)
    broken = requests["image"].iloc[6]
    (dataset / broken).write_bytes(b"\x89PNG\r\n\x1a\n garbage, not a picture")
    backend = Fake()
    rows, stats = run(requests, factory_of(backend), tmp_path / "out.parquet", dataset)
    bad = rows["sample_id"] == requests["sample_id"].iloc[6]
    assert rows.loc[bad, "error"].iloc[0].startswith("image:")
    assert rows.loc[bad, "raw"].isna().all()
    assert rows.loc[~bad, "error"].isna().all()
    assert stats["errors"] == 1
    assert requests["prompt"].iloc[6] not in backend.prompts
    assert len(backend.prompts) == 17
    # Still unreadable on the next run: only that sample is tried again.
    rows, stats = run(requests, factory_of(Fake()), tmp_path / "out.parquet", dataset)
    assert stats["computed"] == 1 and stats["errors"] == 1


def test_missing_image_is_a_per_sample_error(dataset, tmp_path):
    requests = make_requests(dataset)
    (dataset / requests["image"].iloc[0]).unlink()
    rows, _ = run(requests, factory_of(Fake()), tmp_path / "out.parquet", dataset)
    assert rows["error"].iloc[0].startswith("image:")
    assert rows["error"].iloc[1:].isna().all()


def test_a_different_key_discards_the_old_chunks(dataset, tmp_path):
    requests = make_requests(dataset)
    output = tmp_path / "out.parquet"
    run(requests, factory_of(Fake()), output, dataset, key="old")
    assert chunk_dir(output, "old").exists()
    backend = Fake()
    _, stats = run(requests, factory_of(backend), output, dataset, key="new")
    assert stats["computed"] == 18 and stats["reused"] == 0
    assert len(backend.prompts) == 18
    assert not chunk_dir(output, "old").exists()
    assert [p.name for p in chunk_dir(output, "new").parent.iterdir()] == ["new"]


def test_a_backend_that_raises_marks_the_batch_as_errors(dataset, tmp_path):
    requests = make_requests(dataset)
    backend = Fake(broken=True)
    rows, stats = run(requests, factory_of(backend), tmp_path / "out.parquet", dataset)
    assert len(rows) == 18
    assert (rows["error"] == "RuntimeError: CUDA out of memory").all()
    assert rows["raw"].isna().all()
    assert stats["errors"] == 18
    assert backend.calls == 5 and backend.closed
    # The next run retries all of them.
    rows, stats = run(requests, factory_of(Fake()), tmp_path / "out.parquet", dataset)
    assert stats["computed"] == 18 and stats["errors"] == 0


def test_a_damaged_chunk_is_quarantined_and_its_samples_asked_again(dataset, tmp_path, caplog):
    """A chunk cut short (a full disk, a copy interrupted) must not block every later run: it
    is renamed ``*.corrupt`` with a warning and only its samples are asked again."""
    requests = make_requests(dataset)
    output = tmp_path / "out.parquet"
    first, _ = run(requests, factory_of(Fake()), output, dataset)
    damaged = sorted(chunk_dir(output, "k1").glob("chunk-*.parquet"))[1]
    lost = read_parquet(damaged)["prompt"].tolist()
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])

    backend = Fake()
    with caplog.at_level(logging.WARNING, logger="classbench.inference.chunks"):
        rows, stats = run(requests, factory_of(backend), output, dataset)
    assert stats["computed"] == len(lost) == 4 and stats["reused"] == 14
    assert sorted(backend.prompts) == sorted(lost)
    timing = ["wall_share_s"]
    pd.testing.assert_frame_equal(rows.drop(columns=timing), first.drop(columns=timing))
    assert not damaged.exists()
    assert damaged.with_name(damaged.name + ".corrupt").exists()
    # The warning names the chunk, the parquet reader's own error (not the wrapper's advice to
    # delete the file, which does not apply to a chunk) and where the chunk went.
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    match = re.fullmatch(
        rf"chunk {re.escape(str(damaged))} is damaged \((.+)\); moved to "
        rf"{re.escape(damaged.name)}\.corrupt, its samples are asked again",
        warning,
    )
    assert match, warning
    assert match[1] != "None" and "delete it" not in match[1]
    assert run(requests, never, output, dataset)[1]["computed"] == 0


def test_a_changed_image_is_asked_again(dataset, tmp_path):
    """The same sample id and prompt with other image bytes is another question."""
    requests = make_requests(dataset).assign(image_sha256=[f"h{i}" for i in range(18)])
    output = tmp_path / "out.parquet"
    run(requests, factory_of(Fake()), output, dataset)
    changed = requests.copy()
    changed.loc[[4, 11], "image_sha256"] = ["new 4", "new 11"]
    backend = Fake()
    rows, stats = run(changed, factory_of(backend), output, dataset)
    assert stats["computed"] == 2 and stats["reused"] == 16
    assert backend.prompts == changed["prompt"].iloc[[4, 11]].tolist()
    assert rows["image_sha256"].tolist() == changed["image_sha256"].tolist()
    # Answers given before the hash was known are not taken for answers about these images.
    unhashed = tmp_path / "unhashed.parquet"
    run(requests.drop(columns="image_sha256"), factory_of(Fake()), unhashed, dataset)
    assert run(requests, factory_of(Fake()), unhashed, dataset)[1]["computed"] == 18


# --- evaluate --------------------------------------------------------------------------------


def test_evaluate_writes_predictions_with_metadata(prepared, tmp_path, monkeypatch):
    backend = Fake(reply=lambda prompt, digest: f"  a {digest}\n")
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: backend)
    output = tmp_path / "predictions" / "shapes" / "owc-base" / "fake.parquet"
    task = {"protocol": "open", "prompt": "What type of {noun} is in this photo?",
            "max_new_tokens": 64, "metrics": ["textual_inclusion"]}  # fmt: skip
    kwargs = {
        "dataset_root": prepared, "dataset_name": "shapes", "dataset_spec": SPEC,
        "task_name": "owc-base", "task": task, "model_name": "fake", "model_spec": MODEL_SPEC,
        "output": output, "seed": 1234, "limit": 12, "chunk_size": 5, "image_workers": 2,
    }  # fmt: skip
    returned = evaluate(**kwargs)
    frame = read_parquet(output)
    assert set(PREDICTION_COLUMNS) <= set(frame.columns)
    assert list(frame.columns[: len(PREDICTION_COLUMNS)]) == PREDICTION_COLUMNS
    assert len(frame) == 12
    assert frame["label"].value_counts().to_dict() == dict.fromkeys(SHAPES, 2)
    assert set(frame["prompt"]) == {"What type of shape is in this photo?"}
    assert frame["error"].isna().all()
    assert (frame["answer"] == frame["raw"].str.strip()).all()
    assert frame["answer"].str.match(r"^a [0-9a-f]{10}$").all()
    assert set(frame["parse_status"]) == {"text"}
    pd.testing.assert_frame_equal(frame, returned.reset_index(drop=True), check_dtype=False)

    meta = read_metadata(output)
    assert meta["backend"] == "hf"
    assert meta["model_spec"] == MODEL_SPEC
    assert meta["task_spec"] == task
    assert meta["seed"] == 1234
    assert (meta["dataset"], meta["task"], meta["model"]) == ("shapes", "owc-base", "fake")
    assert meta["samples"] == 12 and meta["errors"] == 0
    # Throughput comes from the job's own clock around the generate calls, not from the
    # backend's per-request latency (which overlaps for concurrent backends).
    shares = frame["wall_share_s"].astype(float)
    assert meta["throughput"]["images_per_s"] == pytest.approx(len(shares) / shares.sum())
    assert meta["throughput"]["tokens_out_mean"] == pytest.approx(2.0)
    assert {"versions", "git_commit", "python"} <= set(meta["provenance"])
    assert meta["provenance"]["versions"]["pandas"] == pd.__version__
    assert meta["backend_info"]["checkpoint"] == "fake/model"
    assert meta["resume"]["computed"] == 12

    # Run again: nothing is generated, the same predictions are written.
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: never())
    again = evaluate(**kwargs)
    pd.testing.assert_frame_equal(again, returned)
    assert read_metadata(output)["resume"] == {"reused": 12, "computed": 0, "wall_s": 0.0,
                                               "errors": 0}  # fmt: skip


def test_the_metadata_names_the_weights_the_sample_the_key_and_the_commit(
    prepared, tmp_path, monkeypatch
):
    """What a reader needs to tell two predictions files apart: the checkpoint and revision
    asked for, the image limit, the resume key (the chunk folder's name) and the commit of the
    workflow that ran; the model's own chunk size splits the job."""
    import subprocess

    workflow = tmp_path / "workflow"
    workflow.mkdir()
    git = ["git", "-C", str(workflow), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    backend = Fake()
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: backend)
    spec = {**MODEL_SPEC, "checkpoint": "org/tiny-vlm", "revision": "0123abcd", "chunk_size": 2}
    output = tmp_path / "p.parquet"
    task = {"protocol": "open", "prompt": "What is this?", "max_new_tokens": 8,
            "metrics": ["exact_match"]}  # fmt: skip
    evaluate(
        dataset_root=prepared, dataset_name="shapes", dataset_spec=SPEC, task_name="owc",
        task=task, model_name="fake", model_spec=spec, output=output, seed=0, limit=6,
        workflow_dir=workflow,
    )  # fmt: skip
    meta = read_metadata(output)
    assert (meta["checkpoint"], meta["revision"], meta["limit"]) == ("org/tiny-vlm", "0123abcd", 6)
    assert chunk_dir(output, meta["checkpoint_key"]).is_dir()
    assert meta["provenance"]["git_commit"] == commit
    assert backend.calls == 3  # six images in chunks of two


class FailsEachDifferently(Fake):
    """Every sample fails with its own long, multi-line error."""

    def generate(self, images, prompts, *, max_new_tokens, choices=None):
        self.calls += 1
        start = len(self.prompts)
        self.prompts.extend(prompts)
        return [
            Generation(text=None, error=f"ValueError: sample {start + i}\n" + "x" * 400)
            for i in range(len(prompts))
        ]


def test_a_failed_job_names_its_first_error_on_one_line(prepared, tmp_path, monkeypatch):
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda s: FailsEachDifferently())
    task = {"protocol": "open", "prompt": "What is this?", "max_new_tokens": 8,
            "metrics": ["exact_match"]}  # fmt: skip
    with pytest.raises(ModelFailedError) as caught:
        evaluate(
            dataset_root=prepared, dataset_name="shapes", dataset_spec=SPEC, task_name="owc",
            task=task, model_name="fake", model_spec=MODEL_SPEC, output=tmp_path / "p.parquet",
            seed=0, limit=6, chunk_size=6, image_workers=1,
        )  # fmt: skip
    first = ("ValueError: sample 0 " + "x" * 400)[:300]
    assert str(caught.value) == (
        f"model 'fake' answered none of the 6 samples of shapes/owc (first error: {first}); no "
        "predictions written, the errors are kept in its chunks and a re-run asks again"
    )


def test_evaluate_multiple_choice_parses_letters_and_keeps_errors_unparsed(
    prepared, tmp_path, monkeypatch
):
    task = {"protocol": "mcq", "k": 4, "distractors": "random", "parser": "robust",
            "max_new_tokens": 10, "metrics": ["accuracy"]}  # fmt: skip

    def reply(prompt, digest):
        return "(B)"

    backend = Fake(reply=reply)
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: backend)
    output = tmp_path / "mcq.parquet"
    first = evaluate(
        dataset_root=prepared, dataset_name="shapes", dataset_spec=SPEC, task_name="mcq4r",
        task=task, model_name="fake", model_spec=MODEL_SPEC, output=output, seed=7,
    )  # fmt: skip
    assert len(first) == 18
    for options, answer, label in zip(
        first["options"], first["answer"], first["label"], strict=True
    ):
        assert len(options) == 4 and list(options).count(label) == 1
        assert answer == options[1]
    assert set(first["answer_letter"]) == {"B"}
    assert set(first["parse_status"]) == {"letter"}

    # A failed request is data: it keeps its error and is never parsed into an answer.
    failing = frozenset([first["prompt"].iloc[3]])
    other = tmp_path / "mcq-errors.parquet"
    monkeypatch.setattr(
        "classbench.inference.job.load_backend",
        lambda spec: Fake(reply=reply, fail_prompts=failing),
    )
    rows = evaluate(
        dataset_root=prepared, dataset_name="shapes", dataset_spec=SPEC, task_name="mcq4r",
        task=task, model_name="fake", model_spec=MODEL_SPEC, output=other, seed=7,
    )  # fmt: skip
    errors = rows["error"].notna()
    assert errors.sum() == 1
    assert rows.loc[errors, "answer"].isna().all()
    assert set(rows.loc[errors, "parse_status"]) == {"error"}
    assert read_metadata(other)["errors"] == 1
    assert rows["prompt"].tolist() == first["prompt"].tolist()  # same seed, same prompts


def _answer_rows(*rows: tuple[str, str | None, str | None]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["sample_id", "raw", "error"])


def test_answers_are_parsed_in_request_order_with_errors_unparsed():
    requests = pd.DataFrame(
        {"sample_id": ["a", "b", "c"], "label": ["dog", "cat", "cow"], "options": [None] * 3}
    )
    rows = _answer_rows(("c", " a cow ", None), ("a", None, "TimeoutError"), ("b", "", None))
    parsed = parse_answers(rows, requests, {"protocol": "open"})
    assert parsed["sample_id"].tolist() == ["a", "b", "c"]
    assert pd.isna(parsed["answer"].iloc[0]) and parsed["answer"].tolist()[1:] == ["", "a cow"]
    assert parsed["parse_status"].tolist() == ["error", "empty", "text"]
    assert parsed["answer_mode"].tolist() == ["generate"] * 3


def test_a_set_of_errors_parses_to_no_answers():
    requests = pd.DataFrame({"sample_id": ["a"], "label": ["dog"], "options": [["cat", "dog"]]})
    parsed = parse_answers(_answer_rows(("a", None, "HTTP 503")), requests, {"protocol": "labels"})
    assert parsed["answer"].isna().all() and parsed["parse_status"].tolist() == ["error"]


def test_a_request_without_its_answer_row_or_with_two_is_refused():
    """Every request has exactly one row, its error at worst: a lost or doubled row would put
    an answer on the wrong sample or score a request that was never answered."""
    requests = pd.DataFrame(
        {"sample_id": ["a", "b"], "label": ["dog", "cat"], "options": [None] * 2}
    )
    with pytest.raises(ValueError, match=r"no answer row for 1 request\(s\): \['b'\]$"):
        parse_answers(_answer_rows(("a", "dog", None)), requests, {"protocol": "open"})
    many = pd.DataFrame({"sample_id": list("abcdefg"), "label": ["dog"] * 7, "options": [None] * 7})
    # The message names the first five.
    with pytest.raises(ValueError, match=r"for 6 request\(s\): \['b', 'c', 'd', 'e', 'f'\]$"):
        parse_answers(_answer_rows(("a", "dog", None)), many, {"protocol": "open"})
    doubled = _answer_rows(("a", "dog", None), ("b", "cat", None), ("b", "cow", None))
    with pytest.raises(pd.errors.MergeError, match="one-to-one"):
        parse_answers(doubled, requests, {"protocol": "open"})


def test_a_loglik_answer_is_read_as_its_likeliest_option():
    requests = pd.DataFrame(
        {"sample_id": ["a", "b"], "label": ["dog", "cat"], "options": [["cat", "dog"]] * 2}
    )
    rows = _answer_rows(
        ("a", '{"cat": -3.0, "dog": -1.0}', None), ("b", '{"cat": -1.0, "dog": -1.0}', None)
    )
    task = {"protocol": "labels", "answer_mode": "loglik"}
    parsed = parse_answers(rows, requests, task)
    assert parsed["answer"].tolist() == ["dog", "cat"]  # the first on a tie
    assert parsed["parse_status"].tolist() == ["exact", "exact"]
    assert parsed["answer_mode"].tolist() == ["loglik", "loglik"]


class Unconstrained(Fake):
    """A vLLM-like backend without a structured-choice API."""

    choice_api = None


def test_constrained_answers_need_a_backend_that_can_constrain(prepared, tmp_path, monkeypatch):
    """A backend with no choice constraint would answer freely and be scored as constrained:
    the job refuses it, and only for that answer mode."""
    monkeypatch.setattr("classbench.inference.job.answer_mode_problem", lambda task, spec: None)
    backend = Unconstrained()
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: backend)
    task = {"protocol": "mcq", "k": 4, "distractors": "random", "max_new_tokens": 4,
            "metrics": ["accuracy"], "answer_mode": "constrained"}  # fmt: skip
    settings = {
        "dataset_root": prepared, "dataset_name": "shapes", "dataset_spec": SPEC,
        "task_name": "mcq4", "model_name": "m", "model_spec": MODEL_SPEC, "seed": 0, "limit": 6,
    }  # fmt: skip
    refusal = "answer_mode 'constrained': this vLLM has no choice constraint"
    with pytest.raises(BackendError, match=f"^{refusal}$"):
        evaluate(task=task, output=tmp_path / "constrained.parquet", **settings)
    assert backend.closed and backend.calls == 0
    answered = evaluate(
        task={**task, "answer_mode": "generate"}, output=tmp_path / "free.parquet", **settings
    )
    assert len(answered) == 6 and answered["error"].isna().all()


def test_a_job_asks_the_mined_options_of_its_limited_sample(prepared, tmp_path, monkeypatch):
    """The job's questions are the task's requests for this dataset: its seeded limit, its
    options file and its presentation order, as build_requests makes them."""
    manifest = load_manifest(prepared)
    mined = pd.DataFrame(
        {
            "sample_id": manifest["sample_id"],
            # The ground truth first, then the classes after it, as a miner would list them.
            "options": [SHAPES[i:] + SHAPES[:i] for i in manifest["label_idx"]],
        }
    )
    options_path = tmp_path / "options.parquet"
    mined.to_parquet(options_path)
    task = {"protocol": "mcq", "k": 4, "distractors": "mined", "max_new_tokens": 4,
            "metrics": ["accuracy"]}  # fmt: skip
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: Fake())
    predictions = evaluate(
        dataset_root=prepared, dataset_name="shapes", dataset_spec=SPEC, task_name="mcq4",
        task=task, model_name="m", model_spec=MODEL_SPEC, output=tmp_path / "p.parquet",
        seed=3, limit=6, options_path=options_path,
    )  # fmt: skip
    expected = build_requests(
        prepared, "shapes", SPEC, task, seed=3, limit=6, options_path=options_path
    )
    assert predictions["sample_id"].tolist() == expected["sample_id"].tolist()
    assert predictions["prompt"].tolist() == expected["prompt"].tolist()
    for shown, label in zip(predictions["options"], predictions["label"], strict=True):
        first = SHAPES.index(label)
        assert sorted(shown) == sorted((SHAPES[first:] + SHAPES[:first])[:4])
    # The option order is seeded by the dataset's name too.
    orders = [
        build_requests(prepared, name, SPEC, task, seed=3, options_path=options_path)["options"]
        for name in ("shapes", "shapes-2")
    ]
    assert [list(o) for o in orders[0]] != [list(o) for o in orders[1]]


def test_answer_to_an_old_prompt_is_never_reused(tmp_path):
    """A changed prompt whose new attempt fails must not fall back to the old prompt's answer."""

    class Answers:
        name = "fake"

        def __init__(self, fail: bool) -> None:
            self.fail = fail

        def generate(self, images, prompts, *, max_new_tokens, choices=None):
            if self.fail:
                return [Generation(text=None, error="Boom: down") for _ in prompts]
            return [Generation(text=f"answer to {p}") for p in prompts]

        def info(self):
            return {}

        def close(self):
            pass

    spec = {
        "source": {"kind": "synthetic", "generator": "shapes", "images_per_class": 1},
        "classes": ["circle", "ring"],
        "group": "synthetic",
    }
    root = tmp_path / "data"
    prepare_dataset("d", spec, root)
    manifest = load_manifest(root)
    out = tmp_path / "p.parquet"

    def requests(prompt: str) -> pd.DataFrame:
        return manifest.assign(prompt=prompt, options=None)

    run_inference(requests("OLD"), lambda: Answers(False), out, dataset_root=root, key="k",
                  max_new_tokens=4)  # fmt: skip
    rows, stats = run_inference(requests("NEW"), lambda: Answers(True), out, dataset_root=root,
                                key="k", max_new_tokens=4)  # fmt: skip
    assert rows["prompt"].eq("NEW").all()
    assert rows["error"].notna().all() and rows["raw"].isna().all()
    assert stats["errors"] == len(manifest)


def test_a_damaged_predictions_file_is_named_and_rebuilt_from_its_chunks(
    prepared, tmp_path, monkeypatch
):
    """A finished predictions file cut short stops the rule that reads it with one error naming
    the file and the repair; the repair rebuilds it from the chunks without asking the model."""
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: Fake())
    output = tmp_path / "predictions" / "shapes" / "owc-base" / "fake.parquet"
    task = {"protocol": "open", "prompt": "What is this?", "max_new_tokens": 8,
            "metrics": ["exact_match"]}  # fmt: skip
    kwargs = {
        "dataset_root": prepared, "dataset_name": "shapes", "dataset_spec": SPEC,
        "task_name": "owc-base", "task": task, "model_name": "fake", "model_spec": MODEL_SPEC,
        "output": output, "seed": 1, "chunk_size": 5, "image_workers": 2,
    }  # fmt: skip
    first = evaluate(**kwargs)
    output.write_bytes(output.read_bytes()[: output.stat().st_size // 2])
    for reader in (read_parquet, read_metadata):
        with pytest.raises(DamagedFileError) as caught:
            reader(output)
        message = str(caught.value)
        assert str(output) in message and "delete it" in message
        assert f"{output.name}.chunks" in message

    output.unlink()
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: never())
    rebuilt = evaluate(**kwargs)
    assert read_metadata(output)["resume"]["computed"] == 0
    pd.testing.assert_frame_equal(rebuilt, first)


def test_re_prepared_images_are_asked_again(dataset, tmp_path, monkeypatch):
    """Re-preparing a dataset with another seed keeps every sample id and prompt but changes
    every image: no old answer may be reused (the chunk key alone would reuse all 18)."""
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: Fake())
    output = tmp_path / "predictions" / "fake.parquet"
    task = {"protocol": "open", "prompt": "What is this?", "max_new_tokens": 8,
            "metrics": ["exact_match"]}  # fmt: skip
    kwargs = {
        "dataset_root": dataset, "dataset_name": "shapes", "dataset_spec": SPEC,
        "task_name": "owc-base", "task": task, "model_name": "fake", "model_spec": MODEL_SPEC,
        "output": output, "seed": 1, "chunk_size": 5, "image_workers": 2,
    }  # fmt: skip
    before = evaluate(**kwargs)
    reseeded = {**SPEC, "source": {**SPEC["source"], "seed": 1}}
    prepare_dataset("shapes", reseeded, dataset)
    after = evaluate(**kwargs)
    assert read_metadata(output)["resume"] == {"reused": 0, "computed": 18, "wall_s": pytest.approx(
        read_metadata(output)["resume"]["wall_s"]), "errors": 0}  # fmt: skip
    assert after["sample_id"].tolist() == before["sample_id"].tolist()
    manifest = load_manifest(dataset).set_index("sample_id")
    images = manifest.loc[after["sample_id"], "image"]
    assert after["raw"].tolist() == [
        f"What is this?|{digest(load_image(dataset / i, MODEL_SPEC['max_pixels']))}" for i in images
    ]
    assert (
        after["image_sha256"].tolist() == manifest.loc[after["sample_id"], "image_sha256"].tolist()
    )
    assert not set(after["raw"]) & set(before["raw"])


def test_a_manifest_without_image_hashes_still_resumes(dataset, tmp_path, monkeypatch):
    """Datasets prepared before the manifest held image hashes keep working and resuming."""
    from classbench.io import write_parquet

    manifest = load_manifest(dataset)
    write_parquet(manifest.drop(columns="image_sha256"), dataset / "manifest.parquet")
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: Fake())
    kwargs = {
        "dataset_root": dataset, "dataset_name": "shapes", "dataset_spec": SPEC,
        "task_name": "owc-base", "task": {"protocol": "open", "prompt": "What?",
                                          "max_new_tokens": 8, "metrics": ["exact_match"]},
        "model_name": "fake", "model_spec": MODEL_SPEC, "output": tmp_path / "p.parquet",
        "seed": 1, "chunk_size": 5, "image_workers": 2,
    }  # fmt: skip
    first = evaluate(**kwargs)
    assert first["error"].isna().all() and len(first) == 18
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: never())
    pd.testing.assert_frame_equal(evaluate(**kwargs), first)


def test_a_model_that_answers_nothing_fails_its_job_and_keeps_its_chunks(
    prepared, tmp_path, monkeypatch
):
    """A server down for the whole run is not a finished job: it fails with one line naming
    the model, writes no predictions file, and the re-run (or Slurm retry) asks again."""
    down = Fake(broken=True)
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: down)
    output = tmp_path / "predictions" / "shapes" / "owc-base" / "fake.parquet"
    task = {"protocol": "open", "prompt": "What is this?", "max_new_tokens": 8,
            "metrics": ["exact_match"]}  # fmt: skip
    kwargs = {
        "dataset_root": prepared, "dataset_name": "shapes", "dataset_spec": SPEC,
        "task_name": "owc-base", "task": task, "model_name": "fake", "model_spec": MODEL_SPEC,
        "output": output, "seed": 1, "chunk_size": 5, "image_workers": 2,
    }  # fmt: skip
    with pytest.raises(ModelFailedError) as caught:
        evaluate(**kwargs)
    message = str(caught.value)
    assert "\n" not in message
    assert "'fake'" in message and "shapes/owc-base" in message and "18" in message
    assert "RuntimeError: CUDA out of memory" in message
    assert not output.exists()
    chunks = list(output.parent.glob(f"{output.name}.chunks/*/chunk-*.parquet"))
    saved = pd.concat([read_parquet(path) for path in chunks])
    assert len(saved) == 18 and saved["error"].notna().all()

    back = Fake()
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: back)
    rows = evaluate(**kwargs)
    assert len(back.prompts) == 18 and rows["error"].isna().all()
    assert read_metadata(output)["resume"]["computed"] == 18


def test_a_sample_is_asked_alone_and_a_shuffled_order_changes_only_the_batches(
    prepared, tmp_path, monkeypatch
):
    seen: list[str] = []
    backend = Fake(reply=lambda prompt, digest: seen.append(digest) or digest)
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: backend)
    task = {"protocol": "open", "prompt": "What is this?", "max_new_tokens": 8,
            "metrics": ["textual_inclusion"]}  # fmt: skip
    sample = load_manifest(prepared)["sample_id"].iloc[[1, 4, 7, 10, 13]].tolist()
    kwargs = {
        "dataset_root": prepared, "dataset_name": "shapes", "dataset_spec": SPEC,
        "task_name": "owc-base", "task": task, "model_name": "fake", "seed": 1,
        "chunk_size": 2, "image_workers": 1, "sample_ids": sample,
    }  # fmt: skip
    in_order = evaluate(**kwargs, model_spec=MODEL_SPEC, output=tmp_path / "sorted.parquet")
    asked_in_order = list(seen)
    shuffled = {**MODEL_SPEC, "batch_order": "shuffled"}
    reordered = evaluate(**kwargs, model_spec=shuffled, output=tmp_path / "shuffled.parquet")
    asked_shuffled = seen[len(asked_in_order) :]
    # only the sample is asked, and both files list it in the dataset's order
    assert in_order["sample_id"].tolist() == sample == reordered["sample_id"].tolist()
    assert in_order["raw"].tolist() == asked_in_order
    assert reordered["raw"].tolist() == in_order["raw"].tolist()
    # the shuffled run asked the same images in another order, so other images share a chunk
    assert sorted(asked_shuffled) == sorted(asked_in_order)
    assert asked_shuffled != asked_in_order


def test_a_shuffled_order_is_seeded_by_the_seed_the_dataset_and_the_task(
    prepared, tmp_path, monkeypatch
):
    """The same job shuffles the same way on every run; another task or dataset name (or
    seed) shuffles another way, so two jobs do not share their batches by construction."""
    seen: list[str] = []
    backend = Fake(reply=lambda prompt, digest: seen.append(digest) or digest)
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: backend)
    task = {"protocol": "open", "prompt": "What is this?", "max_new_tokens": 8,
            "metrics": ["textual_inclusion"]}  # fmt: skip
    shuffled = {**MODEL_SPEC, "batch_order": "shuffled"}

    def asked_order(**names):
        settings = {"dataset_name": "shapes", "task_name": "owc", "seed": 1, **names}
        start = len(seen)
        evaluate(
            dataset_root=prepared, dataset_spec=SPEC, task=task, model_name="fake",
            model_spec=shuffled, output=tmp_path / f"{len(seen)}.parquet", image_workers=1,
            **settings,
        )  # fmt: skip
        return seen[start:]

    first = asked_order()
    assert asked_order() == first
    for other in ({"task_name": "owc-2"}, {"dataset_name": "shapes-2"}, {"seed": 2}):
        again = asked_order(**other)
        assert sorted(again) == sorted(first) and again != first, other


def test_the_task_budget_of_new_tokens_reaches_the_backend(prepared, tmp_path, monkeypatch):
    backend = Fake()
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: backend)
    task = {"protocol": "open", "prompt": "What is this?", "max_new_tokens": 24,
            "metrics": ["textual_inclusion"]}  # fmt: skip
    evaluate(
        dataset_root=prepared, dataset_name="shapes", dataset_spec=SPEC, task_name="owc",
        task=task, model_name="fake", model_spec=MODEL_SPEC, output=tmp_path / "p.parquet",
        seed=0, limit=6, chunk_size=2,
    )  # fmt: skip
    assert backend.budgets == [24, 24, 24]
