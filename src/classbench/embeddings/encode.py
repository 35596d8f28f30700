"""Contrastive embeddings of a dataset, and the multiple-choice options mined from them.

One embedding pass per (dataset, encoder) feeds both the multiple-choice option mining (FOCI) and
the encoder's zero-shot predictions (:mod:`classbench.protocols.zeroshot`), so the baseline and
the options can never disagree about the encoder's view.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from classbench.backends import EMBEDDING, load_model
from classbench.data import load_classes, load_manifest
from classbench.embeddings.options import gt_rank, hardest_distractors
from classbench.images import ImageLoadError, load_image
from classbench.io import read_metadata, read_parquet, write_parquet


def embed_dataset(
    dataset_root: str | os.PathLike,
    encoder_spec: Mapping[str, Any],
    images_out: str | os.PathLike,
    classes_out: str | os.PathLike,
    *,
    chunk_size: int = 256,
) -> None:
    """Write per-sample image embeddings and per-class text embeddings (L2-normalised).

    An unreadable image gets a null embedding and an ``error``; it is never mined or predicted.
    """
    manifest = load_manifest(dataset_root)
    classes = load_classes(dataset_root)
    # An encoder entry is a contrastive model unless it names another embedding backend.
    encoder = load_model({"backend": "contrastive", **encoder_spec}, role=EMBEDDING)
    root = Path(dataset_root)
    embeddings: list[np.ndarray | None] = []
    errors: list[str | None] = []
    for start in tqdm(range(0, len(manifest), chunk_size), desc="embed images", unit="chunk"):
        chunk = manifest.iloc[start : start + chunk_size]
        images = []
        slots: list[int | None] = []  # index into images; None: unreadable
        for relative in chunk["image"]:
            try:
                images.append(load_image(root / relative))
                slots.append(len(images) - 1)
                errors.append(None)
            except (ImageLoadError, FileNotFoundError) as err:
                slots.append(None)
                errors.append(f"image: {err}")
        encoded = encoder.encode_images(images) if images else np.zeros((0, 0), np.float32)
        embeddings += [None if slot is None else encoded[slot] for slot in slots]
    info = {**encoder.info(), "classes": len(classes)}
    write_parquet(
        pd.DataFrame(
            {
                "sample_id": manifest["sample_id"],
                "embedding": [None if e is None else e.astype(np.float32) for e in embeddings],
                "error": errors,
            }
        ),
        images_out,
        metadata=info,
    )
    text = encoder.encode_classes(classes)
    write_parquet(
        pd.DataFrame(
            {
                "label_idx": np.arange(len(classes)),
                "label": classes,
                "prompt": [info["class_template"].format(c) for c in classes],
                "embedding": list(text.astype(np.float32)),
            }
        ),
        classes_out,
        metadata=info,
    )


def similarity_matrix(
    images_path: str | os.PathLike, classes_path: str | os.PathLike
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """(image rows with an embedding, their cosine similarity to every class, the classes)."""
    images = read_parquet(images_path)
    classes = read_parquet(classes_path).sort_values("label_idx").reset_index(drop=True)
    usable = images[images["embedding"].notna()].reset_index(drop=True)
    image_matrix = np.stack(usable["embedding"].to_numpy()) if len(usable) else np.zeros((0, 1))
    class_matrix = np.stack(classes["embedding"].to_numpy())
    return usable, image_matrix @ class_matrix.T, classes


def mine_options(
    dataset_root: str | os.PathLike,
    images_path: str | os.PathLike,
    classes_path: str | os.PathLike,
    k: int,
    out: str | os.PathLike,
) -> pd.DataFrame:
    """FOCI's option mining: per image the ground truth and the k-1 classes the encoder ranks
    highest among the others (image->text cosine over all classes), stored ground truth first."""
    manifest = load_manifest(dataset_root).set_index("sample_id")
    usable, similarity, classes = similarity_matrix(images_path, classes_path)
    labels = manifest.loc[usable["sample_id"], "label_idx"].to_numpy(dtype=np.int64)
    names = classes["label"].to_numpy()
    chosen = hardest_distractors(similarity, labels, k) if len(usable) else np.zeros((0, k), int)
    frame = pd.DataFrame(
        {
            "sample_id": usable["sample_id"],
            "options": [list(names[row]) for row in chosen],
            "option_idx": [row.tolist() for row in chosen],
            "gt_rank": gt_rank(similarity, labels) if len(usable) else [],
        }
    )
    write_parquet(frame, out, metadata={"k": k, "encoder": read_metadata(images_path)})
    return frame
