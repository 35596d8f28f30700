"""Load and check a study: the config plus the dataset, model and task registries.

Every key is validated against the JSON schemas before any job starts, and names are
cross-checked between the files, so a typo stops the run with one message naming the file and
the key instead of failing hours later on a cluster.
"""

from __future__ import annotations

import copy
import itertools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from classbench.protocols import EMBEDDING_PROTOCOLS

DEFAULT_REGISTRIES = {
    "datasets": "config/datasets.yaml",
    "models": "config/models.yaml",
    "tasks": "config/tasks.yaml",
}
GENERATIVE_BACKENDS = frozenset({"hf", "openai", "vllm"})
EMBEDDING_BACKENDS = frozenset({"contrastive"})
BACKEND_PACKAGES = {
    "hf": "transformers",
    "contrastive": "transformers",
    "text": "transformers",
    "openai": "httpx",
    "vllm": "vllm",
}
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "hf": {"batch_size": 8, "dtype": "auto", "image_first": True, "max_pixels": None},
    "contrastive": {"batch_size": 64, "dtype": "auto", "class_template": "an image of a {}"},
    "text": {"batch_size": 16, "dtype": "auto"},
}
REMOTE_BACKENDS = frozenset({"openai"})
DEFAULT_RESOURCES = {"gpus": 1, "mem_mb": 32000, "runtime": 240, "cpus_per_gpu": 8}


class ConfigError(ValueError):
    """The study's configuration is wrong; the message names the file and the key."""


def _location(path: Iterator[Any] | Any) -> str:
    parts = [str(part) for part in path]
    return ".".join(parts) if parts else "(top level)"


def _with_defaults(validator_class: type) -> type:
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

    def resources(self, model: str) -> dict[str, Any]:
        spec = self.models[model]
        defaults = dict(DEFAULT_RESOURCES)
        if spec["backend"] in REMOTE_BACKENDS:
            # The model runs on a server elsewhere; the job only sends requests.
            defaults.update(gpus=0, mem_mb=4000)
        return {**defaults, **spec.get("resources", {})}

    def dataset_limit(self, dataset: str) -> int | None:
        limits = self.config.get("dataset_limits", {})
        return limits[dataset] if dataset in limits else self.config.get("limit")

    def jobs_where(self, **match: str) -> list[Job]:
        return [job for job in self.jobs if all(getattr(job, k) == v for k, v in match.items())]

    @property
    def built_models(self) -> list[str]:
        """Models of the study (selected, miner, judge) that are built locally."""
        names = set(self.config["models"])
        if self.config.get("option_miner"):
            names.add(self.config["option_miner"])
        if self.judge_model:
            names.add(self.judge_model)
        return sorted(name for name in names if "tiny" in self.models[name])

    @property
    def judge_model(self) -> str | None:
        if any("llm_inclusion" in self.tasks[t]["metrics"] for t in self.config["tasks"]) or (
            self.config["elo"]["criterion"] == "llm_judge"
        ):
            return self.config["judge"].get("model")
        return None

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


def slug(text: str) -> str:
    return text.replace(" ", "_")


def load_study(config: Mapping[str, Any], schema_dir: str | os.PathLike) -> Study:
    """Validate ``config`` and its registries against the schemas in ``schema_dir``."""
    schema_dir = Path(schema_dir)
    config = copy.deepcopy(dict(config))
    validate(config, load_yaml(schema_dir / "config.schema.yaml"), "config")
    registries = {**DEFAULT_REGISTRIES, **config.get("registries", {})}
    loaded = {}
    for kind, path in registries.items():
        content = load_yaml(path) or {}
        validate(content, load_yaml(schema_dir / f"{kind}.schema.yaml"), path)
        loaded[kind] = content
    study = Study(config, loaded["datasets"], loaded["models"], loaded["tasks"])
    _cross_check(study, registries)
    study.jobs = _plan_jobs(study)
    return study


def _cross_check(study: Study, registries: Mapping[str, str]) -> None:
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
    for task in config["elo"].get("tasks") or []:
        if task not in config["tasks"]:
            raise ConfigError(f"config: elo.tasks: '{task}' is not one of the study's tasks")
    for name in config["models"]:
        backend = study.models[name]["backend"]
        if backend == "text":
            raise ConfigError(f"config: models: '{name}' is a text model; name it as judge.model")
        _check_backend_installed(name, backend, registries["models"])


def _check_backend_installed(model: str, backend: str, source: str) -> None:
    from importlib.util import find_spec

    package = BACKEND_PACKAGES.get(backend)
    if package and find_spec(package) is None:
        raise ConfigError(
            f"{source}: {model}.backend: '{backend}' needs the Python package '{package}', "
            "which is not installed"
        )


def _compatible(study: Study, task: str, model: str) -> bool:
    backend = study.backend(model)
    if study.protocol(task) in EMBEDDING_PROTOCOLS:
        return backend in EMBEDDING_BACKENDS
    return backend in GENERATIVE_BACKENDS


def _plan_jobs(study: Study) -> list[Job]:
    config = study.config
    jobs = []
    for dataset, task, model in itertools.product(
        config["datasets"], config["tasks"], config["models"]
    ):
        if not _compatible(study, task, model):
            continue
        job = Job(dataset, task, model)
        if any(all(getattr(job, k) == v for k, v in rule.items()) for rule in config["exclude"]):
            continue
        jobs.append(job)
    return jobs
