"""The contrastive zero-shot protocol: CLIP / SigLIP answer by image-text similarity.

No prompt and no generation: the encoder's answer is its most similar class name, over all
classes (FOCI's ``acc``) and over the mined multiple-choice options (``acc4``), read from the
embeddings that also mined those options (:mod:`classbench.embeddings.encode`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from classbench.data import load_manifest, stratified_limit
from classbench.embeddings.encode import similarity_matrix
from classbench.inference.predictions import write_predictions
from classbench.io import read_metadata, read_parquet


def predict_zeroshot(
    dataset_root: str | os.PathLike,
    images_path: str | os.PathLike,
    classes_path: str | os.PathLike,
    options_path: str | os.PathLike,
    out: str | os.PathLike,
    metadata: Mapping[str, Any] | None = None,
    *,
    limit: int | None = None,
    seed: int = 0,
    dataset_name: str = "",
) -> pd.DataFrame:
    """The encoder's argmax over all classes (``answer``) and over the mined options
    (``answer_options``); images the encoder could not read are errors."""
    # The same stratified sample as the generative jobs, so baselines and LMMs see one image set.
    manifest = stratified_limit(load_manifest(dataset_root), limit, seed, dataset_name)
    images = read_parquet(images_path).set_index("sample_id")
    usable, similarity, classes = similarity_matrix(images_path, classes_path)
    names = classes["label"].to_numpy()
    index_of = {label: i for i, label in enumerate(names)}
    row_of = {sid: i for i, sid in enumerate(usable["sample_id"])}
    options = read_parquet(options_path).set_index("sample_id")["options"]
    template = read_metadata(classes_path).get("class_template", "{}")
    rows: list[tuple[Any, ...]] = []
    for sid, label in zip(manifest["sample_id"], manifest["label"], strict=True):
        if sid not in row_of:
            error = images.loc[sid, "error"] if sid in images.index else "image: not embedded"
            rows.append((sid, label, None, None, None, None, error))
            continue
        scores = similarity[row_of[sid]]
        shown = list(options[sid]) if sid in options.index else None
        best = names[int(np.argmax(scores))]
        restricted = (
            max(shown, key=lambda name: (scores[index_of[name]], -index_of[name]))
            if shown
            else None
        )
        rows.append((sid, label, shown, f"{best}", best, restricted, None))
    frame = pd.DataFrame(
        rows,
        columns=["sample_id", "label", "options", "raw", "answer", "answer_options", "error"],
    )
    frame.insert(1, "prompt", template)
    info = {
        **(metadata or {}),
        "backend": "contrastive",
        "limit": limit,
        "encoder": read_metadata(images_path),
    }
    write_predictions(frame, out, info)
    return frame
