"""The numbers of a sensitivity report: each setting's metric, its interval, and its difference
from the default with a paired bootstrap interval.

Both runs are scored on the same images, so the difference is bootstrapped over images: each
replica draws the images once and takes the difference of the two means on that draw (each
mean over the images the metric scores: a run's invalid answers, or for label sets the images
without a valid label, are left out of that run's mean only). A difference "exceeds the
interval" when its interval leaves out zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache, partial
from typing import Any

import numpy as np
import pandas as pd

from classbench.scoring.registry import MULTI_SUFFIX
from classbench.scoring.score import score_predictions
from classbench.scoring.text_encoders import load_mapping_encoder
from classbench.seeding import rng_for
from classbench.sensitivity.plan import DEFAULT, Setting, headline_metric, sample_ids
from classbench.summary.bootstrap import bootstrap_ci

RESULT_COLUMNS = [
    "dataset", "task", "model", "factor", "setting", "metric", "value", "ci_low", "ci_high", "n",
    "difference", "diff_low", "diff_high", "exceeds",
]  # fmt: skip

# Scores a predictions frame for a task spec (the metrics it lists) under scoring options
# (``mapping_encoder``); the sensitivity script binds the study's models to it.
Scorer = Callable[[pd.DataFrame, Mapping[str, Any], Mapping[str, Any]], pd.DataFrame]


def per_sample(
    scores: pd.DataFrame, metric: str, sample_ids: Sequence[str], *, multi: bool = False
) -> np.ndarray:
    """The metric's value per sample id, NaN for an invalid or unscored sample."""
    column = metric + MULTI_SUFFIX if multi else metric
    if column not in scores.columns:
        raise ValueError(f"the scores have no column '{column}'")
    values = scores.set_index(scores["sample_id"].astype(str))[column].astype(float)
    valid = scores.set_index(scores["sample_id"].astype(str))["valid"].astype(bool)
    values = values.where(valid)
    return values.reindex([str(s) for s in sample_ids]).to_numpy(dtype=np.float64)


def paired_difference(
    default: np.ndarray,
    changed: np.ndarray,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    keys: Sequence[object] = (),
) -> tuple[float, float, float]:
    """``mean(changed) - mean(default)`` (NaNs left out of each mean) with a bootstrap interval
    over the shared images."""
    default = np.asarray(default, dtype=np.float64)
    changed = np.asarray(changed, dtype=np.float64)
    if default.shape != changed.shape:
        raise ValueError("the two runs must be aligned on the same images")
    point = _nanmean(changed) - _nanmean(default)
    n = default.size
    if n < 2 or np.isnan(point):
        return point, point, point
    rng = rng_for(seed, "sensitivity", *keys)
    replicas = np.empty(n_resamples)
    for start in range(0, n_resamples, 100):
        stop = min(start + 100, n_resamples)
        index = rng.integers(0, n, size=(stop - start, n))
        with np.errstate(invalid="ignore"):
            replicas[start:stop] = _nanmean_rows(changed[index]) - _nanmean_rows(default[index])
    replicas = replicas[~np.isnan(replicas)]
    alpha = (1 - confidence) / 2
    low, high = np.percentile(replicas, [100 * alpha, 100 * (1 - alpha)])
    return point, float(low), float(high)


def _nanmean(values: np.ndarray) -> float:
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else float("nan")


def _nanmean_rows(matrix: np.ndarray) -> np.ndarray:
    counts = (~np.isnan(matrix)).sum(axis=1)
    sums = np.nansum(matrix, axis=1)
    return np.divide(sums, counts, out=np.full(len(counts), np.nan), where=counts > 0)


