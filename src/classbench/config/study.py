"""The study: a validated config with its three registries, and the jobs it plans."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import Any

from classbench import paths
from classbench.config.models import (
    GENERATIVE_BACKENDS,
    MODEL_DEFAULTS,
    PROTOCOL_BACKENDS,
    answer_relevant,
    check_backend_installed,
)
from classbench.config.schema import ConfigError, registry_files
from classbench.config.sizing import model_resources
from classbench.protocols import EMBEDDING_PROTOCOLS
from classbench.protocols.supervised import MAPPING_KEYS, declares_imagenet_classes

# Task keys that only scoring reads (how a label-list answer is mapped onto a candidate, which
# metrics): left out of the inference job's parameters, so changing them never re-runs inference.
SCORING_ONLY_TASK_KEYS = frozenset({"fallback", "metrics", "description"})


@dataclass
class Job:
    """One (dataset, task, model) evaluation."""

    dataset: str
    task: str
    model: str


@dataclass
class Study:
    """A validated config with its three registries."""

    config: dict[str, Any]
    datasets: dict[str, dict[str, Any]]
    models: dict[str, dict[str, Any]]
    tasks: dict[str, dict[str, Any]]
    jobs: list[Job] = field(default_factory=list)
    # The sensitivity report's (task, model) runs with their changed settings (empty when off):
    # :func:`classbench.sensitivity.plan.plan_runs`, planned and checked by load_study.
    sensitivity_runs: list[dict[str, Any]] = field(default_factory=list)
    # kind -> name -> the registry file that defines it (a registry may span several files).
    sources: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _index: dict[tuple, list[Job]] = field(default_factory=dict, repr=False)
    _by_triple: dict[tuple[str, str, str], Job] | None = field(default=None, repr=False)

    # --- lookups -----------------------------------------------------------------------------
    def protocol(self, task: str) -> str:
        return self.tasks[task]["protocol"]

    def backend(self, model: str) -> str:
        return self.models[model]["backend"]

    def source(self, kind: str, name: str | None = None) -> str:
        """The file that defines ``name`` in the ``kind`` registry; without a name (or for an
        unknown one), every file of that registry."""
        files = self.sources.get(kind, {})
        if name in files:
            return files[name]
        registry = registry_files(self.config.get("registries", {}).get(kind, []))
        return ", ".join(registry) or f"the {kind} registry"

    def model_spec(self, model: str, models_dir: str | None = None) -> dict[str, Any]:
        """The registry entry with defaults filled and a tiny model's checkpoint resolved (the
        folder the workflow builds it in, or ``models_dir/<model>``)."""
        spec = copy.deepcopy(self.models[model])
        for key, value in MODEL_DEFAULTS.get(spec["backend"], {}).items():
            spec.setdefault(key, value)
        if "tiny" in spec and models_dir:
            spec["checkpoint"] = f"{models_dir}/{model}"
        elif "tiny" in spec:
            spec["checkpoint"] = paths.fill(paths.MODEL_DIR, model=model)
        return spec

    def dataset_spec(self, dataset: str) -> dict[str, Any]:
        """The registry entry without its ImageNet mapping, which only the supervised baseline
        reads: declaring one re-prepares no dataset and re-runs no other job."""
        return {k: v for k, v in self.datasets[dataset].items() if k not in MAPPING_KEYS}

    def answer_spec(self, model: str) -> dict[str, Any]:
        """The model's settings that can change an answer (see ``RUN_ONLY_MODEL_KEYS``)."""
        return answer_relevant(self.model_spec(model))

    def resources(self, model: str) -> dict[str, Any]:
        """The Slurm request of a model's jobs (see :func:`model_resources`)."""
        return model_resources(self.models[model])

    def dataset_limit(self, dataset: str) -> int | None:
        limits = self.config.get("dataset_limits", {})
        return limits[dataset] if dataset in limits else self.config.get("limit")

    def job_limit(self, dataset: str, task: str) -> int | None:
        """A job's sample limit: the task's (``task_limits``, as a paper that evaluated its
        tasks on subsets of different sizes), else the dataset's, else ``limit``."""
        limits = self.config.get("task_limits", {})
        return limits[task] if task in limits else self.dataset_limit(dataset)

    def dataset_limits_of_tasks(self, dataset: str) -> list[int | None]:
        """The distinct sample limits of a dataset's jobs (its gallery's images cover each)."""
        limits = {self.job_limit(dataset, job.task) for job in self.jobs_where(dataset=dataset)}
        limits = limits or {self.dataset_limit(dataset)}
        return sorted(limits, key=lambda limit: (limit is None, limit or 0))

    def published_model(self, model: str) -> str:
        """The model whose published numbers this one is compared with (its ``variant_of``)."""
        return self.models[model].get("variant_of", model)

    def needs_options(self, task: str) -> bool:
        """Whether the task reads mined options (:func:`reads_options`)."""
        return reads_options(self.tasks[task])

    def maps_with_nli(self, task: str) -> bool:
        """Whether scoring maps the task's label-list answers with the NLI model."""
        spec = self.tasks[task]
        return spec["protocol"] == "labels" and spec.get("fallback") == "nli"

    def jobs_where(self, **match: str) -> list[Job]:
        """Jobs whose fields equal ``match``; indexed, since workflows ask this per job."""
        key = tuple(sorted(match.items()))
        if key not in self._index:
            self._index[key] = [
                job for job in self.jobs if all(getattr(job, k) == v for k, v in match.items())
            ]
        return self._index[key]

    def job(self, dataset: str, task: str, model: str) -> Job | None:
        if self._by_triple is None:
            self._by_triple = {(j.dataset, j.task, j.model): j for j in self.jobs}
        return self._by_triple.get((dataset, task, model))

    @property
    def built_models(self) -> list[str]:
        """Models of the study (selected, miner, judge, NLI mapper) that are built locally."""
        names = set(self.config["models"])
        if self.config.get("option_miner"):
            names.add(self.config["option_miner"])
        if self.judge_model:
            names.add(self.judge_model)
        if self.nli_model:
            names.add(self.nli_model)
        return sorted(name for name in names if "tiny" in self.models[name])

    @property
    def nli_model(self) -> str | None:
        """The NLI model that maps label-list answers, when a task of the study falls back to it."""
        if any(self.maps_with_nli(t) for t in self.config["tasks"]):
            return self.config.get("nli_model")
        return None

    def inference_task_spec(self, task: str) -> dict[str, Any]:
        """The task's entry without the keys only scoring reads."""
        return {k: v for k, v in self.tasks[task].items() if k not in SCORING_ONLY_TASK_KEYS}

    @property
    def sensitivity(self) -> dict[str, Any] | None:
        """The config's ``sensitivity`` section when it is enabled."""
        section = self.config.get("sensitivity") or {}
        return section if section.get("enabled") else None

    @property
    def needs_judge(self) -> bool:
        """Whether a metric or the Elo criterion of the study asks an LLM judge."""
        return any("llm_inclusion" in self.tasks[t]["metrics"] for t in self.config["tasks"]) or (
            self.config["elo"]["criterion"] == "llm_judge"
        )

    @property
    def judge_model(self) -> str | None:
        return self.config["judge"].get("model") if self.needs_judge else None

    def check_packages(self) -> None:
        """Raise :class:`ConfigError` when a selected model's backend package is missing, or the
        spaCy pipeline that concept similarity needs is not installed."""
        for name in self.config["models"]:
            check_backend_installed(name, self.backend(name), self.source("models", name))
        pipeline = self.config.get("spacy_model")
        parses = any("concept_similarity" in self.tasks[t]["metrics"] for t in self.config["tasks"])
        if parses and pipeline and find_spec(pipeline) is None:
            raise ConfigError(
                f"config: spacy_model: the spaCy pipeline '{pipeline}' is not installed "
                f"(python -m spacy download {pipeline})"
            )

    @property
    def parity_pairs(self) -> list[tuple[Job, Job]]:
        """(candidate, reference) jobs of models that are another model through another backend."""
        pairs = []
        for job in self.jobs:
            reference = self.models[job.model].get("parity_of")
            # The triple lookup, not jobs_where: a jobs_where key per job would scan all jobs.
            match = self.job(job.dataset, job.task, reference) if reference else None
            if match is not None:
                pairs.append((job, match))
        return pairs

    @property
    def elo_tasks(self) -> list[str]:
        chosen = self.config["elo"].get("tasks")
        if chosen is None:
            chosen = [t for t in self.config["tasks"] if self.protocol(t) == "open"]
        return [t for t in chosen if len({j.model for j in self.jobs_where(task=t)}) >= 2]

    def elo_scopes(self, task: str) -> list[str]:
        """Scope names of a ranked task: ``all``, ``group-<group>``, ``dataset-<name>``."""
        datasets = sorted({job.dataset for job in self.jobs_where(task=task)})
        scopes = []
        wanted = self.config["elo"]["scopes"]
        if "all" in wanted:
            scopes.append("all")
        if "group" in wanted:
            groups = sorted({self.datasets[d]["group"] for d in datasets})
            scopes += [f"group-{slug(g)}" for g in groups]
        if "dataset" in wanted:
            scopes += [f"dataset-{d}" for d in datasets]
        return scopes

    def scope_datasets(self, task: str, scope: str) -> list[str]:
        datasets = sorted({job.dataset for job in self.jobs_where(task=task)})
        if scope == "all":
            return datasets
        kind, _, value = scope.partition("-")
        if kind == "group":
            return [d for d in datasets if slug(self.datasets[d]["group"]) == value]
        if kind == "dataset" and value in datasets:
            return [value]
        raise ConfigError(f"unknown Elo scope '{scope}' for task '{task}'")


