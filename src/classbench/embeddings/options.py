"""Multiple-choice options: mined hard distractors, random distractors, letter order.

Hard distractors follow FOCI (Geigle et al., 2024): an image->text cosine over all classes of the
dataset, and the options are the ground truth plus the k-1 classes the contrastive encoder ranks
highest that are not the ground truth (FOCI's top-4 with the ground truth forced in). FOCI stores
those distractors in ascending similarity order and shuffles letters without a seed; here they are
stored in descending similarity order and the letter order is a seeded per-sample permutation, so
every model and run sees the same prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classbench.seeding import rng_for

# Rows processed at once, to bound the temporary copies for large datasets (ImageNet: 50k x 1k).
_CHUNK_ROWS = 4096


def _check_similarity(similarity: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    similarity = np.asarray(similarity)
    if similarity.dtype.kind != "f":
        similarity = similarity.astype(np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if similarity.ndim != 2:
        raise ValueError(f"similarity must be (n_images, n_classes), got shape {similarity.shape}")
    if labels.shape != (similarity.shape[0],):
        raise ValueError(f"labels must have shape ({similarity.shape[0]},), got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= similarity.shape[1]):
        raise ValueError("labels must be class indices in [0, n_classes)")
    if not np.isfinite(similarity).all():
        raise ValueError("similarity must be finite")
    return similarity, labels


def hardest_distractors(similarity: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Ground truth, then the k-1 most similar other classes in decreasing similarity.

    ``similarity`` is (n_images, n_classes), ``labels`` the ground-truth class index per image.
    Returns an (n_images, k) int array of class indices; ties are broken by the lower class index.
    """
    similarity, labels = _check_similarity(similarity, labels)
    n, n_classes = similarity.shape
    if not 1 <= k <= n_classes:
        raise ValueError(f"k must be in [1, {n_classes}], got {k}")
    out = np.empty((n, k), dtype=np.int64)
    out[:, 0] = labels
    if k > 1:
        for start in range(0, n, _CHUNK_ROWS):
            stop = min(start + _CHUNK_ROWS, n)
            out[start:stop, 1:] = _top_others(similarity[start:stop], labels[start:stop], k - 1)
    return out


def _top_others(similarity: np.ndarray, labels: np.ndarray, m: int) -> np.ndarray:
    """Per row, the m highest-similarity non-GT classes, by (similarity desc, index asc)."""
    n, n_classes = similarity.shape
    # Negate so that "smallest first" means "most similar first"; the GT goes last.
    key = -similarity
    key[np.arange(n), labels] = np.inf
    if m < n_classes - 1:
        top = np.argpartition(key, m - 1, axis=1)[:, :m]
    else:
        top = np.argsort(key, axis=1, kind="stable")[:, :m]
    # Order the m candidates: sort by index, then stable sort by key.
    top.sort(axis=1)
    order = np.argsort(np.take_along_axis(key, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)

    # argpartition picks arbitrarily among classes tied with the m-th value; redo those rows with
    # a full stable sort so the lowest-index tied classes win.
    boundary = np.take_along_axis(key, top[:, -1:], axis=1)
    tied_total = (key == boundary).sum(axis=1)
    tied_taken = (np.take_along_axis(key, top, axis=1) == boundary).sum(axis=1)
    redo = np.flatnonzero(tied_total > tied_taken)
    if redo.size:
        top[redo] = np.argsort(key[redo], axis=1, kind="stable")[:, :m]
    return top


def gt_rank(similarity: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Rank of the ground truth in the encoder's order (0 = ranked first).

    Counts the classes more similar than the ground truth, plus tied classes with a lower index
    (the same tie-break as :func:`hardest_distractors`).
    """
    similarity, labels = _check_similarity(similarity, labels)
    n, n_classes = similarity.shape
    gt = similarity[np.arange(n), labels][:, None]
    lower_index = np.arange(n_classes)[None, :] < labels[:, None]
    return ((similarity > gt) | ((similarity == gt) & lower_index)).sum(axis=1).astype(np.int64)


def random_distractors(
    n_classes: int,
    labels: Sequence[int] | np.ndarray,
    k: int,
    seed: int,
    keys: Sequence[object],
    sample_keys: Sequence[str],
) -> np.ndarray:
    """Ground truth, then k-1 distinct random other classes, per sample.

    Sample i draws from ``rng_for(seed, *keys, sample_keys[i])``, so its options depend only on
    its own key and label, not on which other samples are in the batch.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(sample_keys) != len(labels):
        raise ValueError("sample_keys and labels differ in length")
    if not 1 <= k <= n_classes:
        raise ValueError(f"k must be in [1, {n_classes}], got {k}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError("labels must be class indices in [0, n_classes)")
    out = np.empty((len(labels), k), dtype=np.int64)
    out[:, 0] = labels
    for i, (label, sample_key) in enumerate(zip(labels, sample_keys, strict=True)):
        # Draw among the n_classes-1 non-GT classes, then skip over the GT index.
        drawn = rng_for(seed, *keys, sample_key).choice(n_classes - 1, size=k - 1, replace=False)
        out[i, 1:] = drawn + (drawn >= label)
    return out


def letter_permutation(k: int, seed: int, *keys: object) -> np.ndarray:
    """Seeded order of presentation: letter j shows option ``perm[j]`` (options stored GT first)."""
    return rng_for(seed, *keys).permutation(k)
