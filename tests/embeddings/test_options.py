"""Distractor mining (FOCI), random distractors and letter order."""

from __future__ import annotations

import numpy as np
import pytest

from classbench.embeddings import options
from classbench.embeddings.options import (
    gt_rank,
    hardest_distractors,
    letter_permutation,
    random_distractors,
)


def foci_options(cos: np.ndarray, gt: int, top_k: int) -> list[int]:
    """FOCI's ``generate_options`` for one image, verbatim in logic."""
    indices = np.argsort(cos)[-top_k:]
    if gt not in indices:
        return [gt, *indices[1:].tolist()]
    return [gt, *[int(i) for i in indices if i != gt]]


def test_hardest_distractors_hand_made_with_ties():
    similarity = np.array(
        [
            [0.1, 0.9, 0.5, 0.5, 0.2],  # GT 0 ranked last; tie 2/3 -> lower index first
            [0.8, 0.3, 0.3, 0.3, 0.1],  # GT 0 already top; three-way tie for two places
            [0.4, 0.4, 0.4, 0.4, 0.4],  # everything tied: lowest non-GT indices
        ]
    )
    labels = np.array([0, 0, 3])
    out = hardest_distractors(similarity, labels, k=3)
    np.testing.assert_array_equal(out, [[0, 1, 2], [0, 1, 2], [3, 0, 1]])
    assert out.dtype == np.int64
    np.testing.assert_array_equal(hardest_distractors(similarity, labels, k=1), labels[:, None])
    full = hardest_distractors(similarity, labels, k=5)
    np.testing.assert_array_equal(full, [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [3, 0, 1, 2, 4]])


def test_hardest_distractors_equals_foci_on_random_matrices():
    rng = np.random.default_rng(1)
    for n_classes, k in [(5, 4), (37, 4), (100, 4), (20, 10)]:
        similarity = rng.normal(size=(300, n_classes))
        labels = rng.integers(0, n_classes, size=300)
        # Make the GT the top class for a third of the images.
        top = rng.random(300) < 1 / 3
        similarity[top, labels[top]] = similarity[top].max(axis=1) + 1.0
        out = hardest_distractors(similarity, labels, k)
        for i in range(300):
            expected = foci_options(similarity[i], labels[i], k)
            assert out[i, 0] == expected[0] == labels[i]
            assert set(out[i, 1:]) == set(expected[1:])
            # Our distractors are in decreasing similarity.
            assert np.all(np.diff(similarity[i, out[i, 1:]]) <= 0)


def test_hardest_distractors_rejects_bad_k():
    with pytest.raises(ValueError):
        hardest_distractors(np.zeros((2, 3)), np.array([0, 1]), k=4)


def test_gt_rank():
    similarity = np.array([[0.1, 0.9, 0.5], [0.8, 0.3, 0.2], [0.4, 0.4, 0.4]])
    np.testing.assert_array_equal(gt_rank(similarity, np.array([0, 0, 2])), [2, 0, 2])
    rng = np.random.default_rng(2)
    similarity = rng.normal(size=(50, 8))
    labels = rng.integers(0, 8, size=50)
    ranks = gt_rank(similarity, labels)
    expected = [
        list(np.argsort(-row)).index(lab) for row, lab in zip(similarity, labels, strict=True)
    ]
    np.testing.assert_array_equal(ranks, expected)


def test_random_distractors_distinct_gt_first_and_per_sample():
    labels = np.array([0, 4, 9, 9, 3])
    ids = ["s0", "s1", "s2", "s3", "s4"]
    out = random_distractors(10, labels, 4, seed=7, keys=("ds", "mcq"), sample_keys=ids)
    assert out.shape == (5, 4)
    np.testing.assert_array_equal(out[:, 0], labels)
    for row, label in zip(out, labels, strict=True):
        assert len(set(row)) == 4
        assert label not in row[1:]
        assert row.min() >= 0 and row.max() < 10
    # A sample's draw does not depend on the others, nor on their order.
    alone = random_distractors(10, labels[3:4], 4, seed=7, keys=("ds", "mcq"), sample_keys=["s3"])
    np.testing.assert_array_equal(alone[0], out[3])
    reversed_ = random_distractors(10, labels[::-1], 4, 7, ("ds", "mcq"), ids[::-1])
    np.testing.assert_array_equal(reversed_[::-1], out)
    # Same label, different sample key: a different draw (with overwhelming probability).
    assert not np.array_equal(out[2], out[3])
    other_seed = random_distractors(10, labels, 4, seed=8, keys=("ds", "mcq"), sample_keys=ids)
    assert not np.array_equal(other_seed, out)
    # k = n_classes uses every class.
    every = random_distractors(10, labels, 10, 7, ("ds",), ids)
    assert all(sorted(row) == list(range(10)) for row in every)


def test_letter_permutation_seeded():
    perm = letter_permutation(4, 0, "ds", "sample-1")
    assert sorted(perm) == [0, 1, 2, 3]
    np.testing.assert_array_equal(perm, letter_permutation(4, 0, "ds", "sample-1"))
    perms = {tuple(letter_permutation(4, 0, "ds", f"sample-{i}")) for i in range(100)}
    assert len(perms) > 10


def test_hardest_distractors_chunked_equals_whole(monkeypatch):
    rng = np.random.default_rng(3)
    similarity = np.round(rng.normal(size=(103, 30)), 1).astype(np.float32)  # many ties
    labels = rng.integers(0, 30, size=103)
    whole = hardest_distractors(similarity, labels, 5)
    monkeypatch.setattr(options, "_CHUNK_ROWS", 10)
    np.testing.assert_array_equal(hardest_distractors(similarity, labels, 5), whole)
    # Ties resolved exactly like a full stable sort of (-similarity) with the GT removed.
    for row, label, got in zip(similarity, labels, whole, strict=True):
        order = [c for c in np.argsort(-row.astype(np.float64), kind="stable") if c != label]
        assert got[1:].tolist() == order[:4]
