"""Per-sample scores of a predictions file, one column per metric, and the ``valid`` flag.

A sample whose ``error`` is set is invalid: its metric values are NaN, it is excluded from every
mean and counted in ``n_invalid``. An answer that could not be parsed is valid and wrong (FOCI
counts generation failures as errors of the model), and shows in ``parse_failure``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from classbench.io import as_objects
from classbench.scoring.label_mapping import map_answers
from classbench.scoring.registry import FINAL_SUFFIX, METRICS, NEEDS, Metric, ScoringContext


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
    """Score every sample of ``predictions`` with the task's metrics (:data:`.registry.METRICS`).

    Label-list answers are first mapped onto one candidate (:func:`.label_mapping.map_answers`,
    with the task's ``fallback``; ``nli_loader`` gives the NLI pipeline): the scores' ``answer``
    and ``mapping`` columns hold the result, which the closed metrics (accuracy, parse failure,
    macro P/R/F1) read, while the text metrics (textual inclusion, VLMClassifier's rule) read
    the raw answer. A metric's models load on first use; a missing one is an error.
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
    declared = [_declared(name) for name in task["metrics"]]
    loaders = {"encoder": encoder_loader, "spacy": nlp_loader}
    loaded: dict[str, Any] = {}  # models load once, for every answer column
    answer_columns = {"": "answer"}
    if "answer_final" in answer_values:
        answer_columns[FINAL_SUFFIX] = "answer_final"
    for suffix, column in answer_columns.items():
        answers = answer_values[column]
        texts = ["" if a is None else str(a) for a in answers]
        if text_override is not None:
            texts = text_override
        context = ScoringContext(predictions, settings, loaders, judge, loaded)
        for metric in declared:
            if metric.per_sample is None or (suffix and not metric.on_final_answer):
                continue  # aggregates are the summary's
            for need in sorted(metric.needs):
                if not context.has(need):
                    raise ValueError(f"metric '{metric.name}' needs {NEEDS[need]}")
            inputs = texts if metric.reads == "text" else answers
            computed = metric.per_sample(inputs, labels, context)
            if not isinstance(computed, dict):
                computed = {metric.name: computed}
            for name, column_values in computed.items():
                scores[name + suffix] = np.where(valid, column_values, np.nan)
    return scores


def _declared(name: str) -> Metric:
    if name not in METRICS:
        raise ValueError(f"unknown metric '{name}'")
    return METRICS[name]
