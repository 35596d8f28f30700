"""Multiple-choice options (the public name; they live in :mod:`classbench.embeddings.options`)."""

from classbench.embeddings.options import (
    gt_rank,
    hardest_distractors,
    letter_permutation,
    random_distractors,
)

__all__ = [
    "gt_rank",
    "hardest_distractors",
    "letter_permutation",
    "random_distractors",
]
