"""Faults tried on purpose: flaky servers, bad images, bad model output, torn writes.

Each test injects a fault through the real code path and checks that nothing is lost: every
sample ends as an answer or as a recorded error, errors are never scored, and a re-run repairs
exactly what failed.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image
from serving import FaultProxy, transformers_serve

from classbench.backends.base import BackendError, Generation
from classbench.data import load_manifest, prepare_dataset
from classbench.inference.chunks import chunk_dir, read_chunks
from classbench.inference.job import evaluate
from classbench.io import read_metadata, read_parquet, write_parquet
from classbench.scoring.score import score_predictions
from classbench.summary.aggregate import build_summary

CLASSES = ["circle", "ring", "square", "triangle", "star", "cross"]
OPEN_TASK = {"protocol": "open", "prompt": "What type of object is in this photo?",
             "max_new_tokens": 6, "metrics": ["textual_inclusion", "exact_match"]}  # fmt: skip
MCQ_TASK = {"protocol": "mcq", "k": 4, "distractors": "random", "parser": "robust",
            "max_new_tokens": 6, "metrics": ["accuracy", "parse_failure"]}  # fmt: skip


def make_dataset(root: Path, per_class: int = 2) -> Path:
    spec = {
        "source": {"kind": "synthetic", "generator": "shapes", "images_per_class": per_class},
        "classes": CLASSES,
        "group": "synthetic",
    }
    prepare_dataset("shapes", spec, root)
    return root


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory) -> Path:
    from classbench.demo import build_tiny_model

    return build_tiny_model("qwen2_vl", tmp_path_factory.mktemp("qwen") / "model", seed=0)


def run(root: Path, out: Path, model_spec: dict, task: dict = OPEN_TASK, **kwargs) -> pd.DataFrame:
    return evaluate(
        dataset_root=root, dataset_name="shapes", dataset_spec={}, task_name="task", task=task,
        model_name="model", model_spec=model_spec, output=out, seed=1, chunk_size=4, **kwargs,
    )  # fmt: skip


# -- flaky servers -----------------------------------------------------------------------------


def _image_digest(body: bytes) -> str:
    request = json.loads(body)
    for part in request["messages"][-1]["content"]:
        if part.get("type") == "image_url":
            return hashlib.sha256(part["image_url"]["url"].encode()).hexdigest()
    return ""


@pytest.mark.slow  # starts a real `transformers serve`
def test_flaky_server_loses_nothing_and_rerun_sends_only_failures(tmp_path, tiny_qwen, monkeypatch):
    """A real `transformers serve` behind a proxy that injects 500, 503, 429 + Retry-After,
    timeouts and connections dropped mid-response; two images fail on every attempt."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-reliability-secret")
    root = make_dataset(tmp_path / "data")
    out = tmp_path / "predictions.parquet"
    with transformers_serve(tiny_qwen, tmp_path / "serve") as upstream:
        doomed: set[str] = set()
        transient = {0: "500", 1: "503", 2: "429", 3: "timeout", 4: "drop", 6: "500"}

        def fault(number: int, body: bytes) -> str | None:
            digest = _image_digest(body)
            if len(doomed) < 2 and number in (5, 7):
                doomed.add(digest)
            if digest in doomed:
                return "503"
            return transient.get(number)

        proxy = FaultProxy(upstream, fault, slow_s=2.5)
        spec = {"backend": "openai", "checkpoint": str(tiny_qwen), "base_url": proxy.url,
                "image_format": "png", "max_pixels": 12544, "concurrency": 2, "timeout_s": 2,
                "max_retries": 3, "backoff_s": 0.05, "max_backoff_s": 1.0,
                "send_extra_body": False}  # fmt: skip
        try:
            first = run(root, out, spec)
            assert len(first) == 12
            failed = first[first["error"].notna()]
            assert len(failed) == 2, first[["sample_id", "error"]]
            assert failed["error"].str.contains("503").all()
            assert failed["answer"].isna().all() and failed["raw"].isna().all()
            injected = [a for _, a in proxy.requests if a != "ok"]
            assert {"500", "503", "429", "timeout", "drop"} <= set(injected)

            # The server recovers: a re-run sends exactly the two failed samples again.
            doomed.clear()
            transient.clear()
            proxy.fault = lambda number, body: None
            before = len(proxy.requests)
            second = run(root, out, spec)
            assert len(proxy.requests) - before == 2
            assert second["error"].isna().all()
            meta = read_metadata(out)
            resume = meta["resume"]
            assert (resume["reused"], resume["computed"], resume["errors"]) == (10, 2, 0)
        finally:
            proxy.close()

    # The answers equal the in-process backend's for the same model and images.
    direct = run(root, tmp_path / "direct.parquet",
                 {"backend": "hf", "checkpoint": str(tiny_qwen), "max_pixels": 12544})  # fmt: skip
    assert second["raw"].tolist() == direct["raw"].tolist()
    assert "sk-reliability-secret" not in out.read_bytes().decode("latin-1")


