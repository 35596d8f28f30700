"""The four entries that the sources' own numbering or hosting would break, on fixtures that
reproduce each problem, prepared through the shipped registry entries and class lists."""

from __future__ import annotations

import copy
import io
import json
import logging
import random
import zipfile
from pathlib import Path
from typing import Any

import datasets
import pytest
from fake_hub import fake_hub
from PIL import Image

from classbench.config import load_yaml, validate
from classbench.data import DatasetError, load_classes, load_manifest, prepare_dataset
from classbench.data.sources.curation import label_order_by_name, read_class_file

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def registry() -> dict[str, Any]:
    content = load_yaml(REPO / "config" / "datasets.yaml")
    validate(content, load_yaml(REPO / "workflow" / "schemas" / "datasets.schema.yaml"), "x")
    return content


def image(index: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (31 * index % 256, 77 * index % 256, 5 * index % 256)).save(
        buffer, format="JPEG"
    )
    return buffer.getvalue()


def hub_copy(folder: Path, names: list[str], labels: list[int]) -> Path:
    """A parquet copy as a hub repository holds it: one image per listed label."""
    rows = {"image": [{"bytes": image(i), "path": None} for i in range(len(labels))],
            "label": labels}  # fmt: skip
    table = datasets.Dataset.from_dict(rows).cast_column("image", datasets.Image())
    table = table.cast_column("label", datasets.ClassLabel(names=names))
    (folder / "data").mkdir(parents=True)
    table.to_parquet(str(folder / "data" / "test-00000-of-00001.parquet"))
    return folder


def local(spec: dict[str, Any], folder: Path, images: int) -> dict[str, Any]:
    """The registry entry, loading the fixture, its class lists read from the repository."""
    spec = copy.deepcopy(spec)
    spec["source"]["repo"] = str(folder)
    spec["expected"]["images"] = images
    for key in ("classes_file",):
        if key in spec:
            spec[key] = str(REPO / spec[key])
    if "label_order" in spec:
        spec["label_order"]["file"] = str(REPO / spec["label_order"]["file"])
    return spec


def test_sun397_labels_follow_lmms_owc_by_name_not_the_copys_order(tmp_path, registry):
    folders = read_class_file("sun397", REPO / "config" / "sun397" / "lmms-owc-folders.txt")
    assert len(folders) == 397 and folders[206] == "j/jail/indoor" and folders[207] == "j/jail_cell"
    # The copy's ClassLabel: the folder paths joined with spaces, qualifier last, in sorted
    # order, so that "jail cell" comes before "jail indoor": 206 and 207 are swapped.
    mirror = sorted(f[2:].replace("/", " ").replace("_", " ") for f in folders)
    assert mirror[206:208] == ["jail cell", "jail indoor"]
    picked = [0, 8, 206, 207]
    folder = hub_copy(tmp_path / "sun397", mirror, picked)
    spec = local(registry["sun397"], folder, images=4)
    prepare_dataset("sun397", spec, tmp_path / "out", tmp_path / "cache")
    manifest = load_manifest(tmp_path / "out")
    assert manifest["label_idx"].tolist() == [0, 8, 207, 206]
    assert manifest["label"].tolist() == ["abbey", "outdoor apartment building", "jail cell",
                                          "indoor jail"]  # fmt: skip
    classes = load_classes(tmp_path / "out")
    assert len(classes) == 397
    assert (classes[9], classes[206], classes[207]) == ("indoor apse", "indoor jail", "jail cell")
    # The image the copy labels "jail cell" is the one labelled "jail cell" here.
    jail_cell = manifest.loc[manifest["label"] == "jail cell", "image"].item()
    assert (tmp_path / "out" / jail_cell).read_bytes() == image(2)


def test_stanford_dogs_labels_follow_the_standard_order_by_name(tmp_path, registry):
    standard = read_class_file("dogs", REPO / "config" / "stanford_dogs" / "standard.txt")
    assert len(standard) == 120 and standard[0] == "n02085620-Chihuahua"
    breeds = [line.split("-", 1)[1] for line in standard]
    shuffled = breeds[1:]
    random.Random(0).shuffle(shuffled)
    shuffled.append("Chihuahua")  # as in the copy, whose label 119 is Chihuahua
    picked = [119, shuffled.index("German_shepherd"), shuffled.index("Shih-Tzu")]
    folder = hub_copy(tmp_path / "dogs", shuffled, picked)
    spec = local(registry["stanford_dogs"], folder, images=3)
    prepare_dataset("stanford_dogs", spec, tmp_path / "out", tmp_path / "cache")
    manifest = load_manifest(tmp_path / "out")
    assert manifest["label_idx"].tolist() == [0, breeds.index("German_shepherd"),
                                              breeds.index("Shih-Tzu")]  # fmt: skip
    assert manifest["label"].tolist() == ["Chihuahua", "German shepherd", "Shih-Tzu"]
    assert load_classes(tmp_path / "out")[:2] == ["Chihuahua", "Japanese spaniel"]


def test_a_name_that_matches_no_line_stops_the_preparation(tmp_path, registry):
    spec = local(registry["stanford_dogs"], tmp_path, images=1)
    standard = read_class_file("dogs", spec["label_order"]["file"])
    names = [line.split("-", 1)[1] for line in standard]
    names[5] = "Shih_Tzu"  # a copy that lost the hyphen
    with pytest.raises(DatasetError, match=r"not in the file: 'Shih_Tzu'.*not in the source"):
        label_order_by_name("stanford_dogs", spec, names)
    with pytest.raises(DatasetError, match="119 classes do not match the 120"):
        label_order_by_name("stanford_dogs", spec, names[:119])


