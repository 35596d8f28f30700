"""Distractor mining at its edges: many options, two options, integer or float inputs, and the
reason given for every refused input."""

from __future__ import annotations

import numpy as np
import pytest

from classbench.embeddings.options import gt_rank, hardest_distractors, random_distractors


def reference(similarity: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Ground truth, then the other classes by a full stable sort of decreasing similarity."""
    rows = []
    for row, label in zip(similarity, labels, strict=True):
        order = [int(c) for c in np.argsort(-row, kind="stable") if c != label]
        rows.append([int(label), *order[: k - 1]])
    return np.array(rows, dtype=np.int64)


@pytest.mark.parametrize(("n_classes", "k"), [(1000, 207), (1000, 307), (300, 157), (50, 49)])
def test_many_distractors_are_the_most_similar_in_order(n_classes, k):
    """A large k takes the partial-selection path in full: every distractor is among the k-1
    most similar, in order. A partition one place off still picks the right classes for most
    rows (always for a small k), hence many rows of many classes."""
    rng = np.random.default_rng(n_classes + k)
    similarity = rng.normal(size=(100, n_classes))
    labels = rng.integers(0, n_classes, size=100)
    np.testing.assert_array_equal(
        hardest_distractors(similarity, labels, k), reference(similarity, labels, k)
    )


def test_two_options_are_the_ground_truth_and_the_most_similar_other():
    similarity = np.array([[0.1, 0.7, 0.3], [0.9, 0.2, 0.5], [0.4, 0.4, 0.1]])
    labels = np.array([0, 0, 1])
    np.testing.assert_array_equal(
        hardest_distractors(similarity, labels, 2), [[0, 1], [0, 2], [1, 0]]
    )


def test_integer_similarities_and_float_labels_are_read_as_numbers():
    """Integer scores (counts, votes) are compared as numbers; class indices read back as floats
    (a parquet column with a gap) index as integers."""
    similarity = np.array([[3, 9, 5, 1], [2, 2, 8, 4]])
    expected = [[0, 1, 2], [3, 2, 0]]
    np.testing.assert_array_equal(hardest_distractors(similarity, [0, 3], 3), expected)
    np.testing.assert_array_equal(
        hardest_distractors(similarity, np.array([0.0, 3.0]), 3), expected
    )
    ranks = gt_rank(similarity, np.array([0.0, 3.0]))
    np.testing.assert_array_equal(ranks, [2, 1])
    assert ranks.dtype == np.int64


def test_random_distractors_with_one_option_and_integer_output():
    out = random_distractors(5, [4, 0], 1, 0, ("ds",), ["a", "b"])
    np.testing.assert_array_equal(out, [[4], [0]])
    assert out.dtype == np.int64
    assert random_distractors(5, [4, 0], 3, 0, ("ds",), ["a", "b"]).dtype == np.int64


def test_random_distractors_depend_on_the_keys():
    """The draw is seeded by the keys (dataset, task) as well as the sample: two tasks on the same
    images get their own distractors."""
    labels, samples = [0] * 20, [f"s{i}" for i in range(20)]
    first = random_distractors(100, labels, 4, 0, ("ds", "task-a"), samples)
    again = random_distractors(100, labels, 4, 0, ("ds", "task-a"), samples)
    other = random_distractors(100, labels, 4, 0, ("ds", "task-b"), samples)
    np.testing.assert_array_equal(first, again)
    assert (first[:, 1:] != other[:, 1:]).any()


SIMILARITY = np.zeros((2, 3))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: hardest_distractors(np.zeros(3), [0], 1),
         r"^similarity must be \(n_images, n_classes\), got shape \(3,\)$"),
        (lambda: hardest_distractors(SIMILARITY, [0, 1, 2], 1),
         r"^labels must have shape \(2,\), got \(3,\)$"),
        (lambda: hardest_distractors(SIMILARITY, [0, -1], 1),
         r"^labels must be class indices in \[0, n_classes\)$"),
        (lambda: hardest_distractors(SIMILARITY, [0, 3], 1),
         r"^labels must be class indices in \[0, n_classes\)$"),
        (lambda: gt_rank(np.array([[0.0, np.nan]]), [0]), r"^similarity must be finite$"),
        (lambda: hardest_distractors(SIMILARITY, [0, 1], 4), r"^k must be in \[1, 3\], got 4$"),
        (lambda: random_distractors(3, [0, 1], 2, 0, (), ["a"]),
         r"^sample_keys and labels differ in length$"),
        (lambda: random_distractors(3, [0], 0, 0, (), ["a"]), r"^k must be in \[1, 3\], got 0$"),
        (lambda: random_distractors(3, [-1], 2, 0, (), ["a"]),
         r"^labels must be class indices in \[0, n_classes\)$"),
        (lambda: random_distractors(3, [3], 2, 0, (), ["a"]),
         r"^labels must be class indices in \[0, n_classes\)$"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_its_reason(call, message):
    with pytest.raises(ValueError, match=message):
        call()
