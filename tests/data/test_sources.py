"""Real-benchmark sources (hub, archive, midframes), offline on generated fixtures.

Every test goes through :func:`prepare_dataset` and the same loader code a real preparation
uses; only the two hub client calls (``datasets.load_dataset`` for hub ids and
``huggingface_hub.hf_hub_download``) are redirected to local fixtures, and URL downloads are
served by a loopback HTTP server.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import datasets
import huggingface_hub
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from classbench.config import ConfigError, load_yaml, validate
from classbench.data import DatasetError, load_classes, load_manifest, prepare_dataset
from classbench.data.manifest import load_meta
from classbench.data.sources import LABEL_TRANSFORMS, curate_classes
from classbench.data.sources.download import cache_name, fetch_file

REPO = Path(__file__).resolve().parents[2]
REAL_LOAD_DATASET = datasets.load_dataset
REAL_LOAD_DATASET_BUILDER = datasets.load_dataset_builder
SECRET = "hf_TESTTOKEN_do_not_write_me_0123456789"


# --- fixtures ---------------------------------------------------------------------------------


def encoded(colour: tuple[int, int, int], fmt: str = "JPEG", size: tuple[int, int] = (24, 18)):
    """A small encoded image; colours differ so every file has distinct bytes."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=fmt)
    return buffer.getvalue()


def colour(index: int) -> tuple[int, int, int]:
    return (37 * index % 256, 91 * index % 256, 53 * index % 256)


# A CoOp-style tree: three classes, the folder "airplanes" is renamed "airplane" by CoOp.
FOLDERS = ["accordion", "airplanes", "yin_yang"]
COOP_NAMES = ["accordion", "airplane", "yin_yang"]


def coop_tree() -> tuple[dict[str, bytes], dict[str, list]]:
    """Files below the image root, and a CoOp split over them (2 train + 2 test per class)."""
    files, split = {}, {"train": [], "val": [], "test": []}
    for label, folder in enumerate(FOLDERS):
        for index in range(4):
            relpath = f"{folder}/image_{index + 1:04d}.jpg"
            files[relpath] = encoded(colour(10 * label + index))
            part = "train" if index < 2 else "test"
            split[part].append([relpath, label, COOP_NAMES[label]])
    return files, split


def write_archive(path: Path, members: dict[str, bytes]) -> Path:
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as bundle:
            for name, data in members.items():
                bundle.writestr(name, data)
    else:
        with tarfile.open(path, "w:gz") as bundle:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                bundle.addfile(info, io.BytesIO(data))
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def archive_spec(archive: Path, split_file: Path, **source: Any) -> dict[str, Any]:
    return {
        "source": {
            "kind": "archive",
            "archive": {"path": str(archive)},
            "split_file": {"path": str(split_file)},
            "split_format": "coop_json",
            "split": "test",
            "image_root": "101_ObjectCategories",
            **source,
        },
        "group": "prototypical",
        "label_transform": ["underscores_to_spaces"],
        "expected": {"classes": 3, "images": 6},
    }


def all_bytes(folder: Path) -> Iterator[tuple[Path, bytes]]:
    for path in folder.rglob("*"):
        if path.is_file():
            yield path, path.read_bytes()


@pytest.fixture
def hub_dataset(tmp_path: Path) -> Path:
    """A parquet dataset folder as a hub repo holds it: image bytes, ClassLabel, file names."""
    names = ["american_bulldog", "abyssinian", "great_pyrenees"]
    rows = {"image": [], "label": [], "image_id": []}
    for index in range(6):
        rows["image"].append({"bytes": encoded(colour(index)), "path": None})
        rows["label"].append(index % 3)
        rows["image_id"].append(f"{names[index % 3]}_{index}.jpg")
    table = datasets.Dataset.from_dict(rows).cast_column("image", datasets.Image())
    table = table.cast_column("label", datasets.ClassLabel(names=names))
    folder = tmp_path / "repo"
    (folder / "data").mkdir(parents=True)
    table.to_parquet(str(folder / "data" / "test-00000-of-00001.parquet"))
    return folder


@pytest.fixture
def webdataset_repo(tmp_path: Path) -> Path:
    """A clip-benchmark style webdataset: ``test/*.tar`` with ``webp`` + ``cls``, classnames.txt."""
    folder = tmp_path / "wds"
    (folder / "test").mkdir(parents=True)
    with tarfile.open(folder / "test" / "0.tar", "w") as shard:
        for index in range(5):
            for extension, payload in (
                ("webp", encoded(colour(index), "WEBP")),
                ("cls", str(index % 2).encode()),
            ):
                info = tarfile.TarInfo(f"s{index:07d}.{extension}")
                info.size = len(payload)
                shard.addfile(info, io.BytesIO(payload))
    (folder / "classnames.txt").write_text("tench\ngoldfish\n")
    return folder


