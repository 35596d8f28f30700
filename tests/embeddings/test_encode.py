"""Embeddings and FOCI option mining, with a tiny CLIP."""

from __future__ import annotations

import numpy as np

from classbench.data import load_manifest
from classbench.embeddings.encode import similarity_matrix
from classbench.io import read_metadata, read_parquet


def test_options_are_the_ground_truth_and_the_hardest_others(clip_embedded):
    usable, similarity, classes = similarity_matrix(clip_embedded / "img.parquet",
                                                    clip_embedded / "cls.parquet")  # fmt: skip
    manifest = load_manifest(clip_embedded / "data").set_index("sample_id")
    options = read_parquet(clip_embedded / "opt.parquet").set_index("sample_id")
    names = classes["label"].tolist()
    for row, sid in enumerate(usable["sample_id"]):
        truth = manifest.loc[sid, "label"]
        shown = list(options.loc[sid, "options"])
        assert shown[0] == truth
        others = [i for i in np.argsort(-similarity[row], kind="stable") if names[i] != truth]
        assert shown[1:] == [names[i] for i in others[:3]]
    assert read_metadata(clip_embedded / "opt.parquet")["k"] == 4
