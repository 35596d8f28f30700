"""Per-sample scores of a predictions file, one column per metric, and the ``valid`` flag.

A sample whose ``error`` is set is invalid: its metric values are NaN, it is excluded from every
mean and counted in ``n_invalid``. An answer that could not be parsed is valid and wrong (FOCI
counts generation failures as errors of the model), and shows in ``parse_failure``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from classbench.io import as_objects
from classbench.scoring import metrics as M
from classbench.scoring.label_mapping import map_answers

# Metrics computed from the whole set of answers rather than per sample (summary handles them).
AGGREGATE_METRICS = frozenset({"macro_prf"})
ENCODER_METRICS = frozenset(
    {"semantic_similarity", "similarity_at_thresholds", "concept_similarity"}
)


def score_predictions(
    predictions: pd.DataFrame,
    task: Mapping[str, Any],
    *,
    settings: Mapping[str, Any] | None = None,
    encoder_loader: Callable[[], Any] | None = None,
    nlp_loader: Callable[[], Any] | None = None,
    judge: pd.DataFrame | None = None,
    nli_loader: Callable[[], Any] | None = None,
) -> pd.DataFrame:
    """Score every sample of ``predictions`` with the task's metrics.

    Label-list answers are first mapped onto one candidate (:func:`.label_mapping.map_answers`,
    with the task's ``fallback``; ``nli_loader`` gives the NLI pipeline): the scores' ``answer``
    and ``mapping`` columns hold the result, which the closed metrics (accuracy, parse failure,
    macro P/R/F1) read, while the text metrics (textual inclusion, VLMClassifier's rule) read
    the raw answer.
    """
    settings = settings or {}
    valid = predictions["error"].isna().to_numpy()
    labels = predictions["label"].astype(str).tolist()
    answer_values = {
        column: as_objects(predictions[column])
        for column in ("answer", "answer_final")
        if column in predictions.columns
    }
    text_override = None
    mapping = None
    if task.get("protocol") == "labels" and task.get("answer_mode", "generate") == "loglik":
        # The raw answer is the options' log-likelihoods (JSON); the chosen candidate was
        # already decided at inference time, so there is nothing to map.
        chosen = answer_values["answer"]
        mapping = np.array(["loglik" if a is not None else "none" for a in chosen], dtype=object)
        text_override = ["" if a is None else str(a) for a in chosen]
    elif task.get("protocol") == "labels":
        raws = [
            raw if ok else None
            for ok, raw in zip(valid, as_objects(predictions["raw"]), strict=True)
        ]
        mapped = map_answers(
            raws,
            as_objects(predictions["options"]),
            fallback=task.get("fallback", "none"),
            nli_loader=nli_loader,
            encoder_loader=encoder_loader,
            encode_batch_size=int(settings.get("encode_batch_size", 256)),
        )
        answer_values["answer"] = as_objects(mapped["answer"])
        mapping = mapped["mapping"].to_numpy()
        text_override = ["" if raw is None else raw.strip() for raw in raws]
    scores = pd.DataFrame(
        {
            "sample_id": predictions["sample_id"].to_numpy(),
            "label": labels,
            "answer": answer_values["answer"],
            "valid": valid,
        }
    )
    if mapping is not None:
        scores["mapping"] = mapping
    answer_columns = {"": "answer"}
    if "answer_final" in answer_values:
        answer_columns["_final"] = "answer_final"
    encoder = None
    for suffix, column in answer_columns.items():
        answers = answer_values[column]
        texts = ["" if a is None else str(a) for a in answers]
        if text_override is not None:
            texts = text_override
        memo: dict[str, np.ndarray] = {}  # per answer column: SS feeds SS@t too
        for metric in task["metrics"]:
            if metric in AGGREGATE_METRICS or (suffix and metric == "llm_inclusion"):
                continue
            if metric in ENCODER_METRICS and encoder is None:
                if encoder_loader is None:
                    raise ValueError(f"metric '{metric}' needs a sentence encoder")
                encoder = encoder_loader()
            computed = _metric(metric, texts, answers, labels, predictions, encoder, nlp_loader,
                               judge, settings, memo)  # fmt: skip
            for name, column_values in computed.items():
                scores[name + suffix] = np.where(valid, column_values, np.nan)
    return scores


def _metric(
    metric: str,
    texts: Sequence[str],
    answers: Sequence[Any],
    labels: Sequence[str],
    predictions: pd.DataFrame,
    encoder: Any,
    nlp_loader: Callable[[], Any] | None,
    judge: pd.DataFrame | None,
    settings: Mapping[str, Any],
    memo: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    batch_size = int(settings.get("encode_batch_size", 256))

    def similarity() -> np.ndarray:
        if "semantic_similarity" not in memo:
            memo["semantic_similarity"] = M.semantic_similarity(
                texts, labels, encoder, batch_size=batch_size
            )
        return memo["semantic_similarity"]

    if metric == "textual_inclusion":
        return {metric: M.textual_inclusion(texts, labels)}
    if metric == "exact_match":
        return {metric: M.exact_match(texts, labels)}
    if metric == "semantic_similarity":
        return {metric: similarity()}
    if metric == "similarity_at_thresholds":
        thresholds = settings.get("similarity_thresholds", (0.5, 0.6, 0.7, 0.8, 0.9))
        return M.similarity_at_thresholds(similarity(), tuple(thresholds))
    if metric == "concept_similarity":
        if nlp_loader is None:
            raise ValueError("metric 'concept_similarity' needs a spaCy pipeline")
        similarity = M.concept_semantic_similarity(
            texts, labels, encoder, nlp_loader(), batch_size=batch_size
        )
        return {metric: similarity}
    if metric == "llm_inclusion":
        if judge is None:
            raise ValueError("metric 'llm_inclusion' needs the judge's verdicts")
        verdicts = judge.set_index("sample_id")["llm_inclusion"]
        return {metric: verdicts.reindex(predictions["sample_id"]).to_numpy(dtype=float)}
    if metric == "accuracy":
        return {metric: M.accuracy(labels, list(answers))}
    if metric == "parse_failure":
        return {metric: np.array([a is None for a in answers], dtype=np.float64)}
    if metric == "accuracy_options":
        restricted = as_objects(predictions["answer_options"])
        return {metric: M.accuracy(labels, restricted)}
    raise ValueError(f"unknown metric '{metric}'")
