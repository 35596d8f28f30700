"""The supervised ImageNet baseline: tiny classifiers, the class mapping, planning, predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from workflow_helpers import (
    make_workdir,
    planned_jobs,
    sensitivity_off_for_another_selection,
    snakemake,
)

from classbench.config import ConfigError, load_study
from classbench.data import load_manifest, prepare_dataset, stratified_limit
from classbench.demo import CLASSIFIER_FAMILIES, build_tiny_model
from classbench.io import read_metadata, read_parquet
from classbench.protocols.supervised import (
    MappingError,
    imagenet_mapping,
    predict_supervised,
    read_index_file,
    restricted_argmax,
)
from classbench.report.build import table_plan
from classbench.report.tables import supervised_table
from classbench.scoring.score import score_predictions

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "workflow" / "schemas"
CLASSES = ["circle", "ring", "square", "triangle", "star", "cross"]
# The synthetic set's six classes are ImageNet classes 3, 7, 1, 5, 0 and 2 (any order works).
INDICES = [3, 7, 1, 5, 0, 2]
CONTRACT = ["sample_id", "prompt", "options", "raw", "answer", "error", "label"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("classifiers")
    return {f: build_tiny_model(f, root / f, seed=0, num_labels=8) for f in CLASSIFIER_FAMILIES}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("data") / "shapes"
    spec = {"source": {"kind": "synthetic", "generator": "shapes", "images_per_class": 3},
            "classes": CLASSES, "group": "synthetic", "imagenet_classes": INDICES}  # fmt: skip
    prepare_dataset("shapes", spec, root)
    return root, spec


def _images() -> list[Image.Image]:
    return [
        Image.new("RGB", (100, 120), (200, 40, 40)),
        Image.new("RGB", (230, 170), (40, 40, 200)),
        Image.new("L", (64, 64), 128),
    ]


# --- tiny models and the backend --------------------------------------------------------------


@pytest.mark.parametrize("family", CLASSIFIER_FAMILIES)
def test_tiny_classifier_reloads_through_the_auto_classes(tiny, family):
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    model = AutoModelForImageClassification.from_pretrained(tiny[family])
    processor = AutoImageProcessor.from_pretrained(tiny[family])
    assert model.config.num_labels == 8
    assert model.config.id2label[7] == "class 7"
    expected = {"vit_classifier": "ViTImage", "resnet_classifier": "ConvNextImage"}
    assert type(processor).__name__.startswith(expected[family] + "Processor")
    pixels = processor(images=_images()[:1], return_tensors="pt")["pixel_values"]
    assert tuple(pixels.shape) == (1, 3, 56, 56)


@pytest.mark.parametrize("family", CLASSIFIER_FAMILIES)
def test_batched_logits_equal_single(tiny, family):
    from classbench.backends.classifier import ImageClassifier

    batched = ImageClassifier(tiny[family], batch_size=2)
    single = ImageClassifier(tiny[family], batch_size=1)
    assert batched.num_classes == 8 and batched.labels[0] == "class 0"
    assert batched.info()["num_classes"] == 8 and batched.info()["dtype"] == "float32"
    together = batched.logits(_images())
    assert together.shape == (3, 8) and together.dtype == np.float32
    np.testing.assert_allclose(together, single.logits(_images()), atol=1e-5)
    assert batched.logits([]).shape == (0, 8)


def test_tiny_classifier_defaults_to_imagenet_outputs_and_is_seeded(tmp_path):
    first = build_tiny_model("resnet_classifier", tmp_path / "a", seed=3)
    second = build_tiny_model("resnet_classifier", tmp_path / "b", seed=3)
    config = yaml.safe_load((first / "config.json").read_text())
    assert len(config["id2label"]) == 1000
    assert (first / "model.safetensors").read_bytes() == (second / "model.safetensors").read_bytes()
    with pytest.raises(ValueError, match="num_labels"):
        build_tiny_model("clip", tmp_path / "c", num_labels=4)


# --- mapping and the restricted argmax --------------------------------------------------------


def test_imagenet_mapping_forms(tmp_path):
    assert imagenet_mapping({"imagenet_classes": "all"}) == [(i,) for i in range(1000)]
    assert imagenet_mapping({"imagenet_classes": "all"}, 4) == [(0,), (1,), (2,), (3,)]
    assert imagenet_mapping({"imagenet_classes": [5, [9, 2]]}, 2) == [(5,), (9, 2)]
    index = tmp_path / "subset.txt"
    index.write_text("# header\n5  # n01\n\n9 2\n3,4\n")
    assert read_index_file(index) == [(5,), (9, 2), (3, 4)]
    spec = {"imagenet_index_file": "subset.txt"}
    assert imagenet_mapping(spec, 3, base_dir=tmp_path) == [(5,), (9, 2), (3, 4)]
    with pytest.raises(MappingError, match="lists 3 classes but the dataset has 4"):
        imagenet_mapping(spec, 4, base_dir=tmp_path)
    with pytest.raises(MappingError, match="more than one dataset class"):
        imagenet_mapping({"imagenet_classes": [1, [2, 1]]})
    with pytest.raises(MappingError, match="No such file"):
        imagenet_mapping({"imagenet_index_file": "missing.txt"}, base_dir=tmp_path)
    index.write_text("5\nseven\n")
    with pytest.raises(MappingError, match="line 2"):
        read_index_file(index)
    with pytest.raises(MappingError, match="declares no"):
        imagenet_mapping({})


def test_shipped_imagenet_subsets():
    for name in ("imagenet-r", "imagenet-a"):
        mapping = read_index_file(REPO / "config" / "imagenet" / f"{name}.txt")
        flat = [i for (i,) in mapping]
        assert len(flat) == 200 and flat == sorted(set(flat)) and 0 <= flat[0] < flat[-1] < 1000
    first = read_index_file(REPO / "config" / "imagenet" / "imagenet-a.txt")[:4]
    assert first == [(6,), (11,), (13,), (15,)]


def test_restricted_argmax_on_hand_made_logits():
    logits = np.array(
        [
            [0.0, 1.0, 9.0, 2.0, 0.5],  # output 2 wins overall but is not mapped -> output 3
            [3.0, 1.0, 0.0, 2.0, 4.0],  # output 4 belongs to class 0 with output 0
            [0.0, 1.0, 0.0, 1.0, 0.0],  # outputs 3 and 1 tie: the first listed (3) wins
        ],
        dtype=np.float32,
    )
    mapping = [(0, 4), (3,), (1,)]
    assert restricted_argmax(logits, mapping).tolist() == [1, 0, 1]
    assert restricted_argmax(logits, [(1,), (3,)]).tolist() == [1, 1, 0]
    assert restricted_argmax(logits[:0], mapping).shape == (0,)
    with pytest.raises(MappingError, match="uses output 7 but the model has 5"):
        restricted_argmax(logits, [(0,), (7,)])


# --- planning ---------------------------------------------------------------------------------


def _study(tmp_path: Path, edit=None, **changes):
    registries = {}
    demo = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    for kind in ("datasets", "models", "tasks"):
        files = demo["registries"].get(kind, f"config/{kind}.yaml")
        content = {}
        for name in [files] if isinstance(files, str) else files:
            content.update(yaml.safe_load((REPO / name).read_text()))
        if kind == "datasets":
            content["shapes"]["imagenet_classes"] = INDICES
        if edit is not None:
            edit(kind, content)
        path = tmp_path / f"{kind}.yaml"
        path.write_text(yaml.safe_dump(content, sort_keys=False))
        registries[kind] = str(path)
    selection = {
        "models": ["qwen2-vl-tiny", "clip-tiny", "resnet-classifier-tiny"],
        "tasks": ["owc-base", "zeroshot", "supervised"],
        **changes,
    }
    config = {**demo, "registries": registries, **selection}
    sensitivity_off_for_another_selection(config, selection)
    return load_study(config, SCHEMAS, check_packages=False)


def test_planning_pairs_supervised_with_classifiers_on_mapped_datasets(tmp_path):
    study = _study(tmp_path)
    jobs = {(j.dataset, j.task, j.model) for j in study.jobs}
    assert {j for j in jobs if j[1] == "supervised"} == {
        ("shapes", "supervised", "resnet-classifier-tiny")
    }
    assert {j[1] for j in jobs if j[2] == "resnet-classifier-tiny"} == {"supervised"}
    assert ("patterns", "owc-base", "qwen2-vl-tiny") in jobs
    assert ("shapes", "zeroshot", "clip-tiny") in jobs
    assert study.model_spec("resnet-classifier-tiny")["batch_size"] == 64
    assert study.resources("resnet-classifier-tiny")["gpus"] == 0
    assert study.resources("resnet-50")["gpus"] == 1
    # Only the supervised jobs read the mapping: other jobs' (and preparation's) params lack it.
    assert "imagenet_classes" not in study.dataset_spec("shapes")
    assert study.dataset_spec("shapes")["classes"] == CLASSES


def test_planning_rejects_a_mapping_that_does_not_fit(tmp_path):
    def short(kind, content):
        if kind == "datasets":
            content["shapes"]["imagenet_classes"] = [1, 2, 3]

    with pytest.raises(ConfigError, match="shapes: the ImageNet mapping lists 3 classes"):
        _study(tmp_path, short)

    def both(kind, content):
        if kind == "datasets":
            content["patterns"]["imagenet_classes"] = "all"
            content["patterns"]["imagenet_index_file"] = "x.txt"

    with pytest.raises(ConfigError, match="cannot be combined with 'imagenet_index_file'"):
        _study(tmp_path, both)

    def bad(kind, content):
        if kind == "datasets":
            content["patterns"]["imagenet_classes"] = "some"

    with pytest.raises(ConfigError, match="patterns"):
        _study(tmp_path, bad)


def test_full_study_pairs_the_real_classifiers_with_imagenet_sets(monkeypatch):
    monkeypatch.chdir(REPO)  # the index files are relative to the repository
    study = load_study(yaml.safe_load((REPO / "config" / "study.yaml").read_text()), SCHEMAS,
                       check_packages=False)  # fmt: skip
    pairs = {(j.dataset, j.model) for j in study.jobs if j.task == "supervised"}
    mapped = {"imagenet", "imagenetv2", "imagenet-sketch", "imagenet-r", "imagenet-a"}
    assert pairs == {(d, m) for d in mapped for m in ("resnet-50", "vit-large-patch16-224")}
    assert {j.task for j in study.jobs if j.model in ("resnet-50", "vit-large-patch16-224")} == {
        "supervised"
    }


# --- predictions ------------------------------------------------------------------------------


def test_predictions_contract_and_metadata(tiny, dataset, tmp_path):
    from classbench.backends.classifier import ImageClassifier

    root, spec = dataset
    out = tmp_path / "pred.parquet"
    model_spec = {"backend": "classifier", "checkpoint": str(tiny["vit_classifier"])}
    frame = predict_supervised(
        root, spec, model_spec, out, {"dataset": "shapes", "task": "supervised", "model": "vit"},
        limit=12, seed=7, dataset_name="shapes",
    )  # fmt: skip
    saved = read_parquet(out)
    assert list(saved.columns) == CONTRACT
    expected = stratified_limit(load_manifest(root), 12, 7, "shapes")
    assert saved["sample_id"].tolist() == expected["sample_id"].tolist()
    assert saved["label"].tolist() == expected["label"].tolist()
    assert saved["prompt"].isna().all() and saved["options"].isna().all()
    assert saved["error"].isna().all() and saved["answer"].isin(CLASSES).all()
    # The answer is the restricted argmax of the model's own logits over the mapped outputs.
    classifier = ImageClassifier(tiny["vit_classifier"])
    from classbench.images import load_image

    logits = classifier.logits([load_image(root / p) for p in expected["image"]])
    assert saved["answer"].tolist() == [CLASSES[j] for j in restricted_argmax(logits, [
        (i,) for i in INDICES])]  # fmt: skip
    assert saved["raw"].tolist() == [f"class {i}" for i in logits.argmax(axis=1)]
    meta = read_metadata(out)
    assert meta["backend"] == "classifier" and meta["model"] == "vit"
    assert meta["checkpoint"] == str(tiny["vit_classifier"])
    assert meta["classifier"]["num_classes"] == 8
    assert meta["imagenet_classes"]["outputs"] == [[i] for i in INDICES]
    assert meta["samples"] == 12 and meta["errors"] == 0 and meta["limit"] == 12
    assert meta["throughput"]["generation_s"] > 0
    assert "versions" in meta["provenance"]
    scores = score_predictions(frame, {"protocol": "supervised", "metrics": ["accuracy"]})
    assert scores["valid"].all()
    assert scores["accuracy"].tolist() == (saved["answer"] == saved["label"]).astype(float).tolist()


def test_unreadable_image_is_an_error_never_a_prediction(tiny, dataset, tmp_path):
    import shutil

    root, spec = dataset
    broken = tmp_path / "shapes"
    shutil.copytree(root, broken)
    manifest = load_manifest(broken)
    (broken / manifest["image"].iloc[0]).write_bytes(b"not an image")
    (broken / manifest["image"].iloc[1]).unlink()
    out = tmp_path / "pred.parquet"
    model_spec = {"checkpoint": str(tiny["resnet_classifier"]), "batch_size": 4}
    frame = predict_supervised(broken, spec, model_spec, out, chunk_size=5)
    assert frame["error"].iloc[0].startswith("image: ") and frame["error"].iloc[1]
    assert frame["answer"].iloc[:2].isna().all() and frame["raw"].iloc[:2].isna().all()
    assert frame["error"].iloc[2:].isna().all() and frame["answer"].iloc[2:].notna().all()
    assert read_metadata(out)["errors"] == 2
    scores = score_predictions(frame, {"protocol": "supervised", "metrics": ["accuracy"]})
    assert scores["valid"].tolist() == [False, False] + [True] * (len(frame) - 2)
    assert scores["accuracy"].iloc[:2].isna().all()


def test_a_model_too_small_for_the_mapping_fails_before_reading(tiny, dataset, tmp_path):
    root, _ = dataset
    spec = {"imagenet_classes": [3, 7, 1, 5, 0, 9]}  # output 9 of an 8-output model
    with pytest.raises(MappingError, match="uses output 9 but the model has 8"):
        predict_supervised(root, spec, {"checkpoint": str(tiny["vit_classifier"])},
                           tmp_path / "p.parquet")  # fmt: skip
    assert not (tmp_path / "p.parquet").exists()


# --- report -----------------------------------------------------------------------------------


def test_supervised_table():
    assert "supervised" in table_plan({"supervised": "supervised", "mcq4": "mcq"}, [])
    assert "supervised" not in table_plan({"mcq4": "mcq"}, [])
    rows = [
        ("imagenet", "supervised", "resnet-50", 0.76),
        ("imagenet-r", "supervised", "resnet-50", 0.36),
        ("imagenet", "supervised", "vit-l", 0.85),
        ("imagenet", "mcq4", "qwen", 0.9),
    ]
    summary = pd.DataFrame(
        [
            {"dataset": d, "group": "prototypical", "task": t, "model": m, "metric": "accuracy",
             "value": v, "ci_low": v - 0.01, "ci_high": v + 0.01, "n": 100, "n_invalid": 0}
            for d, t, m, v in rows
        ]
    )  # fmt: skip
    _, numeric = supervised_table(summary, {"mcq4": "mcq", "supervised": "supervised"})
    assert list(numeric.index) == [("supervised", "resnet-50"), ("supervised", "vit-l")]
    assert numeric.loc[("supervised", "resnet-50"), ("Avg", "value")] == pytest.approx(0.56)
    assert np.isnan(numeric.loc[("supervised", "vit-l"), ("Avg", "value")])  # lacks imagenet-r


# --- the workflow -----------------------------------------------------------------------------


@pytest.mark.slow
def test_classify_rule_end_to_end(tmp_path):
    """The `classify` rule on the synthetic set, through scoring to the supervised table."""
    workdir = make_workdir(tmp_path / "work")
    registry = workdir / "config" / "datasets.yaml"
    datasets = yaml.safe_load(registry.read_text())
    datasets["shapes"]["imagenet_classes"] = INDICES
    registry.write_text(yaml.safe_dump(datasets, sort_keys=False))
    config = yaml.safe_load((workdir / "config" / "demo.yaml").read_text())
    # Only the mapped set: a supervised-only study naming one without a mapping is refused.
    selection = {"datasets": ["shapes"], "models": ["resnet-classifier-tiny"],
                 "tasks": ["supervised"], "limit": 12}  # fmt: skip
    config.update(selection)
    sensitivity_off_for_another_selection(config, selection)
    (workdir / "config" / "sup.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    targets = ["results/tables/supervised.csv", "results/tables/cost.csv",
               "results/gallery/shapes/supervised.html"]  # fmt: skip
    dry = snakemake(workdir, "-n", *targets, configfile="config/sup.yaml")
    assert planned_jobs(dry.stdout)["classify"] == 1
    snakemake(workdir, *targets, configfile="config/sup.yaml")
    predictions = workdir / "results/predictions/shapes/supervised/resnet-classifier-tiny.parquet"
    assert list(read_parquet(predictions).columns) == CONTRACT
    meta = read_metadata(predictions)
    assert meta["task"] == "supervised" and meta["samples"] == 12
    assert meta["model_spec"]["checkpoint"] == "resources/models/resnet-classifier-tiny"
    table = pd.read_csv(workdir / "results/tables/supervised.csv")
    assert "resnet-classifier-tiny" in table.to_string()
    cost = pd.read_csv(workdir / "results/tables/cost.csv")
    assert "resnet-classifier-tiny" in cost.to_string()
    assert "resnet-classifier-tiny" in (workdir / targets[2]).read_text()
