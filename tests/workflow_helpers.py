"""Run the real workflow in a scratch copy of the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
COPIED = ("Snakefile", "workflow", "config", "profiles", "envs")


def make_workdir(target: Path) -> Path:
    """A copy of the workflow files (no results) in which a test may run Snakemake."""
    target.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target / name)
    return target


def sensitivity_off_for_another_selection(config: dict, changes: dict) -> dict:
    """``config`` with its sensitivity report off when ``changes`` select other datasets,
    models or tasks and say nothing of the report: the demo's report names jobs of the demo's
    own selection, which another selection may not run."""
    selects = any(key in changes for key in ("datasets", "models", "tasks"))
    if selects and "sensitivity" not in changes and "sensitivity" in config:
        config["sensitivity"] = {**config["sensitivity"], "enabled": False}
    return config


def write_config(workdir: Path, name: str, changes: dict | None = None) -> str:
    """``config/demo.yaml`` with ``changes`` merged in (one level deep), saved as ``name``; a
    new selection turns the demo's sensitivity report off unless ``changes`` name it."""
    config = yaml.safe_load((workdir / "config" / "demo.yaml").read_text())
    for key, value in (changes or {}).items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    sensitivity_off_for_another_selection(config, changes or {})
    path = workdir / "config" / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return f"config/{name}"


def snakemake(
    workdir: Path, *args: str, configfile: str = "config/demo.yaml", check: bool = True,
    **popen: object,
) -> subprocess.CompletedProcess:  # fmt: skip
    command = [
        sys.executable, "-m", "snakemake", "--configfile", configfile, "--cores", "2",
        "--profile", "profiles/local", *args,
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        )
    return result


def planned_jobs(output: str) -> dict[str, int]:
    """Rule -> job count from Snakemake's "Job stats" table (dry runs print it too)."""
    counts: dict[str, int] = {}
    lines = output.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("Job stats:"))
    except StopIteration:
        return counts
    for line in lines[start + 3 :]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        if parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return counts
