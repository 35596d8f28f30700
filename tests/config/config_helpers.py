"""The demo study and edited copies of its registries, for the config tests."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from workflow_helpers import sensitivity_off_for_another_selection

from classbench.config import ConfigError, Job, load_study

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "workflow" / "schemas"
DEMO = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())


def registry(kind: str) -> dict:
    """The demo's ``kind`` registry, its files read together."""
    files = DEMO.get("registries", {}).get(kind, f"config/{kind}.yaml")
    content = {}
    for name in [files] if isinstance(files, str) else files:
        content.update(yaml.safe_load((REPO / name).read_text()))
    return content


def registries(tmp_path: Path, edit: Callable[[str, dict], None] | None = None) -> dict[str, str]:
    """Copies of the demo's registries (changed by ``edit(kind, content)``) under ``tmp_path``,
    one file per kind."""
    paths = {}
    for kind in ("datasets", "models", "tasks"):
        content = registry(kind)
        if edit is not None:
            edit(kind, content)
        path = tmp_path / f"{kind}.yaml"
        path.write_text(yaml.safe_dump(content, sort_keys=False))
        paths[kind] = str(path)
    return paths


def demo(tmp_path: Path, edit=None, **changes) -> dict:
    """The demo config with ``changes`` (a new selection turns its sensitivity report off
    unless ``changes`` name it) and copies of its registries under ``tmp_path``."""
    config = copy.deepcopy(DEMO)
    config.update(changes)
    sensitivity_off_for_another_selection(config, changes)
    config["registries"] = registries(tmp_path, edit)
    return config


def triples(jobs: list[Job]) -> set[tuple[str, str, str]]:
    return {(job.dataset, job.task, job.model) for job in jobs}


def expect_error(config: dict, *fragments: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMAS)
    message = str(caught.value)
    assert "\n" not in message.strip()
    for fragment in fragments:
        assert fragment in message
    return message
