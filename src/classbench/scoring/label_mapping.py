"""Mapping free label-list answers onto one candidate: string rules, then a model fallback.

The cascade, recorded per sample in ``mapping``:

1. ``exact`` — the normalised answer equals a candidate name;
2. ``inclusion`` — candidate names contained in the answer as whole words, the longest winning
   when it contains the others; two unrelated names are ambiguous and go on to the fallback;
3. the task's ``fallback``: ``nli`` — zero-shot classification by natural-language inference
   (the label-list thesis: the top label of ``pipeline("zero-shot-classification",
   model="facebook/bart-large-mnli")``, loaded by the ``nli`` backend), or ``embedding`` — the
   candidate nearest to the answer by sentence-embedding cosine (all-MiniLM-L6-v2), or ``none``;
4. ``none`` — nothing decided (no answer, an empty one, or no fallback): the sample is wrong and
   counts as a parse failure.

It runs at scoring, not at inference, so changing the fallback re-runs only scoring. Both
fallbacks see each unique (answer, candidate set) once: NLI in one batched pipeline call per
distinct candidate set (the set, not its order: ``labels-all`` lists every class in a different
order per sample but is one call), embeddings through one encoding of the distinct answers and
names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from classbench.protocols.labels import match_label

FALLBACKS = ("nli", "embedding", "none")
MAPPINGS = ("exact", "inclusion", "nli", "embedding", "none")


def map_answers(
    raws: Sequence[str | None],
    options: Sequence[Sequence[str] | None],
    *,
    fallback: str = "none",
    nli_loader: Callable[[], Any] | None = None,
    encoder_loader: Callable[[], Any] | None = None,
    encode_batch_size: int = 256,
) -> pd.DataFrame:
    """One row per answer: the mapped candidate (``answer``, or None) and ``mapping``.

    ``raws[i]`` None (a failed request) maps to ``none``. The loaders are called only when some
    answer reaches the fallback.
    """
    if fallback not in FALLBACKS:
        raise ValueError(f"unknown label-mapping fallback '{fallback}' (known: {FALLBACKS})")
    if len(raws) != len(options):
        raise ValueError(f"{len(raws)} answers but {len(options)} candidate lists")
    answers: list[str | None] = [None] * len(raws)
    mappings = ["none"] * len(raws)
    pending: list[tuple[int, str, tuple[str, ...]]] = []
    for i, (raw, candidates) in enumerate(zip(raws, options, strict=True)):
        if raw is None or candidates is None:
            continue
        candidates = tuple(str(c) for c in candidates)
        label, status = match_label(raw, candidates)
        if label is not None:
            answers[i], mappings[i] = label, status
        elif status in ("no_match", "ambiguous") and fallback != "none":
            pending.append((i, raw.strip(), candidates))
    if pending:
        pairs = [(text, candidates) for _, text, candidates in pending]
        if fallback == "nli":
            if nli_loader is None:
                raise ValueError("the 'nli' label-mapping fallback needs an NLI model")
            chosen = nli_choices(pairs, nli_loader())
        else:
            if encoder_loader is None:
                raise ValueError("the 'embedding' label-mapping fallback needs a sentence encoder")
            chosen = embedding_choices(pairs, encoder_loader(), batch_size=encode_batch_size)
        for (i, _, _), label in zip(pending, chosen, strict=True):
            answers[i], mappings[i] = label, fallback
    return pd.DataFrame({"answer": answers, "mapping": mappings})


def _unique(pairs: Sequence[tuple[str, tuple[str, ...]]]) -> dict[tuple[str, frozenset[str]], int]:
    """Position of each distinct (answer, candidate set) in first-seen order."""
    seen: dict[tuple[str, frozenset[str]], int] = {}
    for text, candidates in pairs:
        seen.setdefault((text, frozenset(candidates)), len(seen))
    return seen


def nli_choices(pairs: Sequence[tuple[str, tuple[str, ...]]], classifier: Any) -> list[str]:
    """The top zero-shot label of each (answer, candidates), as the thesis's
    ``bart_model(text, candidate_labels=...)["labels"][0]``.

    Distinct answers sharing a candidate set go through the pipeline in one batched call; the
    candidates are passed in sorted order so that a sample's shuffled list gives the same result.
    """
    unique = _unique(pairs)
    by_set: dict[frozenset[str], list[str]] = {}
    for text, candidate_set in unique:
        by_set.setdefault(candidate_set, []).append(text)
    top: dict[tuple[str, frozenset[str]], str] = {}
    for candidate_set, texts in by_set.items():
        results = classifier(texts, candidate_labels=sorted(candidate_set))
        if isinstance(results, dict):  # the pipeline unwraps a single sequence
            results = [results]
        for text, result in zip(texts, results, strict=True):
            top[(text, candidate_set)] = result["labels"][0]
    return [top[(text, frozenset(candidates))] for text, candidates in pairs]


def embedding_choices(
    pairs: Sequence[tuple[str, tuple[str, ...]]], encoder: Any, *, batch_size: int = 256
) -> list[str]:
    """The candidate whose sentence embedding is nearest (cosine) to the answer's.

    Every distinct answer and candidate name is encoded once (L2-normalised, so the dot product
    is the cosine); ties go to the first candidate as presented.
    """
    from classbench.scoring.metrics import encode_unique

    unique = list(_unique(pairs))
    names = sorted({name for _, candidate_set in unique for name in candidate_set})
    texts = [text for text, _ in unique]
    embeddings, index = encode_unique(texts + names, encoder, batch_size=batch_size)
    vectors = {text: embeddings[index[i]] for i, text in enumerate(texts)}
    name_vectors = {name: embeddings[index[len(texts) + j]] for j, name in enumerate(names)}
    chosen = []
    for text, candidates in pairs:
        similarities = [float(np.dot(vectors[text], name_vectors[c])) for c in candidates]
        chosen.append(candidates[int(np.argmax(similarities))])
    return chosen
