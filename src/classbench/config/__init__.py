"""Load and check a study: the config plus the dataset, model and task registries.

Every key is validated against the JSON schemas before any job starts, and names are
cross-checked between the files, so a typo stops the run with one message naming the file and
the key instead of failing hours later on a cluster.
"""

from __future__ import annotations

import copy
import itertools
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from classbench.protocols import EMBEDDING_PROTOCOLS, answer_mode_problem
from classbench.protocols.supervised import (
    MAPPING_KEYS,
    MappingError,
    declares_imagenet_classes,
    imagenet_mapping,
)

DEFAULT_REGISTRIES = {
    "datasets": "config/datasets.yaml",
    "models": "config/models.yaml",
    "tasks": "config/tasks.yaml",
}
GENERATIVE_BACKENDS = frozenset({"hf", "openai", "vllm"})
EMBEDDING_BACKENDS = frozenset({"contrastive"})
# Supervised image classifiers (ResNet, ViT): the `supervised` baseline on ImageNet-labelled sets.
CLASSIFIER_BACKENDS = frozenset({"classifier"})
# The backends that answer each protocol without generation (the others are generative).
PROTOCOL_BACKENDS = {"zeroshot": EMBEDDING_BACKENDS, "supervised": CLASSIFIER_BACKENDS}
BACKEND_PACKAGES = {
    "hf": "transformers",
    "contrastive": "transformers",
    "classifier": "transformers",
    "text": "transformers",
    "nli": "transformers",
    "openai": "httpx",
    "vllm": "vllm",
}
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "hf": {"batch_size": 8, "dtype": "auto", "image_first": True, "max_pixels": None},
    "contrastive": {"batch_size": 64, "dtype": "auto", "class_template": "an image of a {}"},
    "classifier": {"batch_size": 64, "dtype": "auto"},
    "text": {"batch_size": 16, "dtype": "auto"},
    "nli": {"batch_size": 32},
}
# Task keys read only at scoring (how a label-list answer is mapped onto a candidate): left out of
# the inference job's parameters, so changing them re-runs scoring, never inference.
# Task keys that only scoring reads: changing them must not re-run inference.
SCORING_ONLY_TASK_KEYS = frozenset({"fallback", "metrics", "description"})
# Model keys that cannot change an answer (how fast, where, documentation): left out of the
# params that trigger re-runs and of the resume fingerprint.
RUN_ONLY_MODEL_KEYS = frozenset(
    {
        "description", "resources", "batch_size", "chunk_size", "concurrency", "timeout_s",
        "max_retries", "backoff_s", "max_backoff_s", "gpu_memory_utilization", "params_b",
        "support", "support_note", "parity_of", "variant_of",
    }
)  # fmt: skip
REMOTE_BACKENDS = frozenset({"openai"})
# A model's Slurm request when its registry entry has neither `resources` nor `params_b`.
DEFAULT_RESOURCES = {"gpus": 1, "mem_mb": 32000, "runtime": 240, "cpus_per_gpu": 8}
# Memory of one GPU that the size-derived requests assume (A100/H100 80 GB); a cluster with
# smaller cards sets `resources: {gpus: N}` on the large models.
GPU_MEMORY_GB = 80
# Bytes of one weight as loaded: quantization wins over dtype; "auto" loads bf16/fp16.
QUANTIZED_BYTES = {"8bit": 1.0, "4bit": 0.5}
DTYPE_BYTES = {"float32": 4.0}


class ConfigError(ValueError):
    """The study's configuration is wrong; the message names the file and the key."""


def _location(path: Iterator[Any] | Any) -> str:
    parts = [str(part) for part in path]
    return ".".join(parts) if parts else "(top level)"