def redirect_hub(monkeypatch, local: dict[str, Path], files: dict[tuple[str, str], Path], calls):
    """Send hub ids to local folders and hub files to local files, recording every call."""

    def load_dataset(path, **kwargs):
        calls.append(("load_dataset", path, kwargs))
        assert path in local, f"unexpected hub dataset {path}"
        # The token goes on to the real loader: its cache must not keep it either.
        kwargs = {k: v for k, v in kwargs.items() if k != "revision"}
        return REAL_LOAD_DATASET(str(local[path]), **kwargs)

    def load_dataset_builder(path, **kwargs):
        calls.append(("load_dataset_builder", path, kwargs))
        assert path in local, f"unexpected hub dataset {path}"
        # The token goes on to the real loader: its cache must not keep it either.
        kwargs = {k: v for k, v in kwargs.items() if k != "revision"}
        return REAL_LOAD_DATASET_BUILDER(str(local[path]), **kwargs)

    def hf_hub_download(repo_id, filename, **kwargs):
        calls.append(("hf_hub_download", (repo_id, filename), kwargs))
        assert kwargs["repo_type"] == "dataset"
        return str(files[repo_id, filename])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.setattr(datasets, "load_dataset_builder", load_dataset_builder)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)


# --- hub ----------------------------------------------------------------------------------------


def test_hub_local_parquet_keeps_bytes_ids_and_curates_names(tmp_path, hub_dataset):
    spec = {
        "source": {"kind": "hub", "repo": str(hub_dataset), "split": "test",
                   "filename_column": "image_id"},
        "label_transform": ["underscores_to_spaces"],
        "group": "fine-grained",
        "noun": "pet",
        "expected": {"classes": 3, "images": 6},
    }  # fmt: skip
    meta = prepare_dataset("pets", spec, tmp_path / "out" / "pets", tmp_path / "cache")
    root = tmp_path / "out" / "pets"
    manifest = load_manifest(root)
    assert load_classes(root) == ["american bulldog", "abyssinian", "great pyrenees"]
    assert manifest["sample_id"].tolist()[:2] == ["american_bulldog_0", "abyssinian_1"]
    assert manifest["image"].tolist()[0] == "images/american_bulldog_0.jpg"
    assert manifest["label"].tolist()[:3] == ["american bulldog", "abyssinian", "great pyrenees"]
    # Original JPEG bytes, not a re-encode.
    assert (root / manifest["image"][4]).read_bytes() == encoded(colour(4))
    assert meta["counts"] == {"images": 6, "classes": 3}
    assert meta["provenance"]["loader"] == "datasets.load_dataset"


def test_hub_builder_with_data_files_and_string_labels(tmp_path):
    rows = {"img": [{"bytes": encoded(colour(i), "PNG"), "path": None} for i in range(4)],
            "name": ["zebra", "ant", "zebra", "ant"]}  # fmt: skip
    table = datasets.Dataset.from_dict(rows).cast_column("img", datasets.Image())
    table.to_parquet(str(tmp_path / "mirror.parquet"))
    spec = {
        "source": {"kind": "hub", "repo": "parquet", "split": "test",
                   "data_files": {"test": str(tmp_path / "mirror.parquet")},
                   "label_column": "name"},
        "class_map": {"ant": "carpenter ant"},
        "group": "prototypical",
        "expected": {"classes": 2, "images": 4},
    }  # fmt: skip
    prepare_dataset("mirror", spec, tmp_path / "mirror", tmp_path / "cache")
    manifest = load_manifest(tmp_path / "mirror")
    # String labels: classes are the sorted distinct values, then curated.
    assert load_classes(tmp_path / "mirror") == ["carpenter ant", "zebra"]
    assert manifest["label_idx"].tolist() == [1, 0, 1, 0]
    assert manifest["sample_id"].tolist() == ["000000", "000001", "000002", "000003"]
    assert manifest["image"].str.endswith(".png").all()


def test_hub_folder_saved_with_save_to_disk(tmp_path):
    rows = {"image": [{"bytes": encoded(colour(i)), "path": None} for i in range(3)],
            "label": [0, 1, 1]}  # fmt: skip
    table = datasets.Dataset.from_dict(rows).cast_column("image", datasets.Image())
    table = table.cast_column("label", datasets.ClassLabel(names=["cat", "dog"]))
    datasets.DatasetDict({"test": table}).save_to_disk(str(tmp_path / "saved"))
    spec = {"source": {"kind": "hub", "repo": str(tmp_path / "saved"), "split": "test"},
            "group": "prototypical", "expected": {"classes": 2, "images": 3}}  # fmt: skip
    prepare_dataset("saved", spec, tmp_path / "out", tmp_path / "cache")
    assert load_manifest(tmp_path / "out")["label"].tolist() == ["cat", "dog", "dog"]


