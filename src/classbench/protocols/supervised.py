"""The supervised baseline: an ImageNet classifier's answers on datasets with ImageNet's classes.

The label-list thesis sets its VLMs' 1000-way accuracy beside supervised ImageNet networks
(microsoft/resnet-50, google/vit-large-patch16-224). Such a network's output ``i`` is ImageNet-1k
class ``i``; a dataset says in the registry how its own classes relate to those:

- ``imagenet_classes: all``: its class list *is* ImageNet's 1000 classes in index order
  (ImageNet, ImageNetV2, ImageNet-Sketch);
- ``imagenet_classes: [i0, i1, ...]``: dataset class ``j`` is ImageNet class ``i_j`` (an entry
  may list several indices that together form one dataset class);
- ``imagenet_index_file: path``: the same list in a file, one dataset class per line.

The answer is the dataset class holding the highest logit among the outputs mapped onto the
dataset's classes: the restricted argmax, the standard protocol for the 200-class ImageNet-R and
ImageNet-A subsets (an output outside the subset can never be the answer).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

IMAGENET_CLASSES = 1000
MAPPING_KEYS = ("imagenet_classes", "imagenet_index_file")

ClassMap = list[tuple[int, ...]]  # per dataset class (label_idx order): its model output indices


class MappingError(ValueError):
    """A dataset's ImageNet class mapping is missing, malformed or does not fit its classes."""


def declares_imagenet_classes(dataset_spec: Mapping[str, Any]) -> bool:
    """Whether a dataset registry entry maps its classes onto ImageNet-1k's."""
    return any(key in dataset_spec for key in MAPPING_KEYS)


def read_index_file(path: str | os.PathLike) -> ClassMap:
    """One dataset class per line: its ImageNet indices (whitespace or comma separated).

    Blank lines and ``#`` comments are ignored.
    """
    entries: ClassMap = []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as err:
        raise MappingError(f"imagenet_index_file {str(path)!r}: {err.strerror or err}") from None
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].replace(",", " ").strip()
        if not text:
            continue
        try:
            entries.append(tuple(int(token) for token in text.split()))
        except ValueError:
            raise MappingError(
                f"imagenet_index_file {str(path)!r}: line {number}: not integers: {line.strip()!r}"
            ) from None
    return entries


def imagenet_mapping(
    dataset_spec: Mapping[str, Any],
    n_classes: int | None = None,
    base_dir: str | os.PathLike | None = None,
) -> ClassMap:
    """The model output indices of every dataset class, in label-index order.

    ``n_classes`` (the dataset's number of classes, when known) is checked against the mapping;
    ``imagenet_index_file`` is read relative to ``base_dir`` (default: the working directory).
    """
    if "imagenet_index_file" in dataset_spec:
        path = Path(dataset_spec["imagenet_index_file"])
        if base_dir is not None and not path.is_absolute():
            path = Path(base_dir) / path
        mapping = read_index_file(path)
    elif dataset_spec.get("imagenet_classes") == "all":
        mapping = [(i,) for i in range(IMAGENET_CLASSES if n_classes is None else n_classes)]
    elif "imagenet_classes" in dataset_spec:
        mapping = [
            (entry,) if isinstance(entry, int) else tuple(entry)
            for entry in dataset_spec["imagenet_classes"]
        ]
    else:
        raise MappingError("the dataset declares no imagenet_classes / imagenet_index_file")
    if n_classes is not None and len(mapping) != n_classes:
        raise MappingError(
            f"the ImageNet mapping lists {len(mapping)} classes but the dataset has {n_classes}"
        )
    flat = [i for entry in mapping for i in entry]
    if not mapping or any(not entry for entry in mapping):
        raise MappingError("every dataset class needs at least one ImageNet index")
    if min(flat) < 0:
        raise MappingError(f"negative ImageNet index {min(flat)}")
    if len(set(flat)) != len(flat):
        raise MappingError("an ImageNet index is mapped onto more than one dataset class")
    return mapping