def _with_defaults(validator_class: type[Any]) -> type[Any]:
    """A validator that also fills in the schemas' ``default`` values."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def validate(instance: Any, schema: Mapping[str, Any], source: str) -> None:
    """Validate (and fill defaults into) ``instance``; raise one clear :class:`ConfigError`."""
    errors = sorted(
        _Validator(schema).iter_errors(instance), key=lambda e: (len(e.absolute_path), e.path)
    )
    if not errors:
        return
    error = jsonschema.exceptions.best_match(errors)
    where = _location(error.absolute_path)
    if error.validator == "additionalProperties":
        message = f"{source}: {where}: {error.message}"
    elif error.validator == "oneOf" and error.context:
        detail = jsonschema.exceptions.best_match(error.context)
        message = f"{source}: {where}: {detail.message}"
        negated = detail.validator_value if detail.validator == "not" else None
        banned = negated.get("required") if isinstance(negated, dict) else None
        if banned:
            # "X should not be valid under {...}" dumps the whole entry; name the clashing keys.
            branch = error.validator_value[detail.relative_schema_path[0]]
            given = " and ".join(repr(key) for key in branch.get("required", []))
            clash = " and ".join(repr(key) for key in banned)
            message = f"{source}: {where}: {clash} cannot be combined with {given}"
    else:
        message = f"{source}: {where}: {error.message}"
    raise ConfigError(message)


def load_yaml(path: str | os.PathLike) -> Any:
    try:
        with open(path) as handle:
            return yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None


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
    _index: dict[tuple, list[Job]] = field(default_factory=dict, repr=False)
    _by_triple: dict[tuple[str, str, str], Job] | None = field(default=None, repr=False)

    # --- lookups -----------------------------------------------------------------------------
    def protocol(self, task: str) -> str:
        return self.tasks[task]["protocol"]

    def backend(self, model: str) -> str:
        return self.models[model]["backend"]

    def model_spec(self, model: str, models_dir: str = "resources/models") -> dict[str, Any]:
        """The registry entry with defaults filled and a tiny model's checkpoint resolved."""
        spec = copy.deepcopy(self.models[model])
        for key, value in MODEL_DEFAULTS.get(spec["backend"], {}).items():
            spec.setdefault(key, value)
        if "tiny" in spec:
            spec["checkpoint"] = f"{models_dir}/{model}"
        return spec

    def dataset_spec(self, dataset: str) -> dict[str, Any]:
        """The registry entry without its ImageNet mapping, which only the supervised baseline
        reads: declaring one re-prepares no dataset and re-runs no other job."""
        return {k: v for k, v in self.datasets[dataset].items() if k not in MAPPING_KEYS}

    def answer_spec(self, model: str) -> dict[str, Any]:
        """The model's settings that can change an answer (see :data:`RUN_ONLY_MODEL_KEYS`)."""
        return answer_relevant(self.model_spec(model))

    def resources(self, model: str) -> dict[str, Any]:
        """The Slurm request of a model's jobs: ``gpus``, ``mem_mb``, ``runtime`` (minutes),
        ``cpus_per_gpu`` and an optional ``gpu_model``.

        Keys given in the entry's ``resources`` win; the rest come from its size hint
        ``params_b`` (see :func:`size_resources`), else from :data:`DEFAULT_RESOURCES`. A vllm
        entry's GPU count is its ``tensor_parallel_size``; a remote (openai) one needs none.
        """
        spec = self.models[model]
        defaults = dict(DEFAULT_RESOURCES)
        if "params_b" in spec:
            defaults.update(size_resources(spec["params_b"], weight_bytes(spec)))
        if spec["backend"] == "vllm":
            # The engine uses exactly tensor_parallel_size GPUs (1 when unset): more would idle.
            defaults["gpus"] = spec.get("tensor_parallel_size", 1)
        if spec["backend"] in REMOTE_BACKENDS:
            # The model runs on a server elsewhere; the job only sends requests.
            defaults.update(gpus=0, mem_mb=4000)
        return {**defaults, **spec.get("resources", {})}

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
        if any(self.tasks[t].get("fallback") == "nli" for t in self.config["tasks"]):
            return self.config.get("nli_model")
        return None

    def inference_task_spec(self, task: str) -> dict[str, Any]:
        """The task's entry without the keys only scoring reads."""
        return {k: v for k, v in self.tasks[task].items() if k not in SCORING_ONLY_TASK_KEYS}

    @property
    def judge_model(self) -> str | None:
        if any("llm_inclusion" in self.tasks[t]["metrics"] for t in self.config["tasks"]) or (
            self.config["elo"]["criterion"] == "llm_judge"
        ):
            return self.config["judge"].get("model")
        return None

    def check_packages(self, source: str = "config/models.yaml") -> None:
        """Raise :class:`ConfigError` when a selected model's backend package is missing, or the
        spaCy pipeline that concept similarity needs is not installed."""
        for name in self.config["models"]:
            _check_backend_installed(name, self.backend(name), source)
        from importlib.util import find_spec

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


def weight_bytes(spec: Mapping[str, Any]) -> float:
    """Bytes per parameter of a registry entry's weights as its backend loads them."""
    quantization = spec.get("quantization")
    if quantization in QUANTIZED_BYTES:
        return QUANTIZED_BYTES[quantization]
    return DTYPE_BYTES.get(spec.get("dtype", "auto"), 2.0)


