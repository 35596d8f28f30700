"""Load a study: validate the config and its registries, plan the jobs, check both."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from classbench.config import checks
from classbench.config.schema import load_registry, load_yaml, registry_files, validate
from classbench.config.study import Study, plan_jobs

REGISTRY_KINDS = ("datasets", "models", "tasks")


def load_study(
    config: Mapping[str, Any], schema_dir: str | os.PathLike, *, check_packages: bool = True
) -> Study:
    """Validate ``config`` and its registries against the schemas in ``schema_dir``, and check
    every constraint between them, so that a study that cannot run stops before any job.

    ``check_packages`` also requires each selected model's backend package to be importable
    here; turn it off where jobs run in other environments (``--sdm conda``) or for a dry run.
    """
    schema_dir = Path(schema_dir)
    config = copy.deepcopy(dict(config))
    validate(config, load_yaml(schema_dir / "config.schema.yaml"), "config")
    registries, sources = {}, {}
    for kind in REGISTRY_KINDS:
        files = registry_files(config["registries"][kind])
        schema = load_yaml(schema_dir / f"{kind}.schema.yaml")
        registries[kind], sources[kind] = load_registry(files, schema)
    study = Study(config, **registries, sources=sources)
    checks.check_selection(study, check_packages=check_packages)
    study.jobs = plan_jobs(study)
    checks.check_jobs(study)
    return study