def test_webdataset_repo_through_the_hub_clients(tmp_path, monkeypatch, webdataset_repo):
    calls: list = []
    redirect_hub(
        monkeypatch,
        {"clip-benchmark/wds_fake": webdataset_repo},
        {("clip-benchmark/wds_fake", "classnames.txt"): webdataset_repo / "classnames.txt"},
        calls,
    )
    spec = {
        "source": {"kind": "hub", "repo": "clip-benchmark/wds_fake", "revision": "abc123",
                   "split": "test", "classnames_file": "classnames.txt"},
        "group": "prototypical",
        "expected": {"classes": 2, "images": 5},
    }  # fmt: skip
    prepare_dataset("wds", spec, tmp_path / "out" / "wds", tmp_path / "cache")
    root = tmp_path / "out" / "wds"
    manifest = load_manifest(root)
    assert load_classes(root) == ["tench", "goldfish"]
    # The image column (webp) was detected, ids come from __key__, bytes are kept.
    assert manifest["sample_id"].tolist() == [f"s{i:07d}" for i in range(5)]
    assert manifest["image"].tolist()[0] == "images/s0000000.webp"
    assert (root / "images" / "s0000003.webp").read_bytes() == encoded(colour(3), "WEBP")
    assert manifest["label"].tolist() == ["tench", "goldfish", "tench", "goldfish", "tench"]
    assert [call[0] for call in calls] == ["load_dataset_builder", "load_dataset",
                                           "hf_hub_download"]  # fmt: skip
    assert {call[1] for call in calls[:2]} == {"clip-benchmark/wds_fake"}
    assert all(call[2]["revision"] == "abc123" for call in calls)
    assert all(call[2].get("token") is None for call in calls)  # ungated: client defaults
    assert Path(calls[1][2]["cache_dir"]).is_relative_to(tmp_path / "cache")


CARD = """---
dataset_info:
  features:
  - name: image
    dtype: image
  - name: label
    dtype:
      class_label:
        names:
          '0': cat
          '1': dog
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
  - split: test
    path: data/test-*
---
"""


def test_hub_loads_only_the_split_and_keeps_the_card_features(tmp_path, monkeypatch):
    """A repo whose ClassLabel lives in its card; the train split must not be fetched."""
    folder = tmp_path / "card-repo"
    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text(CARD)
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    for split, count in (("train", 5), ("test", 3)):
        cells = [{"bytes": encoded(colour(i)), "path": None} for i in range(count)]
        labels = pa.array([i % 2 for i in range(count)], pa.int64())
        table = pa.table({"image": pa.array(cells, type=image), "label": labels})
        pq.write_table(table, folder / "data" / f"{split}-00000-of-00001.parquet")
    calls: list = []
    redirect_hub(monkeypatch, {"org/card-repo": folder}, {}, calls)
    spec = {"source": {"kind": "hub", "repo": "org/card-repo", "revision": "r", "split": "test"},
            "group": "prototypical", "expected": {"classes": 2, "images": 3}}  # fmt: skip
    prepare_dataset("card", spec, tmp_path / "out", tmp_path / "cache")
    assert load_classes(tmp_path / "out") == ["cat", "dog"]
    data_files = calls[1][2]["data_files"]
    assert list(data_files) == ["test"] and all("test-" in f for f in data_files["test"])
    assert not [p for p in (tmp_path / "cache").rglob("*train*")]


def test_hub_without_class_names_asks_for_them(tmp_path, webdataset_repo):
    spec = {"source": {"kind": "hub", "repo": str(webdataset_repo), "split": "test"},
            "group": "prototypical"}  # fmt: skip
    with pytest.raises(DatasetError, match=r"'wds'.*no class names"):
        prepare_dataset("wds", spec, tmp_path / "out", tmp_path / "cache")
    # Registry names for integer labels work (index-aligned).
    spec["classes"] = ["tench", "goldfish"]
    prepare_dataset("wds", spec, tmp_path / "out", tmp_path / "cache")
    assert load_classes(tmp_path / "out") == ["tench", "goldfish"]


def test_incomplete_source_is_named(tmp_path):
    spec = {"source": {"kind": "archive", "archive": {"path": "a.zip"}}, "group": "prototypical"}
    with pytest.raises(DatasetError, match="'x': source kind 'archive' needs split_file"):
        prepare_dataset("x", spec, tmp_path / "out", tmp_path / "cache")
    assert list(tmp_path.iterdir()) == []


# --- gated sets -----------------------------------------------------------------------------


