"""``classbench import-lmms-eval``: an lmms-eval / lmms-owc samples log as a predictions file.

Every record ends as an answer, as a recorded error, or refused by name: nothing foreign is
imported as the study's data, nothing is dropped silently, and the import follows the study's
sample selection.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from classbench.cli import main as cli_main
from classbench.data import load_manifest, prepare_dataset, stratified_limit
from classbench.inference.job import PREDICTION_COLUMNS, build_requests
from classbench.io import read_metadata, read_parquet
from classbench.scoring.score import score_predictions

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "workflow" / "schemas"
SHAPES_SPEC = {
    "source": {"kind": "synthetic", "generator": "shapes", "images_per_class": 2, "seed": 0,
               "size": 16},
    "classes": ["circle", "ring", "square", "triangle", "star", "cross"],
    "group": "prototypical",
    "noun": "shape",
    "nouns": "shapes",
    "expected": {"classes": 6, "images": 12},
}  # fmt: skip
QUESTION = "What type of object is in this photo?"


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("datasets") / "shapes"
    prepare_dataset("shapes", SHAPES_SPEC, root)
    return root


def owc_record(doc_id: int | None, image: str, label: str, answer: str | None) -> dict:
    """One record as lmms-owc logs it, the image path as it was on the machine that ran it."""
    visual = f"/scratch/someone/data/shapes/{image}"
    record = {
        "doc": {"visual": visual, "target": label},
        "target": label,
        "arguments": {"0": QUESTION},
        "resps": [["ignored"]],
        "filtered_resps": ["first", answer] if answer is not None else [],
        "doc_hash": hashlib.sha256(visual.encode()).hexdigest(),
        "input": QUESTION,
        "textual_inclusion": 0.0,
    }
    if doc_id is not None:
        record["doc_id"] = doc_id
    return record


def owc_records(manifest: pd.DataFrame) -> list[dict]:
    """A record for every sample; every other answer names the label."""
    return [
        owc_record(i, image, label, f"This is a {label}." if i % 2 == 0 else "A drawing.")
        for i, (image, label) in enumerate(zip(manifest["image"], manifest["label"], strict=True))
    ]


def write_samples(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def study_config(tmp_path: Path, **settings) -> Path:
    config = {"datasets": ["shapes"], "models": ["qwen2-vl-tiny"], "tasks": ["owc-base"],
              "seed": 1234, **settings}  # fmt: skip
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_import(shapes: Path, tmp_path: Path, samples: Path, *extra: str, task="owc-base",
               config: Path | None = None) -> tuple[int, Path]:  # fmt: skip
    out = tmp_path / "results" / "predictions" / "shapes" / task / "external.parquet"
    status = cli_main(
        [
            "import-lmms-eval", "--samples", str(samples), "--dataset", "shapes",
            "--task", task, "--model", "external", "--dataset-root", str(shapes),
            "--out", str(out), "--tasks", str(REPO / "config" / "tasks.yaml"),
            "--schemas", str(SCHEMAS), "--config", str(config or study_config(tmp_path)),
            *extra,
        ]
    )  # fmt: skip
    return status, out


def test_records_are_matched_to_the_manifest(shapes, tmp_path, capsys):
    manifest = load_manifest(shapes)
    samples = write_samples(tmp_path / "20250101_000000_samples_shapes.jsonl",
                            owc_records(manifest))  # fmt: skip
    status, out = run_import(shapes, tmp_path, samples)
    printed = capsys.readouterr().out
    assert status == 0
    assert "12 samples written" in printed and "answered: 12" in printed
    frame = read_parquet(out)
    assert list(frame.columns[: len(PREDICTION_COLUMNS)]) == PREDICTION_COLUMNS
    assert frame["sample_id"].tolist() == manifest["sample_id"].tolist()
    assert frame["label"].tolist() == manifest["label"].tolist()
    assert frame["raw"].iloc[0] == f"This is a {manifest['label'].iloc[0]}."
    assert (frame["answer"] == frame["raw"].str.strip()).all()
    assert frame["error"].isna().all() and set(frame["prompt"]) == {QUESTION}
    meta = read_metadata(out)
    assert meta["imported"]["sha256"] == hashlib.sha256(samples.read_bytes()).hexdigest()
    assert meta["backend"] == "imported" and meta["errors"] == 0
    assert (meta["seed"], meta["limit"]) == (1234, None)
    scores = score_predictions(
        frame, {"metrics": ["textual_inclusion", "exact_match"], "protocol": "open"}
    )
    assert scores["textual_inclusion"].tolist()[:4] == [1.0, 0.0, 1.0, 0.0]


def _strangers(manifest: pd.DataFrame) -> list[dict]:
    records = owc_records(manifest)
    records[11].pop("doc_id")  # line 12
    records.append(owc_record(999, "elsewhere/unknown.png", "star", "a star"))  # line 13
    return records


def test_strangers_and_records_without_a_doc_id_are_refused_by_name(shapes, tmp_path, capsys):
    """Before: the foreign record was imported under sample id "999" with its own label, and
    the one without a doc id was dropped; the command said "13 samples imported", exit 0."""
    samples = write_samples(tmp_path / "s.jsonl", _strangers(load_manifest(shapes)))
    status, out = run_import(shapes, tmp_path, samples)
    error = capsys.readouterr().err
    assert status != 0 and not out.exists()
    assert "line 13 (doc_id 999)" in error and "matches no sample" in error
    assert "line 12" in error and "no doc_id" in error
    assert "--allow-unmatched" in error and "Traceback" not in error


def test_allow_unmatched_keeps_them_flagged_invalid(shapes, tmp_path, capsys):
    manifest = load_manifest(shapes)
    samples = write_samples(tmp_path / "s.jsonl", _strangers(manifest))
    status, out = run_import(shapes, tmp_path, samples, "--allow-unmatched")
    printed = capsys.readouterr().out
    assert status == 0
    frame = read_parquet(out)
    assert len(frame) == 13
    assert frame["sample_id"].tolist()[:12] == manifest["sample_id"].tolist()
    assert frame["error"].iloc[11].startswith("import: no doc_id")
    stranger = frame.iloc[12]
    assert stranger["sample_id"] == "unmatched:999" and stranger["label"] == "star"
    assert stranger["error"].startswith("import: matches no sample")
    assert frame["answer"].iloc[11:].isna().all()
    assert set(frame["parse_status"].iloc[11:]) == {"error"}
    assert "invalid, matching no sample (--allow-unmatched): 1" in printed
    assert "invalid, no doc_id (--allow-unmatched): 1" in printed
    meta = read_metadata(out)
    assert meta["errors"] == 2 and meta["imported"]["unmatched"] == 1
    scores = score_predictions(frame, {"metrics": ["exact_match"], "protocol": "open"})
    assert scores["valid"].tolist() == [True] * 11 + [False, False]


def test_records_without_a_response_are_invalid_not_wrong(shapes, tmp_path, capsys):
    manifest = load_manifest(shapes)
    records = owc_records(manifest)
    records[2].update(filtered_resps=[], resps=[[]])  # the request was sent, nothing came back
    records[5].pop("filtered_resps")
    records[5].pop("resps")
    status, out = run_import(shapes, tmp_path, write_samples(tmp_path / "s.jsonl", records))
    assert status == 0
    assert "invalid, no response: 2" in capsys.readouterr().out
    frame = read_parquet(out)
    silent = frame["sample_id"].isin(manifest["sample_id"].iloc[[2, 5]])
    assert frame.loc[silent, "error"].str.contains("no response").all()
    assert frame.loc[~silent, "error"].isna().all()
    assert set(frame.loc[silent, "parse_status"]) == {"error"}
    scores = score_predictions(frame, {"metrics": ["exact_match"], "protocol": "open"})
    assert scores.loc[silent.to_numpy(), "exact_match"].isna().all()  # not a wrong answer
    assert read_metadata(out)["errors"] == 2


@pytest.mark.parametrize("line", ["[1, 2]", "{not json", '"text"'])
def test_a_malformed_line_is_reported_by_number(shapes, tmp_path, capsys, line):
    records = [json.dumps(r) for r in owc_records(load_manifest(shapes))]
    records[2] = line
    samples = tmp_path / "s.jsonl"
    samples.write_text("\n".join(records) + "\n")
    status, out = run_import(shapes, tmp_path, samples)
    error = capsys.readouterr().err
    assert status == 2 and not out.exists()
    assert f"{samples}:3: not a JSON object" in error and "Traceback" not in error


def test_import_follows_the_study_sample_selection(shapes, tmp_path, capsys):
    """The study's stratified limit selects the samples, as for its own inference: records
    outside the selection are left out and counted, a selected sample with no record is
    recorded as invalid, so every model of the summary is measured on the same samples."""
    manifest = load_manifest(shapes)
    config = study_config(tmp_path, limit=100, dataset_limits={"shapes": 6})
    selected = stratified_limit(manifest, 6, 1234, "shapes")["sample_id"].tolist()
    requests = build_requests(shapes, "shapes", SHAPES_SPEC, {"protocol": "open",
                              "prompt": QUESTION}, seed=1234, limit=6)  # fmt: skip
    assert requests["sample_id"].tolist() == selected
    records = [r for r, sid in zip(owc_records(manifest), manifest["sample_id"], strict=True)
               if sid != selected[3]]  # fmt: skip
    samples = write_samples(tmp_path / "s.jsonl", records)
    status, out = run_import(shapes, tmp_path, samples, config=config)
    printed = capsys.readouterr().out
    assert status == 0
    frame = read_parquet(out)
    assert frame["sample_id"].tolist() == selected
    missing = frame["sample_id"] == selected[3]
    assert frame.loc[missing, "error"].str.contains("no record").all()
    assert frame.loc[~missing, "error"].isna().all()
    assert "6 samples written" in printed and "answered: 5" in printed
    assert "invalid, no record in the log: 1" in printed
    assert "left out, outside the study's selection: 6" in printed
    meta = read_metadata(out)
    assert (meta["limit"], meta["seed"]) == (6, 1234)
    assert meta["imported"]["outside_selection"] == 6


def test_a_tasks_own_limit_selects_the_imported_samples(shapes, tmp_path, capsys):
    # task_limits beats dataset_limits, as in the study's own inference (the label-list
    # thesis: 10,000 images for one task, 1,600 for another).
    manifest = load_manifest(shapes)
    config = study_config(tmp_path, dataset_limits={"shapes": 6}, task_limits={"owc-base": 4})
    samples = write_samples(tmp_path / "s.jsonl", owc_records(manifest))
    status, out = run_import(shapes, tmp_path, samples, config=config)
    assert status == 0
    selected = stratified_limit(manifest, 4, 1234, "shapes")["sample_id"].tolist()
    assert read_parquet(out)["sample_id"].tolist() == selected
    assert read_metadata(out)["limit"] == 4


def test_duplicates_keep_the_first_record_and_are_counted(shapes, tmp_path, capsys):
    manifest = load_manifest(shapes)
    records = owc_records(manifest)
    records.append(owc_record(50, manifest["image"].iloc[1], "ring", "second answer"))
    status, out = run_import(shapes, tmp_path, write_samples(tmp_path / "s.jsonl", records))
    assert status == 0
    assert "left out, duplicate of an earlier record: 1" in capsys.readouterr().out
    assert read_parquet(out)["raw"].iloc[1] == "A drawing."


def test_import_refuses_a_closed_task_without_options(shapes, tmp_path, capsys):
    samples = write_samples(tmp_path / "s.jsonl", owc_records(load_manifest(shapes))[:1])
    status, _ = run_import(shapes, tmp_path, samples, task="mcq4")
    assert status == 2 and "options as presented" in capsys.readouterr().err
