"""Which runs a sensitivity report needs: one factor changed at a time, per task and model.

Kisel et al. (2026, "Multimodal Large Language Models as Image Classifiers") show that choices
studies rarely report move MLLM accuracy by several points. Each factor here has the study's own
setting as its default and one or more changed levels:

- ``batch_size``: 1 against the registry's batch size (generative ``hf`` models);
- ``image_order``: the backend's length-sorted batches against images in a seeded shuffled order
  (``hf`` models);
- ``precision``: ``bfloat16`` and ``float32`` against the registry's ``dtype`` (``hf`` models;
  a level equal to an explicit registry dtype is the default itself and is not run again);
- ``distractors``: random against contrastive-mined distractors, or the reverse (``mcq`` tasks);
- ``mapping_encoder``: other text encoders against ``scoring.mapping_encoder`` for the mapped
  accuracy (``open`` tasks; scoring only);
- ``ground_truth``: the image's label set against its single label (datasets with
  ``label_sets``; scoring only).

The default of every factor is the main study's own run, so its predictions are shared: only
the changed inference settings are run again, on the report's image sample.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from classbench.data import stratified_limit

FACTORS = (
    "batch_size",
    "image_order",
    "precision",
    "distractors",
    "mapping_encoder",
    "ground_truth",
)
INFERENCE_FACTORS = frozenset({"batch_size", "image_order", "precision", "distractors"})
DEFAULT = "default"
PRECISIONS = ("bfloat16", "float32")
# The backends whose batching and precision a job controls.
BATCHING_BACKENDS = frozenset({"hf"})
DEFAULT_METRICS = {"open": "textual_inclusion", "labels": "accuracy", "mcq": "accuracy"}
MAPPED = "mapped_accuracy"


@dataclass(frozen=True)
class Setting:
    """One changed level of one factor for one (task, model)."""

    factor: str
    level: str
    model: dict[str, Any] = field(default_factory=dict)
    """Keys that replace the model's registry settings for this run."""
    task: dict[str, Any] = field(default_factory=dict)
    """Keys that replace the task's settings for this run."""
    scoring: dict[str, Any] = field(default_factory=dict)
    """How the answers are scored (``mapping_encoder``, ``ground_truth``)."""

    @property
    def name(self) -> str:
        """The setting's file-name-safe name, ``factor=level``."""
        return f"{self.factor}={self.level}"

    @property
    def infers(self) -> bool:
        """Whether the setting needs its own inference run (else it re-scores the default's)."""
        return self.factor in INFERENCE_FACTORS


def settings_for(
    *,
    task: Mapping[str, Any],
    model: Mapping[str, Any],
    factors: Sequence[str] = FACTORS,
    mapping_encoders: Sequence[str] = (),
    default_encoder: str = "minilm",
    label_sets: bool = False,
) -> list[Setting]:
    """The changed settings of one (task, model), in factor order; factors that do not apply
    (another backend, protocol or a dataset without label sets) give none."""
    unknown = sorted(set(factors) - set(FACTORS))
    if unknown:
        raise ValueError(f"unknown sensitivity factors {unknown} (known: {list(FACTORS)})")
    protocol = task["protocol"]
    generative = protocol in ("open", "labels", "mcq")
    batching = generative and model.get("backend") in BATCHING_BACKENDS
    out: list[Setting] = []
    for factor in [f for f in FACTORS if f in factors]:
        if factor == "batch_size" and batching and int(model.get("batch_size") or 1) != 1:
            out.append(Setting(factor, "1", model={"batch_size": 1}))
        elif factor == "image_order" and batching:
            out.append(Setting(factor, "shuffled", model={"batch_order": "shuffled"}))
        elif factor == "precision" and batching:
            registry = model.get("dtype", "auto")
            out += [
                Setting(factor, level, model={"dtype": level})
                for level in PRECISIONS
                if level != registry
            ]
        elif factor == "distractors" and protocol == "mcq":
            other = "random" if task.get("distractors", "mined") == "mined" else "mined"
            out.append(Setting(factor, other, task={"distractors": other}))
        elif factor == "mapping_encoder" and protocol == "open":
            out += [
                Setting(factor, encoder, scoring={"mapping_encoder": encoder})
                for encoder in mapping_encoders
                if encoder != default_encoder
            ]
        elif factor == "ground_truth" and label_sets and generative:
            out.append(Setting(factor, "multi", scoring={"ground_truth": "multi"}))
    return out