def gated_spec(hub_dataset: Path) -> dict[str, Any]:
    return {
        "source": {
            "kind": "hub", "repo": "org/gated-set", "revision": "main", "split": "test",
            "filename_column": "image_id",
            "classnames_file": {"repo": "org/names", "filename": "names.txt", "revision": "r1"},
            "gated": True,
        },
        "group": "prototypical",
        "expected": {"classes": 3, "images": 6},
    }  # fmt: skip


def test_gated_set_without_token_stops_with_the_variable_name(tmp_path, monkeypatch, hub_dataset):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    calls: list = []
    redirect_hub(monkeypatch, {"org/gated-set": hub_dataset}, {}, calls)
    with pytest.raises(DatasetError, match=r"dataset 'gated'.*gated.*HF_TOKEN"):
        prepare_dataset("gated", gated_spec(hub_dataset), tmp_path / "out" / "gated")
    assert calls == []  # nothing was asked of the hub
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("variable", ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"])
def test_gated_set_token_reaches_the_client_and_no_file(
    tmp_path, monkeypatch, caplog, hub_dataset, variable
):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setenv(variable, SECRET)
    names = tmp_path / "names.txt"
    names.write_text("bulldog\nabyssinian\npyrenees\n")
    calls: list = []
    redirect_hub(
        monkeypatch, {"org/gated-set": hub_dataset}, {("org/names", "names.txt"): names}, calls
    )
    caplog.set_level(logging.DEBUG)
    meta = prepare_dataset(
        "gated", gated_spec(hub_dataset), tmp_path / "out" / "gated", tmp_path / "cache"
    )
    assert len(calls) == 3 and all(call[2]["token"] == SECRET for call in calls)
    assert load_classes(tmp_path / "out" / "gated") == ["bulldog", "abyssinian", "pyrenees"]
    assert SECRET not in json.dumps(meta)
    assert SECRET not in caplog.text
    for path, data in all_bytes(tmp_path):
        assert SECRET.encode() not in data, path


def test_hub_errors_never_carry_the_token(tmp_path, monkeypatch, hub_dataset):
    monkeypatch.setenv("HF_TOKEN", SECRET)

    def failing(path, **kwargs):
        raise PermissionError(f"401 for {path} with Authorization: Bearer {kwargs['token']}")

    monkeypatch.setattr(datasets, "load_dataset", failing)
    monkeypatch.setattr(datasets, "load_dataset_builder", failing)
    with pytest.raises(DatasetError) as caught:
        prepare_dataset("gated", gated_spec(hub_dataset), tmp_path / "out", tmp_path / "cache")
    assert "dataset 'gated'" in str(caught.value)
    assert "Bearer ***" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


# --- archives -----------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["tar.gz", "zip", "zip wrapping tar.gz"])
def test_archive_with_coop_json_split(tmp_path, layout):
    files, split = coop_tree()
    members = {f"101_ObjectCategories/{k}": v for k, v in files.items()}
    members["101_ObjectCategories/BACKGROUND_Google/image_0001.jpg"] = encoded((1, 2, 3))
    extra = {}
    if layout == "zip wrapping tar.gz":
        inner = write_archive(tmp_path / "101_ObjectCategories.tar.gz", members)
        archive = write_archive(
            tmp_path / "caltech-101.zip",
            {"caltech-101/101_ObjectCategories.tar.gz": inner.read_bytes()},
        )
        extra["inner_archive"] = "caltech-101/101_ObjectCategories.tar.gz"
    else:
        archive = write_archive(tmp_path / f"caltech.{layout}", members)
    split_file = tmp_path / "split_zhou_Caltech101.json"
    split_file.write_text(json.dumps(split))
    spec = archive_spec(archive, split_file, **extra)
    spec["source"]["archive"]["sha256"] = sha256(archive.read_bytes())
    meta = prepare_dataset("caltech", spec, tmp_path / "out" / "caltech", tmp_path / "cache")
    root = tmp_path / "out" / "caltech"
    manifest = load_manifest(root)
    assert load_classes(root) == ["accordion", "airplane", "yin yang"]
    assert manifest["sample_id"].tolist()[:2] == ["accordion__image_0003", "accordion__image_0004"]
    assert manifest["image"].tolist()[2] == "images/airplanes/image_0003.jpg"
    assert manifest["label"].tolist() == [n for n in load_classes(root) for _ in range(2)]
    for relative in manifest["image"]:
        assert (root / relative).read_bytes() == files[relative.removeprefix("images/")]
    # Only the test split was written: no train image, nothing outside the split.
    written = sorted(p.relative_to(root).as_posix() for p in (root / "images").rglob("*.jpg"))
    assert written == sorted(manifest["image"])
    assert meta["provenance"]["archive"]["sha256"] == spec["source"]["archive"]["sha256"]
    assert meta["provenance"]["split_file"]["sha256"] == sha256(split_file.read_bytes())


def test_archive_with_lmms_owc_csv_split_and_class_map(tmp_path):
    files, _ = coop_tree()
    archive = write_archive(tmp_path / "c.tar.gz", {f"root/{k}": v for k, v in files.items()})
    split_file = tmp_path / "split_coop.csv"
    lines = ["split,filename"] + [
        f"{'test' if k.endswith(('3.jpg', '4.jpg')) else 'train'},{k}" for k in files
    ]
    split_file.write_text("\n".join(lines) + "\n")
    spec = archive_spec(archive, split_file, split_format="csv", image_root="root")
    spec["class_map"] = {"airplanes": "airplane"}
    prepare_dataset("caltech", spec, tmp_path / "out", tmp_path / "cache")
    # Folder names in ImageFolder (sorted) order; class_map wins, the transform does the rest.
    assert load_classes(tmp_path / "out") == ["accordion", "airplane", "yin yang"]
    assert len(load_manifest(tmp_path / "out")) == 6


def test_archive_with_official_list_file(tmp_path):
    members = {f"fgvc/data/images/{1000 + i}.jpg": encoded(colour(i)) for i in range(4)}
    archive = write_archive(tmp_path / "fgvc.tar.gz", members)
    split_file = tmp_path / "images_variant_test.txt"
    split_file.write_text("1000 707-320\n1001 Cessna 172\n1002 707-320\n\n1003 A300B4\n")
    spec = {
        "source": {"kind": "archive", "archive": {"path": str(archive)},
                   "split_file": {"path": str(split_file)}, "split_format": "list",
                   "split": "test", "image_root": "fgvc/data",
                   "path_template": "images/{key}.jpg"},
        "group": "very fine-grained",
        "expected": {"classes": 3, "images": 4},
    }  # fmt: skip
    prepare_dataset("aircraft", spec, tmp_path / "out", tmp_path / "cache")
    manifest = load_manifest(tmp_path / "out")
    assert load_classes(tmp_path / "out") == ["707-320", "A300B4", "Cessna 172"]
    assert manifest["label"].tolist() == ["707-320", "Cessna 172", "707-320", "A300B4"]
    assert manifest["sample_id"].tolist()[0] == "images__1000"


def test_archive_missing_members_and_unsafe_paths(tmp_path):
    files, split = coop_tree()
    archive = write_archive(tmp_path / "a.zip", {f"101_ObjectCategories/{k}": v for k, v in
                                                 list(files.items())[:-1]})  # fmt: skip
    split_file = tmp_path / "split.json"
    split_file.write_text(json.dumps(split))
    with pytest.raises(DatasetError, match=r"'caltech'.*1 of 6 images.*yin_yang/image_0004"):
        prepare_dataset("caltech", archive_spec(archive, split_file), tmp_path / "out")
    split["test"][0][0] = "../../etc/passwd"
    split_file.write_text(json.dumps(split))
    with pytest.raises(DatasetError, match="unsafe"):
        prepare_dataset("caltech", archive_spec(archive, split_file), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_sha256_mismatch_stops_and_leaves_nothing(tmp_path):
    files, split = coop_tree()
    archive = write_archive(tmp_path / "a.tar.gz", {f"101_ObjectCategories/{k}": v
                                                    for k, v in files.items()})  # fmt: skip
    split_file = tmp_path / "split.json"
    split_file.write_text(json.dumps(split))
    spec = archive_spec(archive, split_file)
    spec["source"]["archive"]["sha256"] = "0" * 64
    out = tmp_path / "datasets" / "caltech"
    with pytest.raises(DatasetError) as caught:
        prepare_dataset("caltech", spec, out, tmp_path / "cache")
    message = str(caught.value)
    assert "dataset 'caltech'" in message
    assert sha256(archive.read_bytes()) in message and "0" * 64 in message
    assert list((tmp_path / "datasets").iterdir()) == []


def test_count_mismatch_names_dataset_and_numbers_and_leaves_nothing(tmp_path):
    files, split = coop_tree()
    archive = write_archive(tmp_path / "a.zip", {f"101_ObjectCategories/{k}": v
                                                 for k, v in files.items()})  # fmt: skip
    split_file = tmp_path / "split.json"
    split_file.write_text(json.dumps(split))
    spec = archive_spec(archive, split_file)
    spec["expected"] = {"classes": 3, "images": 2465}
    with pytest.raises(
        DatasetError, match=r"dataset 'caltech': expected 2465 test images, found 6"
    ):
        prepare_dataset("caltech", spec, tmp_path / "datasets" / "caltech", tmp_path / "cache")
    spec["expected"] = {"classes": 100, "images": 6}
    with pytest.raises(DatasetError, match=r"dataset 'caltech': expected 100 classes, found 3"):
        prepare_dataset("caltech", spec, tmp_path / "datasets" / "caltech", tmp_path / "cache")
    assert list((tmp_path / "datasets").iterdir()) == []


# --- mid-frames -----------------------------------------------------------------------------


def midframes_zip(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    files = {}
    for label, folder in enumerate(["Apply_Eye_Makeup", "Band_Marching"]):
        video = folder.replace("_", "")
        for group in (1, 2):
            files[f"{folder}/v_{video}_g{group:02d}_c01.jpg"] = encoded(colour(4 * label + group))
    members = {f"UCF-101-midframes/{k}": v for k, v in files.items()}
    return write_archive(tmp_path / "UCF-101-midframes.zip", members), files


def test_midframes_with_coop_json(tmp_path):
    archive, files = midframes_zip(tmp_path)
    split = {"train": [], "val": [], "test": [
        [path, 0 if path.startswith("Apply") else 1,
         "Apply_Eye_Makeup" if path.startswith("Apply") else "Band_Marching"]
        for path in files
    ]}  # fmt: skip
    split_file = tmp_path / "split_zhou_UCF101.json"
    split_file.write_text(json.dumps(split))
    spec = {
        "source": {"kind": "midframes", "archive": {"path": str(archive)},
                   "split_file": {"path": str(split_file)}, "split": "test"},
        "label_transform": ["underscores_to_spaces", "lower"],
        "group": "non-prototypical",
        "expected": {"classes": 2, "images": 4},
    }  # fmt: skip
    prepare_dataset("ucf", spec, tmp_path / "out", tmp_path / "cache")
    manifest = load_manifest(tmp_path / "out")
    assert load_classes(tmp_path / "out") == ["apply eye makeup", "band marching"]
    assert manifest["sample_id"].tolist()[0] == "Apply_Eye_Makeup__v_ApplyEyeMakeup_g01_c01"
    for relative in manifest["image"]:
        assert (tmp_path / "out" / relative).read_bytes() == files[relative[len("images/") :]]


def test_midframes_resolve_official_video_list_by_stem(tmp_path):
    archive, _ = midframes_zip(tmp_path)
    testlist = tmp_path / "testlist01.txt"
    testlist.write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\nApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi\n"
        "BandMarching/v_BandMarching_g02_c01.avi\n"
    )
    spec = {
        "source": {"kind": "midframes", "archive": {"path": str(archive)},
                   "split_file": {"path": str(testlist)}, "split_format": "list",
                   "label_from": "dir", "split": "test"},
        "group": "non-prototypical",
        "expected": {"classes": 2, "images": 3},
    }  # fmt: skip
    prepare_dataset("ucf", spec, tmp_path / "out", tmp_path / "cache")
    manifest = load_manifest(tmp_path / "out")
    assert load_classes(tmp_path / "out") == ["ApplyEyeMakeup", "BandMarching"]
    assert manifest["image"].tolist()[2] == "images/Band_Marching/v_BandMarching_g02_c01.jpg"


# --- downloads ------------------------------------------------------------------------------


class _Files(BaseHTTPRequestHandler):
    """Serve ``server.files`` with HTTP range support; count requests."""

    def do_GET(self) -> None:  # the name http.server dispatches to
        self.server.requests.append((self.path, self.headers.get("Range")))
        data = self.server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    httpd.files, httpd.requests = {}, []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_url_archive_download_is_cached_and_pinned(tmp_path, server):
    files, split = coop_tree()
    archive = write_archive(tmp_path / "src.tar.gz", {f"101_ObjectCategories/{k}": v
                                                      for k, v in files.items()})  # fmt: skip
    server.files["/dl/caltech.tar.gz"] = archive.read_bytes()
    server.files["/splits/split.json"] = json.dumps(split).encode()
    base = f"http://127.0.0.1:{server.server_port}"
    spec = archive_spec(archive, tmp_path / "unused")
    spec["source"]["archive"] = {"url": f"{base}/dl/caltech.tar.gz",
                                 "sha256": sha256(archive.read_bytes())}  # fmt: skip
    spec["source"]["split_file"] = {"url": f"{base}/splits/split.json"}
    cache = tmp_path / "downloads"
    prepare_dataset("caltech", spec, tmp_path / "out", cache)
    assert len(server.requests) == 2
    cached = cache / "urls" / cache_name(f"{base}/dl/caltech.tar.gz")
    assert cached.read_bytes() == archive.read_bytes()
    assert not list(cache.rglob("*.part"))
    prepare_dataset("caltech", spec, tmp_path / "out", cache)  # cached: no new request
    assert len(server.requests) == 2
    # A changed pin: the cached file is refused and removed, the message has both digests.
    spec["source"]["archive"]["sha256"] = "f" * 64
    with pytest.raises(DatasetError, match=r"'caltech'.*sha256 [0-9a-f]{64}, expected f{64}"):
        prepare_dataset("caltech", spec, tmp_path / "other", cache)
    assert not cached.exists()
    assert not (tmp_path / "other").exists()


def test_interrupted_download_resumes_with_a_range_request(tmp_path, server):
    payload = bytes(range(256)) * 4096
    server.files["/big.bin"] = payload
    url = f"http://127.0.0.1:{server.server_port}/big.bin"
    folder = tmp_path / "cache" / "urls"
    folder.mkdir(parents=True)
    (folder / (cache_name(url) + ".part")).write_bytes(payload[:100_000])
    path, digest = fetch_file("big", {"url": url, "sha256": sha256(payload)}, tmp_path / "cache")
    assert server.requests == [("/big.bin", "bytes=100000-")]
    assert path.read_bytes() == payload and digest == sha256(payload)


def test_a_web_page_is_not_taken_for_an_archive(tmp_path, server):
    server.files["/uc"] = b"<!DOCTYPE html><html><body>Virus scan warning</body></html>"
    url = f"http://127.0.0.1:{server.server_port}/uc"
    with pytest.raises(DatasetError, match=r"'ucf'.*web page"):
        fetch_file("ucf", {"url": url, "filename": "UCF-101-midframes.zip"}, tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*UCF*"))


# --- class names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("transforms", "source", "curated"),
    [
        (["year_first"], "AM General Hummer SUV 2000", "2000 AM General Hummer SUV"),
        (["year_first"], "Ram C/V Cargo Van Minivan 2012", "2012 Ram C/V Cargo Van Minivan"),
        (["year_first"], "no year here", "no year here"),
        (["strip_numeric_prefix", "underscores_to_spaces"], "001.Black_footed_Albatross",
         "Black footed Albatross"),
        (["strip_wnid_prefix"], "n02085620-Chihuahua", "Chihuahua"),
        (["strip_wnid_prefix", "underscores_to_spaces"], "n02113978-Mexican_hairless",
         "Mexican hairless"),
        (["sun397_path", "underscores_to_spaces"], "a/apse/indoor", "indoor apse"),
        (["sun397_path", "underscores_to_spaces"], "a/airplane_cabin", "airplane cabin"),
        (["sun397_path"], "c/car_interior/backseat", "backseat car_interior"),
        (["underscores_to_spaces", "lower"], "Apply_Eye_Makeup", "apply eye makeup"),
        (["lower"], "Annual Crop Land", "annual crop land"),
        (["strip"], "  tench ", "tench"),
    ],
)  # fmt: skip
def test_label_transforms(transforms, source, curated):
    assert curate_classes("x", {"label_transform": transforms}, [source]) == [curated]


def test_every_label_transform_is_in_the_schema():
    schema = load_yaml(REPO / "workflow" / "schemas" / "datasets.schema.yaml")
    assert set(schema["$defs"]["transforms"]["items"]["enum"]) == set(LABEL_TRANSFORMS)


def test_class_map_classes_and_classes_file(tmp_path):
    source = ["airplanes", "Faces", "yin_yang"]
    spec = {"class_map": {"airplanes": "airplane", "Faces": "face"},
            "label_transform": ["underscores_to_spaces"]}  # fmt: skip
    assert curate_classes("c", spec, source) == ["airplane", "face", "yin yang"]
    with pytest.raises(DatasetError, match=r"'c'.*class_map.*'Leopards'"):
        curate_classes("c", {"class_map": {"Leopards": "leopard"}}, source)
    # Inline or file names are final and index-aligned; their number must match.
    assert curate_classes("c", {"classes": ["a", "b", "c"], **spec}, source) == ["a", "b", "c"]
    names = tmp_path / "names.txt"
    names.write_text("tench\n\ngoldfish\ngreat white shark\n")
    assert curate_classes("c", {"classes_file": str(names)}, source)[2] == "great white shark"
    with pytest.raises(DatasetError, match=r"'c'.*lists 2 class names but the source has 3"):
        curate_classes("c", {"classes": ["a", "b"]}, source)


def test_classes_file_is_recorded_in_meta(tmp_path, hub_dataset):
    names = tmp_path / "pets.txt"
    names.write_text("American Bulldog\nAbyssinian\nGreat Pyrenees\n")
    spec = {"source": {"kind": "hub", "repo": str(hub_dataset), "split": "test"},
            "classes_file": str(names), "group": "fine-grained",
            "expected": {"classes": 3, "images": 6}}  # fmt: skip
    meta = prepare_dataset("pets", spec, tmp_path / "out", tmp_path / "cache")
    assert load_classes(tmp_path / "out")[0] == "American Bulldog"
    assert meta["classes_file"]["sha256"] == sha256(names.read_bytes())
    assert load_meta(tmp_path / "out") == meta


# --- the registry ---------------------------------------------------------------------------

# (classes, test images) as the papers and their code publish them: lmms-owc's CoOp test sets,
# FOCI / Finedefics official test sets, ImageNetV2 and ObjectNet's ImageNet-overlap subset.
ANCHOR_COUNTS = {
    "caltech101": (100, 2465),
    "dtd": (47, 1692),
    "eurosat": (10, 8100),
    "fgvc_aircraft": (100, 3333),
    "flowers102": (102, 2463),
    "food101": (101, 30300),
    "oxford_pets": (37, 3669),
    "stanford_cars": (196, 8041),
    "sun397": (397, 19850),
    "ucf101": (101, 3783),
    "flowers102-test": (102, 6149),
    "food101-test": (101, 25250),
    "cub200": (200, 5794),
    "stanford_dogs": (120, 8580),
    "imagenet": (1000, 50000),
    "imagenet-r": (200, 30000),
    "imagenet-a": (200, 7500),
    "imagenet-sketch": (1000, 50889),
    "imagenetv2": (1000, 10000),
    "objectnet": (113, 18574),
}
LMMS_OWC_GROUPS = {
    "caltech101": "prototypical", "sun397": "prototypical",
    "dtd": "non-prototypical", "eurosat": "non-prototypical", "ucf101": "non-prototypical",
    "flowers102": "fine-grained", "food101": "fine-grained", "oxford_pets": "fine-grained",
    "fgvc_aircraft": "very fine-grained", "stanford_cars": "very fine-grained",
}  # fmt: skip
# Tailored-prompt nouns: lmms-owc's singular ("What type of flower ..."), FOCI's plural spellings.
NOUNS = {
    "dtd": ("texture", "textures"), "fgvc_aircraft": ("aircraft", "aircrafts"),
    "flowers102": ("flower", "flowers"), "food101": ("food", "dishes"),
    "oxford_pets": ("pet", "pets"), "stanford_cars": ("car", "cars"),
    "flowers102-test": ("flower", "flowers"), "food101-test": ("food", "dishes"),
    "cub200": ("bird", "birds"), "stanford_dogs": ("dog", "dogs"),
}  # fmt: skip


@pytest.fixture(scope="module")
def registry() -> dict[str, Any]:
    content = load_yaml(REPO / "config" / "datasets.yaml")
    schema = load_yaml(REPO / "workflow" / "schemas" / "datasets.schema.yaml")
    validate(content, schema, "config/datasets.yaml")
    return content


def test_registry_counts_equal_the_published_figures(registry):
    real = {name: spec for name, spec in registry.items() if spec["source"]["kind"] != "synthetic"}
    assert set(real) == set(ANCHOR_COUNTS)
    for name, (classes, images) in ANCHOR_COUNTS.items():
        assert registry[name]["expected"] == {"classes": classes, "images": images}, name


def test_registry_entries_are_complete(registry):
    for name, group in LMMS_OWC_GROUPS.items():
        assert registry[name]["group"] == group, name
    for name, spec in registry.items():
        source = spec["source"]
        if source["kind"] == "synthetic":
            continue
        assert spec.get("licence") and spec.get("description"), name
        assert (spec.get("noun"), spec.get("nouns")) == NOUNS.get(name, (None, None)), name
        files = [source.get(key) for key in ("archive", "split_file", "classnames_file")]
        for reference in [source if source["kind"] == "hub" else None, *files]:
            if isinstance(reference, dict) and "repo" in reference:
                assert reference.get("revision"), f"{name}: unpinned {reference['repo']}"
        if "main" in json.dumps(source):
            assert "pin" in spec["description"], f"{name}: say that revision main must be pinned"
    assert registry["imagenet"]["source"]["gated"] is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["oxford_pets"]["source"].update(revison="x"), "'revison' was unexpected"),
        (lambda s: s["caltech101"]["source"]["archive"].update(sha="x"), "'sha' was unexpected"),
        (lambda s: s["ucf101"]["source"].update(frame_ext=".png"), "'frame_ext' was unexpected"),
        (lambda s: s["dtd"]["source"].update(kind="tarball"), "'tarball' is not one of"),
        (lambda s: s["dtd"]["source"].pop("split_format"), "'split_format' is a required"),
        (lambda s: s["cub200"].update(label_transform=["title"]), "'title' is not one of"),
        (lambda s: s["dtd"].update(classes_file="x.txt", classes=["a", "b"]), "cannot be combined"),
        (lambda s: s["dtd"]["source"]["archive"].update(sha256="abc"), "does not match"),
    ],
)
def test_schema_catches_typos(registry, change, message):
    broken = copy.deepcopy(registry)
    change(broken)
    schema = load_yaml(REPO / "workflow" / "schemas" / "datasets.schema.yaml")
    with pytest.raises(ConfigError, match=message):
        validate(broken, schema, "config/datasets.yaml")
