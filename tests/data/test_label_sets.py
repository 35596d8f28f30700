"""Multi-label ground truth: label-set files fetched, verified and written into the manifest."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from classbench.data import DatasetError, load_manifest, prepare_dataset
from classbench.data.label_sets import attach_label_sets, label_sets_by_id, read_label_sets

SHAPES = ["circle", "ring", "square", "triangle", "star", "cross"]


def _spec(label_sets: dict) -> dict:
    return {
        "source": {"kind": "synthetic", "generator": "shapes", "images_per_class": 1, "seed": 0,
                   "size": 16},
        "classes": SHAPES,
        "group": "prototypical",
        "label_sets": label_sets,
    }  # fmt: skip


def _write(path, data) -> str:
    path.write_text(json.dumps(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_preparation_writes_the_sets_and_counts_the_empty_ones(tmp_path):
    sets = {f"{shape}_0000": [] for shape in SHAPES}
    sets["circle_0000"] = ["circle", "ring"]  # names
    sets["star_0000"] = [4, 5]  # class indices
    sets["cross_0000"] = [5]
    file = tmp_path / "sets.json"
    digest = _write(file, sets)
    spec = _spec({"path": str(file), "sha256": digest, "format": "by_sample"})
    meta = prepare_dataset("shapes", spec, tmp_path / "shapes", cache_dir=tmp_path / "cache")
    manifest = load_manifest(tmp_path / "shapes").set_index("sample_id")
    assert [list(s) for s in manifest["label_sets"]] == [
        ["circle", "ring"], [], [], [], ["star", "cross"], ["cross"]
    ]  # fmt: skip
    assert meta["provenance"]["label_sets"] == {
        "file": str(file),
        "sha256": digest,
        "format": "by_sample",
        "images_with_labels": 3,
        "images_without_label": 3,
        "labels": 5,
    }


def test_a_changed_file_is_refused(tmp_path):
    file = tmp_path / "sets.json"
    _write(file, {f"{shape}_0000": [0] for shape in SHAPES})
    spec = _spec({"path": str(file), "sha256": "0" * 64, "format": "by_sample"})
    with pytest.raises(DatasetError, match="has sha256"):
        prepare_dataset("shapes", spec, tmp_path / "shapes", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "shapes").exists()


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        ({"circle_0000": [0]}, "image ring_0000 has no label set"),
        ({f"{shape}_0000": ["dog"] for shape in SHAPES}, "unknown label-set class 'dog'"),
        ({f"{shape}_0000": [6] for shape in SHAPES}, "class 6 outside 0..5"),
    ],
)
def test_a_set_that_does_not_fit_the_dataset_is_an_error(tmp_path, sets, message):
    file = tmp_path / "sets.json"
    _write(file, sets)
    spec = _spec({"path": str(file), "format": "by_sample"})
    with pytest.raises(DatasetError, match=message):
        prepare_dataset("shapes", spec, tmp_path / "shapes", cache_dir=tmp_path / "cache")


def test_real_sets_follow_the_validation_order(tmp_path):
    # ReaL's layout: entry i is ILSVRC2012_val_{i+1:08d}, its labels ImageNet indices
    file = tmp_path / "real.json"
    _write(file, [[], [2, 1], [0]])
    sets = read_label_sets("imagenet", file, "real")
    assert sets == {
        "ILSVRC2012_val_00000001": [],
        "ILSVRC2012_val_00000002": [2, 1],
        "ILSVRC2012_val_00000003": [0],
    }
    manifest = pd.DataFrame(
        {
            "sample_id": ["ILSVRC2012_val_00000003", "ILSVRC2012_val_00000001",
                          "ILSVRC2012_val_00000002"],
            "image": ["images/a.jpg", "images/b.jpg", "images/c.jpg"],
            "label": ["tench", "goldfish", "shark"],
            "label_idx": [0, 1, 2],
        }
    )  # fmt: skip
    labelled = attach_label_sets("imagenet", manifest, ["tench", "goldfish", "shark"], sets, "real")
    assert labelled["label_sets"].tolist() == [["tench"], [], ["shark", "goldfish"]]
    with pytest.raises(DatasetError, match="image x has no label set"):
        attach_label_sets(
            "imagenet", manifest.assign(sample_id="x", image="images/x.jpg"), ["a"], sets, "real"
        )


def test_a_malformed_file_is_an_error(tmp_path):
    file = tmp_path / "real.json"
    file.write_text('{"a": 1}')
    with pytest.raises(DatasetError, match="list of lists"):
        read_label_sets("imagenet", file, "real")
    with pytest.raises(DatasetError, match="maps ids to lists"):
        read_label_sets("imagenet", file, "by_sample")
    with pytest.raises(DatasetError, match="unknown label-set format"):
        read_label_sets("imagenet", file, "csv")


def test_label_sets_by_sample_id_for_scoring():
    manifest = pd.DataFrame({"sample_id": [7, 8], "label_sets": [["cat"], []]})
    assert label_sets_by_id(manifest) == {"7": ["cat"], "8": []}
    assert label_sets_by_id(manifest.drop(columns="label_sets")) is None
