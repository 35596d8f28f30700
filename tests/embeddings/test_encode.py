"""Embeddings, FOCI option mining and the contrastive zero-shot baseline, with a tiny CLIP."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classbench.data import load_manifest, prepare_dataset, stratified_limit
from classbench.embeddings.encode import (
    embed_dataset,
    mine_options,
    predict_zeroshot,
    similarity_matrix,
)
from classbench.io import read_metadata, read_parquet

CLASSES = ["circle", "ring", "square", "triangle", "star", "cross"]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory) -> Path:
    from classbench.demo import build_tiny_model

    root = tmp_path_factory.mktemp("embed")
    spec = {"source": {"kind": "synthetic", "generator": "shapes", "images_per_class": 3},
            "classes": CLASSES, "group": "synthetic"}  # fmt: skip
    prepare_dataset("shapes", spec, root / "data")
    clip = build_tiny_model("clip", root / "clip", seed=0)
    embed_dataset(root / "data", {"checkpoint": str(clip)}, root / "img.parquet",
                  root / "cls.parquet")  # fmt: skip
    mine_options(root / "data", root / "img.parquet", root / "cls.parquet", 4, root / "opt.parquet")
    return root


def test_options_are_the_ground_truth_and_the_hardest_others(embedded):
    usable, similarity, classes = similarity_matrix(embedded / "img.parquet",
                                                    embedded / "cls.parquet")  # fmt: skip
    manifest = load_manifest(embedded / "data").set_index("sample_id")
    options = read_parquet(embedded / "opt.parquet").set_index("sample_id")
    names = classes["label"].tolist()
    for row, sid in enumerate(usable["sample_id"]):
        truth = manifest.loc[sid, "label"]
        shown = list(options.loc[sid, "options"])
        assert shown[0] == truth
        others = [i for i in np.argsort(-similarity[row], kind="stable") if names[i] != truth]
        assert shown[1:] == [names[i] for i in others[:3]]
    assert read_metadata(embedded / "opt.parquet")["k"] == 4


def test_zeroshot_predictions_follow_the_sample_limit(embedded):
    out = embedded / "zs.parquet"
    frame = predict_zeroshot(embedded / "data", embedded / "img.parquet", embedded / "cls.parquet",
                             embedded / "opt.parquet", out, limit=6, seed=3,
                             dataset_name="shapes")  # fmt: skip
    expected = stratified_limit(load_manifest(embedded / "data"), 6, 3, "shapes")
    assert frame["sample_id"].tolist() == expected["sample_id"].tolist()
    assert frame["answer"].isin(CLASSES).all()
    assert all(a in list(o) for a, o in zip(frame["answer_options"], frame["options"],
                                            strict=True))  # fmt: skip
    meta = read_metadata(out)
    assert meta["samples"] == 6 and meta["limit"] == 6 and "provenance" in meta