def size_resources(params_b: float, bytes_per_param: float = 2.0) -> dict[str, int]:
    """A sensible Slurm request for a model of ``params_b`` billion parameters.

    2B -> 1 GPU, 16 GB, 132 min; 7B -> 1 GPU, 18 GB, 162 min; 34B -> 2 GPUs, 85 GB, 324 min;
    72B -> 4 GPUs, 180 GB, 552 min (bf16, 80 GB GPUs).
    """
    weights_gb = params_b * bytes_per_param
    # The weights plus ~30% for activations, image tokens and the KV cache of one batch.
    gpus = max(1, math.ceil(weights_gb * 1.3 / GPU_MEMORY_GB))
    # Round up to a power of two: tensor parallelism splits the attention heads evenly.
    gpus = 1 << (gpus - 1).bit_length()
    # Host memory: shards are staged in RAM while loading; never below a typical per-GPU share.
    mem_mb = max(16_000, math.ceil(weights_gb * 1.25) * 1000)
    # Generation time grows about linearly with size. The limit is a guess for a large dataset;
    # a job killed by it is retried by the profile and resumes from its checkpoint chunks.
    runtime = min(24 * 60, 120 + math.ceil(6 * params_b))
    return {"gpus": gpus, "mem_mb": mem_mb, "runtime": runtime}