# -- bad images --------------------------------------------------------------------------------


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def _save(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


BAD_IMAGES = {
    # name: (bytes, decodable)
    "truncated": (lambda good: good[: len(good) // 3], False),
    "zero_byte": (lambda good: b"", False),
    "not_an_image": (lambda good: b"this is a text file, not a picture\n", False),
    "bomb": (lambda good: _png_header_only(30000, 30000), False),
    "grayscale": (lambda good: _save(Image.open(io.BytesIO(good)).convert("L"), "PNG"), True),
    "cmyk": (lambda good: _save(Image.open(io.BytesIO(good)).convert("CMYK"), "JPEG"), True),
    "rgba": (lambda good: _save(Image.open(io.BytesIO(good)).convert("RGBA"), "PNG"), True),
    "palette_transparent": (
        lambda good: _save(Image.open(io.BytesIO(good)).convert("P"), "PNG", transparency=0),
        True,
    ),
    "sixteen_bit": (
        lambda good: _save(Image.fromarray(np.full((40, 30), 40000, np.uint16)), "PNG"),
        True,
    ),
    "exif_rotated": (lambda good: _exif_rotated(good), True),
    "one_pixel": (lambda good: _save(Image.new("RGB", (1, 1), "red"), "PNG"), True),
}


def _exif_rotated(good: bytes) -> bytes:
    image = Image.open(io.BytesIO(good)).convert("RGB").resize((60, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(image, "JPEG", exif=exif)


def test_bad_images_become_errors_or_conversions_and_are_counted(tmp_path, tiny_qwen):
    root = make_dataset(tmp_path / "data")
    manifest = load_manifest(root)
    victims = dict(zip(BAD_IMAGES, manifest["image"], strict=False))
    good = (root / manifest["image"].iloc[-1]).read_bytes()
    for name, relative in victims.items():
        (root / relative).write_bytes(BAD_IMAGES[name][0](good))
    spec = {"backend": "hf", "checkpoint": str(tiny_qwen), "max_pixels": 12544}
    predictions = run(root, tmp_path / "p.parquet", spec)
    by_image = dict(zip(manifest["image"], predictions["error"], strict=True))
    for name, relative in victims.items():
        decodable = BAD_IMAGES[name][1]
        error = by_image[relative]
        if decodable:
            assert error is None, (name, error)
        else:
            assert error is not None and error.startswith("image:"), (name, error)
    scores = score_predictions(predictions, OPEN_TASK)
    summary = build_summary(
        [{"scores": scores, "dataset": "shapes", "group": "g", "task": "t", "model": "m"}],
        n_resamples=50,
    )
    undecodable = sum(not decodable for _, decodable in BAD_IMAGES.values())
    assert (summary["n_invalid"] == undecodable).all()
    assert (summary["n"] == len(manifest) - undecodable).all()


# -- bad model output --------------------------------------------------------------------------


class ScriptedBackend:
    """Answers with scripted strings, whatever the image."""

    name = "scripted"

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.calls = 0

    def generate(self, images, prompts, *, max_new_tokens, choices=None):
        out = []
        for _ in prompts:
            out.append(Generation(text=self.answers[self.calls % len(self.answers)], tokens_in=1,
                                  tokens_out=1, latency_s=0.0))  # fmt: skip
            self.calls += 1
        return out

    def info(self):
        return {"backend": "scripted"}

    def close(self):
        pass


BAD_OUTPUTS = ["", "   \n\t ", "Z", "x" * 20000, "caf\udcff\ud800 broken", "B", "(A) circle",
               "\x00\x01 control", "A" * 5000, "answer: Q"]  # fmt: skip


@pytest.mark.parametrize("task", [OPEN_TASK, MCQ_TASK], ids=["open", "mcq"])
def test_bad_model_output_is_parsed_or_counted(tmp_path, monkeypatch, task):
    root = make_dataset(tmp_path / "data", per_class=2)
    backend = ScriptedBackend(BAD_OUTPUTS)
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: backend)
    predictions = run(root, tmp_path / "p.parquet", {"backend": "hf", "checkpoint": "x"}, task=task)
    assert predictions["error"].isna().all()
    assert len(predictions) == 12
    assert all("\udcff" not in (raw or "") for raw in predictions["raw"])
    scores = score_predictions(predictions, task)
    assert scores["valid"].all()
    if task is MCQ_TASK:
        failures = predictions["answer"].isna()
        # Empty, whitespace, "Z", the endless text and "answer: Q" name no option.
        assert failures.sum() >= 5
        assert (scores.loc[failures, "parse_failure"] == 1).all()
        assert (scores.loc[failures, "accuracy"] == 0).all()
    else:
        assert np.isfinite(scores["textual_inclusion"]).all()


# -- torn writes -------------------------------------------------------------------------------


def test_interrupted_write_leaves_no_output(tmp_path, monkeypatch):
    target = tmp_path / "scores.parquet"

    def explode(table, where, *args, **kwargs):
        Path(where).write_bytes(b"PAR1 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", explode)
    with pytest.raises(KeyboardInterrupt):
        write_parquet(pd.DataFrame({"a": [1]}), target)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_chunks_survive_a_torn_chunk_write(tmp_path):
    """A chunk file cut short by a kill is never read as finished samples."""
    out = tmp_path / "p.parquet"
    directory = chunk_dir(out, "key")
    directory.mkdir(parents=True)
    row = {"sample_id": ["a"], "prompt": ["p"], "raw": ["x"], "error": [None]}
    write_parquet(pd.DataFrame(row), directory / "chunk-1.parquet")
    # A temp file left by a killed writer is not a chunk.
    (directory / ".chunk-2.parquet.tmp").write_bytes(b"PAR1 torn")
    assert read_chunks(directory)["sample_id"].tolist() == ["a"]


# -- secrets -----------------------------------------------------------------------------------

API_KEY = "sk-classbench-SECRET-api-key-4242"
HUB_TOKEN = "hf_classbenchSECRETtoken4242"


def test_a_malformed_key_stops_the_job_once_before_any_request(tmp_path, monkeypatch):
    """A key with a stray carriage return is one configuration error for the whole job, not a
    connection error retried for every sample; nothing is written."""
    root = make_dataset(tmp_path / "data")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-reliability-secret\r")
    out = tmp_path / "p.parquet"
    spec = {"backend": "openai", "checkpoint": "m", "base_url": "http://127.0.0.1:9/v1",
            "max_retries": 3, "backoff_s": 1.0}  # fmt: skip
    with pytest.raises(BackendError, match=r"\$OPENAI_API_KEY cannot be sent") as caught:
        run(root, out, spec)
    assert "sk-reliability-secret" not in str(caught.value)
    assert not out.exists()


@pytest.mark.slow
def test_secrets_never_reach_any_output(tmp_path, monkeypatch):
    """A whole run (an HTTP model included) with an API key and a hub token in the environment
    writes neither into results/, logs/, benchmarks/, .snakemake/ or the report."""
    import yaml
    from workflow_helpers import make_workdir, snakemake, write_config

    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("HF_TOKEN", HUB_TOKEN)
    workdir = make_workdir(tmp_path / "run")
    snakemake(workdir, "resources/models/qwen2-vl-tiny")
    model_dir = workdir / "resources" / "models" / "qwen2-vl-tiny"
    with transformers_serve(model_dir, tmp_path / "serve") as url:
        registry = yaml.safe_load((workdir / "config" / "demo-models.yaml").read_text())
        registry["qwen2-vl-tiny-http"] = {
            "backend": "openai", "checkpoint": str(model_dir), "base_url": url,
            "image_format": "png", "max_pixels": registry["qwen2-vl-tiny"]["max_pixels"],
            "concurrency": 2, "send_extra_body": False, "resources": {"gpus": 0},
            "parity_of": "qwen2-vl-tiny",
        }  # fmt: skip
        (workdir / "config" / "demo-models.yaml").write_text(yaml.safe_dump(registry))
        configfile = write_config(
            workdir, "secrets.yaml",
            {"datasets": ["shapes"], "models": ["qwen2-vl-tiny", "qwen2-vl-tiny-http", "clip-tiny"],
             "tasks": ["owc-base", "mcq4", "zeroshot"],
             "limit": 12},
        )  # fmt: skip
        snakemake(workdir, configfile=configfile)
        snakemake(workdir, "--report", "results/report.html", configfile=configfile)

    http = read_parquet(workdir / "results/predictions/shapes/owc-base/qwen2-vl-tiny-http.parquet")
    local = read_parquet(workdir / "results/predictions/shapes/owc-base/qwen2-vl-tiny.parquet")
    assert http["error"].isna().all() and len(http) == 12
    assert http["sample_id"].tolist() == local["sample_id"].tolist()
    # The parity table compares the two backends of the same checkpoint. (Random tiny models
    # have near-tied logits, so long answers may drift between compute paths; the table is what
    # measures it.)
    parity = pd.read_csv(workdir / "results" / "tables" / "parity.csv")
    assert set(parity["task"]) == {"owc-base", "mcq4"}
    assert (parity["model"] == "qwen2-vl-tiny-http").all()
    assert (parity["reference"] == "qwen2-vl-tiny").all() and (parity["n"] == 12).all()
    assert parity["answer_agreement"].between(0, 1).all()
    assert parity["raw_agreement"].between(0, 1).all()
    leaks = []
    for folder in ("results", "logs", "benchmarks", ".snakemake"):
        for path in (workdir / folder).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                if API_KEY.encode() in data or HUB_TOKEN.encode() in data:
                    leaks.append(str(path.relative_to(workdir)))
    assert (workdir / "results" / "report.html").stat().st_size > 0
    assert leaks == []


# -- permissions -------------------------------------------------------------------------------


def test_written_files_keep_the_umask_permissions(tmp_path):
    """Under umask 022 results are readable by the group and others (0644), as any file the
    user writes; the temporary file must not make them private (0600)."""
    import os
    import stat

    from classbench.io import write_json, write_text

    previous = os.umask(0o022)
    try:
        written = [
            write_parquet(pd.DataFrame({"a": [1]}), tmp_path / "results" / "summary.parquet"),
            write_text("| a |\n", tmp_path / "results" / "tables" / "t.md"),
            write_json({"a": 1}, tmp_path / "results" / "meta.json"),
        ]
        os.umask(0o027)
        group_only = write_text("x", tmp_path / "results" / "group.txt")
    finally:
        os.umask(previous)
    assert [stat.S_IMODE(path.stat().st_mode) for path in written] == [0o644] * 3
    assert stat.S_IMODE(group_only.stat().st_mode) == 0o640