def compare_runs(
    *,
    dataset: str,
    task: str,
    model: str,
    protocol: str,
    task_spec: Mapping[str, Any],
    sample_ids: Sequence[str],
    default: pd.DataFrame,
    changed: Mapping[str, pd.DataFrame],
    settings: Sequence[Setting],
    score: Scorer,
    default_scoring: Mapping[str, Any],
    metrics: Mapping[str, str] | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Rows of the report for one (task, model): the default per metric read, then each setting.

    ``default`` holds the main study's predictions (restricted here to ``sample_ids``),
    ``changed`` the predictions of each inference setting by name; scoring settings re-score
    the default's answers.
    """
    ids = [str(s) for s in sample_ids]

    def restrict(frame: pd.DataFrame) -> pd.DataFrame:
        kept = frame[frame["sample_id"].astype(str).isin(set(ids))]
        missing = set(ids) - set(kept["sample_id"].astype(str))
        if missing:
            raise ValueError(
                f"{dataset}/{task}/{model}: {len(missing)} images of the sample have no answer "
                f"(e.g. {sorted(missing)[0]})"
            )
        return kept.reset_index(drop=True)

    def values(frame: pd.DataFrame, metric: str, setting: Setting | None) -> np.ndarray:
        scoring = {**default_scoring, **(setting.scoring if setting else {})}
        spec = {**task_spec, **(setting.task if setting else {}), "metrics": [metric]}
        multi = scoring.get("ground_truth") == "multi"
        return per_sample(score(frame, spec, scoring), metric, ids, multi=multi)

    base = restrict(default)
    rows: list[dict[str, Any]] = []
    defaults: dict[str, np.ndarray] = {}
    for setting in [None, *settings]:
        factor = setting.factor if setting else DEFAULT
        # each metric read gets its default row once (the mapped accuracy only if its factor runs)
        metric = headline_metric(protocol, factor, metrics)
        if metric not in defaults:
            defaults[metric] = values(base, metric, None)
            rows.append(
                _row(
                    dataset,
                    task,
                    model,
                    DEFAULT,
                    DEFAULT,
                    metric,
                    defaults[metric],
                    None,
                    n_resamples,
                    confidence,
                    seed,
                )
            )
        if setting is None:
            continue
        frame = restrict(changed[setting.name]) if setting.infers else base
        measured = values(frame, metric, setting)
        rows.append(
            _row(
                dataset,
                task,
                model,
                setting.factor,
                setting.level,
                metric,
                measured,
                defaults[metric],
                n_resamples,
                confidence,
                seed,
            )
        )
    return rows


def _row(dataset, task, model, factor, level, metric, measured, default, n_resamples,
         confidence, seed) -> dict[str, Any]:  # fmt: skip
    kept = measured[~np.isnan(measured)]
    keys = (dataset, task, model, factor, level, metric)
    value, low, high = bootstrap_ci(kept, n_resamples, confidence, seed, keys=keys)
    row = {
        "dataset": dataset, "task": task, "model": model, "factor": factor, "setting": level,
        "metric": metric, "value": value, "ci_low": low, "ci_high": high, "n": int(kept.size),
        "difference": np.nan, "diff_low": np.nan, "diff_high": np.nan, "exceeds": None,
    }  # fmt: skip
    if default is not None:
        diff, diff_low, diff_high = paired_difference(
            default,
            measured,
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
            keys=keys,
        )
        row.update(difference=diff, diff_low=diff_low, diff_high=diff_high)
        row["exceeds"] = bool(not np.isnan(diff) and (diff_low > 0 or diff_high < 0))
    return row


def results_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The report's long frame (:data:`RESULT_COLUMNS`)."""
    frame = pd.DataFrame(list(rows), columns=RESULT_COLUMNS)
    return frame.astype({"n": "int64", "exceeds": "boolean"})


def measure_runs(
    *,
    dataset: str,
    runs: Sequence[Mapping[str, Any]],
    sample_ids: Sequence[str],
    defaults: Mapping[tuple[str, str], pd.DataFrame],
    changed: Mapping[tuple[str, str, str], pd.DataFrame],
    score: Scorer,
    default_scoring: Mapping[str, Any],
    metrics: Mapping[str, str] | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """The report's long frame for every run: ``runs`` are dicts with ``task``, ``model``,
    ``protocol``, ``task_spec`` and ``settings`` (dicts of :class:`Setting`'s fields);
    ``defaults`` the main study's predictions per (task, model), ``changed`` each inference
    setting's per (task, model, setting name)."""
    rows: list[dict[str, Any]] = []
    for run in runs:
        task, model = run["task"], run["model"]
        settings = [Setting(**setting) for setting in run["settings"]]
        rows += compare_runs(
            dataset=dataset, task=task, model=model, protocol=run["protocol"],
            task_spec=run["task_spec"], sample_ids=sample_ids, default=defaults[(task, model)],
            changed={s.name: changed[(task, model, s.name)] for s in settings if s.infers},
            settings=settings, score=score, default_scoring=default_scoring, metrics=metrics,
            n_resamples=n_resamples, confidence=confidence, seed=seed,
        )  # fmt: skip
    return results_frame(rows)


def measure_report(
    *,
    dataset: str,
    runs: Sequence[Mapping[str, Any]],
    manifest: pd.DataFrame,
    limits: Mapping[str, int | None],
    images: int,
    seed: int,
    study_seed: int,
    defaults: Mapping[tuple[str, str], pd.DataFrame],
    changed: Mapping[tuple[str, str, str], pd.DataFrame],
    score: Scorer,
    default_scoring: Mapping[str, Any],
    n_resamples: int = 1000,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """:func:`measure_runs` of every run on the report's sample of the images its task
    evaluates (``limits``: each task's sample limit in the study), the sample drawn as the
    changed runs drew it (:func:`sensitivity_sample`)."""
    frames = [results_frame([])]
    for run in runs:
        ids = sample_ids(
            manifest, dataset=dataset, study_limit=limits[run["task"]], study_seed=study_seed,
            images=images, seed=seed,
        )  # fmt: skip
        measured = measure_runs(
            dataset=dataset, runs=[run], sample_ids=ids, defaults=defaults, changed=changed,
            score=score, default_scoring=default_scoring, n_resamples=n_resamples,
            confidence=confidence, seed=seed,
        )  # fmt: skip
        frames.append(measured)
    return results_frame(pd.concat(frames, ignore_index=True).to_dict("records"))


def study_scorer(
    *,
    settings: Mapping[str, Any],
    encoder_loader: Callable[[], Any] | None = None,
    nlp_loader: Callable[[], Any] | None = None,
    nli_loader: Callable[[], Any] | None = None,
    classes: Sequence[str] | None = None,
    mapping_encoders: Mapping[str, Mapping[str, Any]] | None = None,
    label_sets: Mapping[str, Sequence[str]] | None = None,
) -> Scorer:
    """A :data:`Scorer` that scores as the study's score jobs do (:func:`score_predictions`
    with the config's ``scoring`` settings), under each setting's scoring options:
    ``mapping_encoder`` names one of ``mapping_encoders`` (name -> what
    :func:`~classbench.scoring.text_encoders.mapping_encoder_spec` gives; each loaded once,
    on first use) and ``ground_truth: multi`` adds the scores against ``label_sets``."""
    loaders = {
        name: cache(partial(load_mapping_encoder, spec))
        for name, spec in (mapping_encoders or {}).items()
    }

    def score(
        frame: pd.DataFrame, task: Mapping[str, Any], scoring: Mapping[str, Any]
    ) -> pd.DataFrame:
        encoder = str(scoring.get("mapping_encoder"))
        if "mapped_accuracy" in task.get("metrics", ()) and encoder not in loaders:
            raise ValueError(f"no mapping encoder '{encoder}' was given to the scorer")
        multi = scoring.get("ground_truth") == "multi"
        if multi and label_sets is None:
            raise ValueError("ground_truth 'multi' needs the dataset's label sets")
        return score_predictions(
            frame, task, settings=settings, encoder_loader=encoder_loader,
            nlp_loader=nlp_loader, nli_loader=nli_loader, classes=classes,
            mapping_encoder_loader=loaders.get(encoder), label_sets=label_sets if multi else None,
        )  # fmt: skip

    return score