def answer_relevant(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` without the keys that cannot change an answer."""
    return {key: value for key, value in spec.items() if key not in RUN_ONLY_MODEL_KEYS}


def slug(text: str) -> str:
    return text.replace(" ", "_")


def load_study(
    config: Mapping[str, Any], schema_dir: str | os.PathLike, *, check_packages: bool = True
) -> Study:
    """Validate ``config`` and its registries against the schemas in ``schema_dir``.

    ``check_packages`` also requires each selected model's backend package to be importable
    here; turn it off where jobs run in other environments (``--sdm conda``) or for a dry run.
    """
    schema_dir = Path(schema_dir)
    validated = copy.deepcopy(dict(config))
    validate(validated, load_yaml(schema_dir / "config.schema.yaml"), "config")
    registries = {**DEFAULT_REGISTRIES, **validated.get("registries", {})}
    loaded = {}
    for kind, path in registries.items():
        content = load_yaml(path) or {}
        validate(content, load_yaml(schema_dir / f"{kind}.schema.yaml"), path)
        loaded[kind] = content
    study = Study(validated, loaded["datasets"], loaded["models"], loaded["tasks"])
    _cross_check(study, registries, check_packages)
    study.jobs = _plan_jobs(study)
    _check_jobs(study, registries)
    return study


def _cross_check(study: Study, registries: Mapping[str, str], check_packages: bool) -> None:
    config = study.config
    for kind in ("datasets", "models", "tasks"):
        registry = getattr(study, kind)
        for index, name in enumerate(config[kind]):
            if name not in registry:
                raise ConfigError(
                    f"config: {kind}.{index}: '{name}' is not in {registries[kind]} "
                    f"(known: {', '.join(sorted(registry)) or 'none'})"
                )
    for index, rule in enumerate(config.get("exclude", [])):
        for kind, name in rule.items():
            if name not in getattr(study, f"{kind}s"):
                raise ConfigError(f"config: exclude.{index}.{kind}: unknown {kind} '{name}'")
    for name, spec in study.datasets.items():
        if "imagenet_classes" in spec and "imagenet_index_file" in spec:
            raise ConfigError(
                f"{registries['datasets']}: {name}: 'imagenet_classes' cannot be combined with "
                "'imagenet_index_file'"
            )
        if spec["source"]["kind"] == "synthetic" and "classes" not in spec:
            raise ConfigError(f"{registries['datasets']}: {name}: synthetic sets need 'classes'")
        expected = spec.get("expected", {}).get("classes")
        if "classes" in spec and expected is not None and expected != len(spec["classes"]):
            raise ConfigError(
                f"{registries['datasets']}: {name}.expected.classes: {expected} but "
                f"{len(spec['classes'])} class names are listed"
            )
    for key in ("option_miner",):
        name = config.get(key)
        if name is not None and study.models.get(name, {}).get("backend") != "contrastive":
            raise ConfigError(f"config: {key}: '{name}' is not a contrastive model")
    judge = study.judge_model
    needs_judge = any("llm_inclusion" in study.tasks[t]["metrics"] for t in config["tasks"])
    if (needs_judge or config["elo"]["criterion"] == "llm_judge") and judge is None:
        raise ConfigError("config: judge.model: an LLM judge is needed but none is named")
    if judge is not None and study.models.get(judge, {}).get("backend") != "text":
        raise ConfigError(f"config: judge.model: '{judge}' is not a text model")
    for index, task in enumerate(config["tasks"]):
        spec = study.tasks[task]
        mined = spec["protocol"] == "zeroshot" or (
            spec["protocol"] == "mcq" and spec.get("distractors", "mined") == "mined"
        )
        if mined and not config.get("option_miner"):
            raise ConfigError(
                f"config: option_miner: task '{task}' (tasks.{index}) needs mined options"
            )
    needs_nli = [t for t in config["tasks"] if study.tasks[t].get("fallback") == "nli"]
    nli = config.get("nli_model")
    if needs_nli:
        if nli is None:
            raise ConfigError(
                f"config: nli_model: task '{needs_nli[0]}' maps answers with fallback: nli, but "
                "no NLI model is named"
            )
        if study.models.get(nli, {}).get("backend") != "nli":
            raise ConfigError(f"config: nli_model: '{nli}' is not an nli model")
    for task in config.get("task_limits", {}):
        if task not in config["tasks"]:
            raise ConfigError(f"config: task_limits: '{task}' is not one of the study's tasks")
    for task in config["elo"].get("tasks") or []:
        if task not in config["tasks"]:
            raise ConfigError(f"config: elo.tasks: '{task}' is not one of the study's tasks")
    for name, spec in study.models.items():
        for key in ("parity_of", "variant_of"):
            reference = spec.get(key)
            if reference is not None and reference not in study.models:
                raise ConfigError(
                    f"{registries['models']}: {name}.{key}: unknown model '{reference}'"
                )
    for index, name in enumerate(config["models"]):
        spec = study.models[name]
        if spec.get("support") == "unsupported":
            raise ConfigError(
                f"config: models.{index}: '{name}' cannot be evaluated yet: "
                f"{spec.get('support_note', 'marked unsupported in the registry').strip()}"
            )
    for name in config["models"]:
        backend = study.models[name]["backend"]
        if backend == "text":
            raise ConfigError(f"config: models: '{name}' is a text model; name it as judge.model")
        if backend == "nli":
            raise ConfigError(f"config: models: '{name}' is an NLI model; name it as nli_model")
        if check_packages:
            _check_backend_installed(name, backend, registries["models"])


def _check_backend_installed(model: str, backend: str, source: str) -> None:
    from importlib.util import find_spec

    package = BACKEND_PACKAGES.get(backend)
    if package and find_spec(package) is None:
        raise ConfigError(
            f"{source}: {model}.backend: '{backend}' needs the Python package '{package}', "
            "which is not installed"
        )


def class_count(spec: Mapping[str, Any]) -> int | None:
    """A dataset's number of classes as its registry entry states it (None if unstated)."""
    if "classes" in spec:
        return len(spec["classes"])
    return spec.get("expected", {}).get("classes")


def _check_jobs(study: Study, registries: Mapping[str, str]) -> None:
    """Combinations that cannot run: stop before any job starts, naming the exclusion to add."""
    for job in study.jobs:
        task, model = study.tasks[job.task], study.models[job.model]
        problem = answer_mode_problem(task, model)
        if problem:
            raise ConfigError(
                f"{registries['tasks']}: {job.task}.answer_mode: model '{job.model}': {problem} "
                f"(or exclude {{task: {job.task}, model: {job.model}}})"
            )
        n_classes = class_count(study.datasets[job.dataset])
        if task["protocol"] == "supervised":
            try:
                imagenet_mapping(study.datasets[job.dataset], n_classes)
            except MappingError as err:
                raise ConfigError(f"{registries['datasets']}: {job.dataset}: {err}") from None
        if task["protocol"] == "mcq" and n_classes is not None and task["k"] > n_classes:
            raise ConfigError(
                f"{registries['tasks']}: {job.task}.k: {task['k']} options but dataset "
                f"'{job.dataset}' has {n_classes} classes; exclude "
                f"{{task: {job.task}, dataset: {job.dataset}}}"
            )


def _compatible(study: Study, dataset: str, task: str, model: str) -> bool:
    backend, protocol = study.backend(model), study.protocol(task)
    if protocol == "supervised" and not declares_imagenet_classes(study.datasets[dataset]):
        return False  # a classifier's outputs mean nothing for a dataset without ImageNet labels
    if protocol in EMBEDDING_PROTOCOLS:
        return backend in PROTOCOL_BACKENDS[protocol]
    return backend in GENERATIVE_BACKENDS


def _plan_jobs(study: Study) -> list[Job]:
    config = study.config
    jobs = []
    for dataset, task, model in itertools.product(
        config["datasets"], config["tasks"], config["models"]
    ):
        if not _compatible(study, dataset, task, model):
            continue
        job = Job(dataset, task, model)
        if any(all(getattr(job, k) == v for k, v in rule.items()) for rule in config["exclude"]):
            continue
        jobs.append(job)
    return jobs