def test_flowers102_test_takes_foci_names_in_label_order(tmp_path, registry):
    foci = read_class_file("flowers", REPO / "config" / "flowers102" / "foci.txt")
    assert len(foci) == len(set(foci)) == 102
    tfds = list(foci)  # the copy's names: TFDS's, which differ from FOCI's at three labels
    tfds[15], tfds[59], tfds[92] = "globe-flower", "pink-yellow dahlia?", "ball moss"
    folder = hub_copy(tmp_path / "flowers", tfds, [15, 59, 92, 0])
    spec = local(registry["flowers102-test"], folder, images=4)
    meta = prepare_dataset("flowers102-test", spec, tmp_path / "out", tmp_path / "cache")
    assert load_manifest(tmp_path / "out")["label"].tolist() == [
        "globe flower", "pink and yellow dahlia", "air plant", "pink primrose"
    ]  # fmt: skip
    assert "pink-yellow dahlia?" not in load_classes(tmp_path / "out")
    assert meta["classes_file"]["path"].endswith("config/flowers102/foci.txt")


# --- ucf101: Google Drive -------------------------------------------------------------------

QUOTA = b"""<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head><body>
<p class="uc-error-subcaption">Too many users have viewed or downloaded this file recently.
</p></body></html>"""


def virus_scan(action: str, file_id: str) -> bytes:
    return f"""<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title>
</head><body><p>Google Drive can't scan this file for viruses.</p>
<form id="download-form" action="{action}" method="get">
<input type="submit" id="uc-download-link" value="Download anyway"/>
<input type="hidden" name="id" value="{file_id}"><input type="hidden" name="export"
value="download"><input type="hidden" name="confirm" value="t"><input type="hidden"
name="uuid" value="0a1b2c"></form></body></html>""".encode()


def midframes() -> tuple[bytes, bytes]:
    """A two-class mid-frames zip and its CoOp split."""
    buffer, split = io.BytesIO(), {"train": [], "val": [], "test": []}
    with zipfile.ZipFile(buffer, "w") as bundle:
        for label, folder in enumerate(["Apply_Eye_Makeup", "Band_Marching"]):
            relpath = f"{folder}/v_{folder.replace('_', '')}_g01_c01.jpg"
            bundle.writestr(f"UCF-101-midframes/{relpath}", image(label))
            split["test"].append([relpath, label, folder])
    return buffer.getvalue(), json.dumps(split).encode()


def drive_spec(registry: dict[str, Any], base: str) -> tuple[dict[str, Any], str]:
    spec = copy.deepcopy(registry["ucf101"])
    url = spec["source"]["archive"]["url"].replace("https://drive.usercontent.google.com", base)
    spec["source"]["archive"]["url"] = url
    spec["source"]["split_file"] = {"url": f"{base}/split_zhou_UCF101.json"}
    spec["expected"] = {"classes": 2, "images": 2}
    return spec, url.removeprefix(base)


def test_ucf101_drive_quota_page_says_how_to_download_by_hand(tmp_path, registry):
    with fake_hub() as server:
        spec, path = drive_spec(registry, server.url)
        server.file("/split_zhou_UCF101.json", 200, midframes()[1])
        server.file(path, 200, QUOTA, **{"Content-Type": "text/html; charset=utf-8"})
        with pytest.raises(DatasetError) as caught:
            prepare_dataset("ucf101", spec, tmp_path / "out", tmp_path / "downloads")
    message = str(caught.value)
    manual = tmp_path / "downloads" / "manual" / "UCF-101-midframes.zip"
    assert "Google Drive answered with its 'Quota exceeded' page" in message
    assert (f"gdown 'https://drive.google.com/uc?id=10Jqome3vtUA2keJkNanAiFpgbyC9Hc2O' "
            f"-O {manual}") in message  # fmt: skip
    assert f"ucf101.source:  archive: {{path: {manual}}}" in message
    assert not list((tmp_path / "downloads").rglob("*UCF-101-midframes.zip*"))
    assert not (tmp_path / "out").exists()


def test_ucf101_drive_virus_scan_page_is_confirmed_once(tmp_path, registry, caplog):
    frames, split = midframes()
    with fake_hub() as server:
        spec, path = drive_spec(registry, server.url)
        file_id = "10Jqome3vtUA2keJkNanAiFpgbyC9Hc2O"
        server.file("/split_zhou_UCF101.json", 200, split)
        server.file(path, 200, virus_scan(f"{server.url}/download", file_id),
                    **{"Content-Type": "text/html; charset=utf-8"})  # fmt: skip
        confirmed = f"/download?id={file_id}&export=download&confirm=t&uuid=0a1b2c"
        server.file(
            confirmed,
            200,
            frames,
            **{
                "Content-Type": "application/octet-stream",
                "Content-Disposition": 'attachment; filename="UCF-101-midframes.zip"',
            },
        )
        caplog.set_level(logging.INFO)
        meta = prepare_dataset("ucf101", spec, tmp_path / "out", tmp_path / "downloads")
        requested = [request[1] for request in server.requests]
    assert requested.count(confirmed) == 1
    assert load_classes(tmp_path / "out") == ["apply eye makeup", "band marching"]
    assert meta["counts"] == {"images": 2, "classes": 2}
    assert "confirming Google Drive's 'Virus scan warning' page" in caplog.text


def test_every_class_list_the_registry_names_is_shipped_and_complete(registry):
    named = 0
    for name, spec in registry.items():
        for path in (spec.get("classes_file"), (spec.get("label_order") or {}).get("file")):
            if path:
                named += 1
                lines = read_class_file(name, REPO / path)
                assert len(lines) == len(set(lines)) == spec["expected"]["classes"], name
    assert named == 3