def restricted_argmax(logits: np.ndarray, mapping: ClassMap) -> np.ndarray:
    """Per row of ``logits`` (n, n_outputs): the dataset class holding the highest mapped logit.

    Outputs not in ``mapping`` are ignored; a tie goes to the output listed first.
    """
    flat = np.array([i for entry in mapping for i in entry], dtype=np.int64)
    owner = np.array([j for j, entry in enumerate(mapping) for _ in entry], dtype=np.int64)
    if flat.size and flat.max() >= logits.shape[1]:
        raise MappingError(
            f"the mapping uses output {int(flat.max())} but the model has {logits.shape[1]}"
        )
    if len(logits) == 0:
        return np.zeros(0, dtype=np.int64)
    return owner[np.argmax(logits[:, flat], axis=1)]


def predict_supervised(
    dataset_root: str | os.PathLike,
    dataset_spec: Mapping[str, Any],
    model_spec: Mapping[str, Any],
    out: str | os.PathLike,
    metadata: Mapping[str, Any] | None = None,
    *,
    limit: int | None = None,
    seed: int = 0,
    dataset_name: str = "",
    chunk_size: int = 256,
    base_dir: str | os.PathLike | None = None,
    classifier: Any = None,
) -> Any:
    """Write the supervised baseline's predictions file for one (dataset, model).

    ``answer`` is the dataset class of the restricted argmax, ``raw`` the model's own top-1 label
    over all its outputs (what it would say unrestricted). An unreadable image gets ``error`` and
    no answer. ``classifier`` (an :class:`~classbench.backends.classifier.ImageClassifier`) is
    built from ``model_spec`` unless given.
    """
    import pandas as pd

    from classbench.data import load_classes, load_manifest, stratified_limit
    from classbench.images import ImageLoadError, load_image
    from classbench.inference.predictions import write_predictions

    root = Path(dataset_root)
    # The same stratified sample as every other job, so baselines and LMMs see one image set.
    manifest = stratified_limit(load_manifest(root), limit, seed, dataset_name)
    classes = list(load_classes(root))
    mapping = imagenet_mapping(dataset_spec, len(classes), base_dir)
    if classifier is None:
        from classbench.backends import CLASSIFIER, load_model

        classifier = load_model({"backend": "classifier", **model_spec}, role=CLASSIFIER)
    # Fail before any image is read when the model cannot cover the dataset's classes.
    restricted_argmax(np.zeros((0, classifier.num_classes), np.float32), mapping)
    raws: list[str | None] = []
    answers: list[str | None] = []
    errors: list[str | None] = []
    seconds = 0.0
    for start in range(0, len(manifest), chunk_size):
        images = []
        slots: list[int | None] = []  # index into images; None: unreadable
        for relative in manifest["image"].iloc[start : start + chunk_size]:
            try:
                images.append(load_image(root / relative))
                slots.append(len(images) - 1)
            except (ImageLoadError, FileNotFoundError) as err:
                slots.append(None)
                errors.append(f"image: {err}")
                continue
            errors.append(None)
        began = time.perf_counter()
        logits = classifier.logits(images)
        seconds += time.perf_counter() - began
        chosen = restricted_argmax(logits, mapping)
        top = np.argmax(logits, axis=1) if len(logits) else np.zeros(0, np.int64)
        for slot in slots:
            answers.append(None if slot is None else classes[int(chosen[slot])])
            raws.append(None if slot is None else classifier.labels[int(top[slot])])
    frame = pd.DataFrame(
        {
            "sample_id": manifest["sample_id"].to_numpy(),
            "prompt": None,
            "options": None,
            "raw": raws,
            "answer": answers,
            "error": errors,
            "label": manifest["label"].to_numpy(),
        }
    )
    answered = int(frame["error"].isna().sum())
    info: dict[str, Any] = {
        **(metadata or {}),
        "backend": "classifier",
        "checkpoint": model_spec.get("checkpoint"),
        "revision": model_spec.get("revision"),
        "classifier": classifier.info(),
        "imagenet_classes": _describe(dataset_spec, mapping),
        "limit": limit,
        "throughput": {
            "images_per_s": answered / seconds if seconds > 0 else None,
            "generation_s": seconds,
        },
    }
    write_predictions(frame, out, info)
    return frame


def _describe(dataset_spec: Mapping[str, Any], mapping: Sequence[tuple[int, ...]]) -> Any:
    if dataset_spec.get("imagenet_classes") == "all":
        return "all"
    source = dataset_spec.get("imagenet_index_file", "inline")
    return {"source": source, "classes": len(mapping), "outputs": [list(e) for e in mapping]}