def reads_options(task: Mapping[str, Any]) -> bool:
    """Whether a task spec reads mined options: zero-shot, and multiple choice unless its
    distractors are drawn at random."""
    return task["protocol"] == "zeroshot" or (
        task["protocol"] == "mcq" and task.get("distractors", "mined") == "mined"
    )


def slug(text: str) -> str:
    return text.replace(" ", "_")


def class_count(spec: Mapping[str, Any]) -> int | None:
    """A dataset's number of classes as its registry entry states it (None if unstated)."""
    if "classes" in spec:
        return len(spec["classes"])
    return spec.get("expected", {}).get("classes")


def _compatible(study: Study, dataset: str, task: str, model: str) -> bool:
    backend, protocol = study.backend(model), study.protocol(task)
    if protocol == "supervised" and not declares_imagenet_classes(study.datasets[dataset]):
        return False  # a classifier's outputs mean nothing for a dataset without ImageNet labels
    if protocol in EMBEDDING_PROTOCOLS:
        return backend in PROTOCOL_BACKENDS[protocol]
    return backend in GENERATIVE_BACKENDS


def compatible_jobs(study: Study) -> list[Job]:
    """Every selected (dataset, task, model) whose model can answer the task, before exclusions."""
    config = study.config
    return [
        Job(dataset, task, model)
        for dataset, task, model in itertools.product(
            config["datasets"], config["tasks"], config["models"]
        )
        if _compatible(study, dataset, task, model)
    ]


def excluded(job: Job, rules: list[dict[str, str]]) -> bool:
    return any(all(getattr(job, k) == v for k, v in rule.items()) for rule in rules)


def plan_jobs(study: Study) -> list[Job]:
    """The study's jobs: the compatible selection less the exclusions."""
    return [job for job in compatible_jobs(study) if not excluded(job, study.config["exclude"])]
