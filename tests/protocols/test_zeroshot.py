"""The contrastive zero-shot protocol: a tiny CLIP's most similar class, over all classes and
over the mined options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import SHAPES

from classbench.data import load_manifest, stratified_limit
from classbench.embeddings.encode import similarity_matrix
from classbench.io import read_metadata
from classbench.protocols.zeroshot import predict_zeroshot


def _predict(root: Path, out: Path, **kwargs):
    return predict_zeroshot(root / "data", root / "img.parquet", root / "cls.parquet",
                            root / "opt.parquet", out, **kwargs)  # fmt: skip


def test_zeroshot_predictions_follow_the_sample_limit(clip_embedded: Path) -> None:
    out = clip_embedded / "zs.parquet"
    frame = _predict(clip_embedded, out, limit=6, seed=3, dataset_name="shapes")
    expected = stratified_limit(load_manifest(clip_embedded / "data"), 6, 3, "shapes")
    assert frame["sample_id"].tolist() == expected["sample_id"].tolist()
    assert frame["answer"].isin(SHAPES).all()
    assert all(a in list(o) for a, o in zip(frame["answer_options"], frame["options"],
                                            strict=True))  # fmt: skip
    meta = read_metadata(out)
    assert meta["samples"] == 6 and meta["limit"] == 6 and "provenance" in meta


def test_answers_are_the_most_similar_class_and_option(clip_embedded: Path) -> None:
    frame = _predict(clip_embedded, clip_embedded / "all.parquet").set_index("sample_id")
    usable, similarity, classes = similarity_matrix(clip_embedded / "img.parquet",
                                                    clip_embedded / "cls.parquet")  # fmt: skip
    names = classes["label"].tolist()
    assert len(frame) == len(usable) == 18 and frame["error"].isna().all()
    for row, sid in enumerate(usable["sample_id"]):
        scores = similarity[row]
        assert frame.loc[sid, "answer"] == names[int(np.argmax(scores))]
        shown = list(frame.loc[sid, "options"])
        best_shown = max(scores[names.index(name)] for name in shown)
        assert scores[names.index(frame.loc[sid, "answer_options"])] == best_shown
