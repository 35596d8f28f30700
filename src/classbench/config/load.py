"""Load a study: validate the config and its registries, plan the jobs, check both."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from classbench.config import checks
from classbench.config.schema import (
    ConfigError,
    load_registry,
    load_yaml,
    registry_files,
    schema_defaults,
    validate,
)
from classbench.config.study import Study, plan_jobs

REGISTRY_KINDS = ("datasets", "models", "tasks")
NO_STUDY_SELECTED = (
    "No study selected: the config names no datasets, models or tasks. Run a preset with "
    "--configfile config/study.yaml (the full study) or --configfile config/demo.yaml (the "
    "offline demo), or a file of your own that names them"
)


def load_study(
    config: Mapping[str, Any], schema_dir: str | os.PathLike, *, check_packages: bool = True
) -> Study:
    """Validate ``config`` and its registries against the schemas in ``schema_dir``, and check
    every constraint between them, so that a study that cannot run stops before any job.

    ``check_packages`` also requires each selected model's backend package to be importable
    here; turn it off where jobs run in other environments (``--sdm conda``) or for a dry run.
    """
    schema_dir = Path(schema_dir)
    study_config = copy.deepcopy(dict(config))
    if not any(study_config.get(kind) for kind in REGISTRY_KINDS):
        raise ConfigError(NO_STUDY_SELECTED)
    validate(study_config, load_yaml(schema_dir / "config.schema.yaml"), "config")
    registries, sources = {}, {}
    for kind in REGISTRY_KINDS:
        files = registry_files(study_config["registries"][kind])
        schema = load_yaml(schema_dir / f"{kind}.schema.yaml")
        registries[kind], sources[kind] = load_registry(files, schema)
    study = Study(
        study_config,
        datasets=registries["datasets"],
        models=registries["models"],
        tasks=registries["tasks"],
        sources=sources,
    )
    checks.check_selection(study, check_packages=check_packages)
    study.jobs = plan_jobs(study)
    checks.check_jobs(study)
    study.sensitivity_runs = checks.plan_sensitivity(study)
    return study


def config_defaults(schema_dir: str | os.PathLike) -> dict[str, Any]:
    """What every study starts from: the config schema's documented defaults."""
    return schema_defaults(load_yaml(Path(schema_dir) / "config.schema.yaml"))


def resolved_config_text(config: Mapping[str, Any]) -> str:
    """The config a run resolved, as YAML: what to pass back with ``--configfile`` to repeat it
    (with the same registries)."""
    header = (
        "# The resolved config of this run: config/config.yaml's defaults, the preset given with\n"
        "# --configfile and any --config overrides, with the schema's defaults filled in.\n"
    )
    return header + yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True)