def headline_metric(protocol: str, factor: str, metrics: Mapping[str, str] | None = None) -> str:
    """The metric a factor is read on: the mapped accuracy for the mapping encoder, else the
    protocol's headline metric (``sensitivity.metrics``)."""
    if factor == "mapping_encoder":
        return MAPPED
    chosen = {**DEFAULT_METRICS, **(metrics or {})}
    if protocol not in chosen:
        raise ValueError(f"no sensitivity metric for protocol '{protocol}'")
    return chosen[protocol]


def sensitivity_sample(
    manifest: pd.DataFrame,
    *,
    study_limit: int | None,
    images: int,
    seed: int,
    dataset: str,
    study_seed: int | None = None,
) -> pd.DataFrame:
    """The report's images: drawn from the images the main study evaluates (so its predictions
    serve as every factor's default), stratified by class and seeded.

    ``study_seed`` is the seed the study drew its images with (default ``seed``): the report
    may draw its own sample with another seed, but only from those images.
    """
    study_seed = seed if study_seed is None else study_seed
    evaluated = stratified_limit(manifest, study_limit, study_seed, dataset)
    return stratified_limit(evaluated, images, seed, f"{dataset}/sensitivity")


def sample_ids(
    manifest: pd.DataFrame,
    *,
    dataset: str,
    study_limit: int | None,
    study_seed: int,
    images: int,
    seed: int,
) -> list[str]:
    """The sample ids of the report's images of one task (see :func:`sensitivity_sample`)."""
    sample = sensitivity_sample(
        manifest, study_limit=study_limit, images=images, seed=seed, dataset=dataset,
        study_seed=study_seed,
    )  # fmt: skip
    return sample["sample_id"].astype(str).tolist()


def plan_runs(
    sensitivity: Mapping[str, Any],
    *,
    tasks: Mapping[str, Mapping[str, Any]],
    models: Mapping[str, Mapping[str, Any]],
    jobs: Collection[tuple[str, str, str]],
    label_sets: bool,
    default_encoder: str,
) -> list[dict[str, Any]]:
    """Every (task, model) of the config's ``sensitivity`` section with its changed settings.

    ``models`` are the registry entries (batch size and dtype included), ``jobs`` the study's
    (dataset, task, model) triples: each pair must be one, since the study's own run is the
    default. Returns plain dicts (workflow params).
    """
    dataset = sensitivity["dataset"]
    runs = []
    for task in sensitivity["tasks"]:
        for model in sensitivity["models"]:
            if (dataset, task, model) not in jobs:
                raise ValueError(
                    f"sensitivity: ({dataset}, {task}, {model}) is not a job of the study, so "
                    "it has no default run to compare with"
                )
            settings = settings_for(
                task=tasks[task],
                model=models[model],
                factors=sensitivity.get("factors", FACTORS),
                mapping_encoders=sensitivity.get("mapping_encoders", ()),
                default_encoder=default_encoder,
                label_sets=label_sets,
            )
            runs.append(
                {
                    "task": task,
                    "model": model,
                    "protocol": tasks[task]["protocol"],
                    "task_spec": dict(tasks[task]),
                    "settings": [asdict(setting) for setting in settings],
                }
            )
    return runs


def skipped_factors(runs: Sequence[Mapping[str, Any]], factors: Sequence[str]) -> list[str]:
    """``task x model: factor, ...`` for each run of :func:`plan_runs` that a chosen factor
    gives no setting (it does not apply, or its only level is the default): said, not dropped."""
    lines = []
    for run in runs:
        varied = {setting["factor"] for setting in run["settings"]}
        missing = [factor for factor in FACTORS if factor in factors and factor not in varied]
        if missing:
            lines.append(f"{run['task']} x {run['model']}: {', '.join(missing)}")
    return lines
