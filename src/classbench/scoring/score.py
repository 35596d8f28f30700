"""Per-sample scores of a predictions file, one column per metric, and the ``valid`` flag.

A sample whose ``error`` is set is invalid: its metric values are NaN, it is excluded from every
mean and counted in ``n_invalid``. An answer that could not be parsed is valid and wrong (FOCI
counts generation failures as errors of the model), and shows in ``parse_failure``.

Given the dataset's label sets (multi-label ground truth), every metric declared ``multi_label``
is scored a second time against each image's set (columns ``<metric>_multi``): the best score
over the set. An image with an empty set gets NaN there, so the summary leaves it out of those
metrics, and counts it from the ``label_set`` column written beside the scores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from classbench.io import as_objects
from classbench.scoring.label_mapping import map_answers
from classbench.scoring.registry import (
    FINAL_SUFFIX,
    METRICS,
    MULTI_SUFFIX,
    NEEDS,
    Metric,
    ScoringContext,
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
    classes: Sequence[str] | None = None,
    mapping_encoder_loader: Callable[[], Any] | None = None,
    label_sets: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Score every sample of ``predictions`` with the task's metrics (:data:`.registry.METRICS`).

    Label-list answers are first mapped onto one candidate (:func:`.label_mapping.map_answers`,
    with the task's ``fallback``; ``nli_loader`` gives the NLI pipeline): the scores' ``answer``
    and ``mapping`` columns hold the result, which the closed metrics (accuracy, parse failure,
    macro P/R/F1) read, while the text metrics (textual inclusion, VLMClassifier's rule) read
    the raw answer. A metric's models load on first use; a missing one is an error.

    ``classes`` (the dataset's class names) and ``mapping_encoder_loader`` serve the mapped
    accuracy; ``label_sets`` (sample id -> its correct labels, possibly none) adds the
    ``_multi`` columns and a ``label_set`` column; a sample it lacks is an error.
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
    sets = None
    if label_sets is not None:
        sets = _sets_of(predictions["sample_id"], label_sets)
        scores["label_set"] = sets
    declared = [_declared(name) for name in task["metrics"]]
    loaders = {
        "encoder": encoder_loader,
        "spacy": nlp_loader,
        "mapping_encoder": mapping_encoder_loader,
    }
    loaded: dict[str, Any] = {}  # models load once, for every answer column
    answer_columns = {"": "answer"}
    if "answer_final" in answer_values:
        answer_columns[FINAL_SUFFIX] = "answer_final"
    for suffix, column in answer_columns.items():
        answers = answer_values[column]
        texts = ["" if a is None else str(a) for a in answers]
        if text_override is not None:
            texts = text_override
        context = ScoringContext(
            predictions, settings, loaders, judge, loaded, classes=classes, mapping=mapping
        )
        scored: list[tuple[Metric, Sequence[Any]]] = []
        for metric in declared:
            if metric.per_sample is None or (suffix and not metric.on_final_answer):
                continue  # aggregates are the summary's
            for need in sorted(metric.needs):
                if not context.has(need):
                    raise ValueError(f"metric '{metric.name}' needs {NEEDS[need]}")
            inputs = texts if metric.reads == "text" else answers
            computed = _columns(metric, metric.per_sample(inputs, labels, context))
            for name, column_values in computed.items():
                if name in metric.records:
                    recorded = np.where(valid, column_values, None)
                    scores[name + suffix] = pd.Series(recorded, index=scores.index, dtype=object)
                else:
                    scores[name + suffix] = np.where(valid, column_values, np.nan)
            scored.append((metric, inputs))
        multi = [(metric, read) for metric, read in scored if metric.multi_label]
        if sets is not None and multi:
            # after the single-label pass, so its label-independent work is reused
            pairs = _SetPairs(sets, context)
            for metric, read in multi:
                for name, column_values in pairs.score(metric, read).items():
                    scores[name + MULTI_SUFFIX + suffix] = np.where(valid, column_values, np.nan)
    return scores


def _columns(metric: Metric, computed: np.ndarray | dict[str, np.ndarray]) -> dict[str, Any]:
    return computed if isinstance(computed, dict) else {metric.name: computed}


def _sets_of(sample_ids: pd.Series, label_sets: Mapping[str, Sequence[str]]) -> list[list[str]]:
    sets = []
    for sample_id in sample_ids.astype(str):
        if sample_id not in label_sets:
            raise ValueError(f"sample '{sample_id}' has no entry in the label sets")
        sets.append([str(label) for label in label_sets[sample_id]])
    return sets


class _SetPairs:
    """Every (sample, label of its set) pair of one answer column, scored through one context
    repeated for the pairs: label-independent work (the mapped class) is not redone, and the
    metrics of the column share their work (semantic similarity feeds its thresholds)."""

    def __init__(self, sets: Sequence[Sequence[str]], context: ScoringContext) -> None:
        counts = np.array([len(labels) for labels in sets], dtype=np.int64)
        self.n = len(sets)
        self.owner = np.repeat(np.arange(self.n), counts)
        self.labels = [label for labels in sets for label in labels]
        self.labelled = counts > 0
        self.offsets = np.concatenate([[0], np.cumsum(counts[self.labelled])[:-1]]).astype(int)
        self.context = context.repeated(self.owner)

    def score(self, metric: Metric, inputs: Sequence[Any]) -> dict[str, np.ndarray]:
        """The metric's score columns against the sets: the best over each set (NaN only when
        every label's score is), NaN for an empty set."""
        assert metric.per_sample is not None
        flat_inputs = [inputs[int(i)] for i in self.owner]
        computed = _columns(metric, metric.per_sample(flat_inputs, self.labels, self.context))
        out = {}
        for name, values in computed.items():
            if name in metric.records:
                continue
            best = np.full(self.n, np.nan)
            if self.labelled.any():
                values = np.asarray(values, dtype=np.float64)
                best[self.labelled] = np.fmax.reduceat(values, self.offsets)
            out[name] = best
        return out


def _declared(name: str) -> Metric:
    if name not in METRICS:
        raise ValueError(f"unknown metric '{name}'")
    return METRICS[name]
