"""Preflight checks of what the study runs with: the models and their backend packages, the disk
under ``resources/`` and the hub cache, and the Slurm executor's requirements; and the reading of
a hub repository's answer (found, missing, gated) that the dataset checks share.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from classbench.checks import OK, PROBLEM, WARNING, Check
from classbench.config import BACKEND_PACKAGES, load_yaml
from classbench.data.hub_api import Answer, Hub
from classbench.data.sources.pins import FULL_COMMIT, is_hub_id

# Bytes a checkpoint takes per parameter on disk: hub weights are mostly bf16 safetensors.
CHECKPOINT_BYTES_PER_PARAM = 2
# Disk a dataset takes per downloaded byte until it is prepared: the download kept in
# resources/downloads, the split's images written out, and for hub sets the Arrow cache.
DISK_FACTOR = {"hub": 3.0, "archive": 2.0, "midframes": 2.0}
SLURM_COMMANDS = ("sbatch", "squeue", "scancel", "sinfo")
GB = 1e9
Add = Callable[..., None]


@dataclass(frozen=True)
class SlurmSettings:
    """What the Slurm executor was asked to use. ``status_command`` ``None``: the plugin's
    default, ``sacct`` where it exists."""

    status_command: str | None = None


def slurm_settings(profile: str | Path | None, status_command: str | None) -> SlurmSettings | None:
    """The Slurm settings of a run with this Snakemake profile folder and
    ``--slurm-status-command``; ``None`` when the run does not use Slurm."""
    config = (load_yaml(Path(profile) / "config.yaml") or {}) if profile else {}
    if config.get("executor") != "slurm" and not status_command:
        return None
    return SlurmSettings(status_command=status_command or config.get("slurm-status-command"))


def study_models(study: Any) -> list[str]:
    """The models a study loads: the selected ones, the option miner, the judge, the NLI model."""
    names = list(study.config["models"])
    for extra in (study.config.get("option_miner"), study.judge_model, study.nli_model):
        if extra and extra not in names:
            names.append(extra)
    return names


def check_model(
    name: str, spec: Mapping[str, Any], hub: Hub | None, check_packages: bool = True
) -> list[Check]:
    """The backend package is importable; a hub checkpoint exists at its revision and, when
    gated, the token may read it."""
    found: list[Check] = []

    def add(status: str, detail: str, fix: str = "") -> None:
        found.append(Check("model", name, status, detail, fix))

    backend = spec["backend"]
    package = BACKEND_PACKAGES.get(backend)
    if check_packages and package and find_spec(package) is None:
        add(
            PROBLEM,
            f"backend '{backend}' needs the Python package '{package}'",
            f"pip install {package} (or run with --sdm conda)",
        )
    checkpoint = spec.get("checkpoint")
    revision = spec.get("revision")
    if "tiny" in spec:
        summary = f"tiny {spec['tiny']}, built locally"
    elif backend == "openai":
        summary = "served by an OpenAI-compatible server (reached by its first request)"
    elif not checkpoint:
        summary = ""
        add(PROBLEM, "no checkpoint to load", "set checkpoint (a hub id or a local folder)")
    elif not is_hub_id(checkpoint):
        summary = f"local checkpoint {checkpoint}"
        if not Path(checkpoint).exists():
            add(
                PROBLEM,
                f"checkpoint {checkpoint} does not exist",
                "fix checkpoint (a hub id or a local folder)",
            )
    elif hub is None:
        summary = ""
        add(
            WARNING,
            f"{checkpoint} not checked: HF_HUB_OFFLINE is set",
            "unset HF_HUB_OFFLINE to check it",
        )
    else:
        summary = f"{checkpoint}@{revision or 'main'}"
        info = hub.repo_info("model", str(checkpoint), revision)
        if answered(add, hub, "model", str(checkpoint), revision, info):
            check_access(add, hub, "model", str(checkpoint), info.data, False)
    if not found:
        add(OK, summary)
    return found


def answered(add: Add, hub: Hub, kind: str, repo: str, revision: str | None, info: Answer) -> bool:
    """Record why a repository lookup failed; ``True`` when it returned metadata."""
    if info.ok and isinstance(info.data, dict):
        return True
    if info.status == 0:
        add(
            PROBLEM,
            f"cannot reach {hub.endpoint}: {info.message}",
            "check the network (or HF_ENDPOINT)",
        )
    elif info.error_code == "RevisionNotFound":
        add(
            PROBLEM,
            f"{repo} has no revision '{revision}'",
            "set a revision the repository has (`classbench datasets pin` resolves main)",
        )
    elif info.status in (401, 404):
        add(
            PROBLEM,
            f"{repo} is not a {kind} on {hub.endpoint} (or is private)",
            "check the repository id; a private one needs HF_TOKEN",
        )
    else:
        add(
            PROBLEM,
            f"{hub.endpoint} answered {info.status} for {repo}: {info.message}",
            "retry later",
        )
    return False


def check_access(
    add: Add, hub: Hub, kind: str, repo: str, data: Mapping[str, Any], declared: bool
) -> None:
    """A gated repository needs a token that the hub accepts (``/auth-check``)."""
    gated = data.get("gated") not in (None, False, "false")
    if not gated and not declared:
        return
    if gated and not declared and kind == "dataset":
        add(
            PROBLEM,
            f"{repo} is gated on the hub but the entry lacks `gated: true`",
            "add gated: true to the entry's source (only gated entries get the token)",
        )
        return
    if not hub.token:
        add(
            PROBLEM,
            f"{repo} is gated{'' if gated else ' (the entry says so)'} and no token is set",
            f"accept its terms at {hub.page(kind, repo)}, then export HF_TOKEN",
        )
        return
    check = hub.auth_check(kind, repo)
    if check.status in (401, 403):
        add(
            PROBLEM,
            f"the token in the environment may not read {repo} ({check.status})",
            f"accept its terms at {hub.page(kind, repo)} with the token's account",
        )
    elif not check.ok:
        add(
            PROBLEM,
            f"access check of {repo} answered {check.status}: {check.message}",
            "retry later",
        )


def floating_models(models: Mapping[str, Mapping[str, Any]]) -> list[Check]:
    """One warning row for the hub checkpoints whose revision is not a commit."""
    floating = [
        name
        for name, spec in models.items()
        if spec.get("checkpoint")
        and "tiny" not in spec
        and spec["backend"] != "openai"
        and is_hub_id(spec["checkpoint"])
        and not FULL_COMMIT.match(str(spec.get("revision") or ""))
    ]
    if not floating:
        return []
    return [
        Check(
            "pins",
            "models",
            WARNING,
            f"{len(floating)} checkpoint revisions are not commits: {', '.join(floating)}",
            "set each revision in config/models.yaml to the commit the hub shows",
        )
    ]


def check_disk(
    download_bytes: Mapping[str, int | None],
    models: Mapping[str, Mapping[str, Any]],
    resources: str | Path = "resources",
    datasets: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Check]:
    """Room under ``resources/`` for the datasets still to prepare, and in the hub cache for the
    checkpoints not cached yet (from the sources' sizes, else the registries' size hints)."""
    checks = []
    needed, unknown = 0.0, []
    for name, size in download_bytes.items():
        if size is None:
            unknown.append(name)
            continue
        kind = ((datasets or {}).get(name) or {}).get("source", {}).get("kind", "hub")
        needed += size * DISK_FACTOR.get(kind, 3.0)
    checks.append(
        _room(
            "resources",
            Path(resources),
            needed,
            unknown,
            "free space there, or make resources/ a link to a larger disk",
        )
    )
    cache = hub_cache()
    weights, unsized = 0.0, []
    for name, spec in models.items():
        checkpoint = spec.get("checkpoint")
        if "tiny" in spec or spec["backend"] == "openai" or not is_hub_id(checkpoint or ""):
            continue
        if (cache / f"models--{str(checkpoint).replace('/', '--')}").exists():
            continue
        if spec.get("params_b") is None:
            unsized.append(name)
            continue
        weights += float(spec["params_b"]) * GB * CHECKPOINT_BYTES_PER_PARAM
    if weights or unsized:
        checks.append(
            _room(
                "model cache",
                cache,
                weights,
                unsized,
                "free space there, or set HF_HUB_CACHE to a larger disk",
            )
        )
    return checks


def _room(item: str, folder: Path, needed: float, unknown: list[str], fix: str) -> Check:
    free = shutil.disk_usage(_existing(folder)).free
    detail = f"about {needed / GB:,.1f} GB needed in {folder}, {free / GB:,.1f} GB free"
    if unknown:
        detail += f"; size unknown for {', '.join(unknown)} (give size_gb/params_b)"
    if needed > free:
        return Check("disk", item, PROBLEM, detail, fix)
    return Check("disk", item, WARNING if unknown else OK, detail)


def _existing(folder: Path) -> Path:
    folder = folder.absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def hub_cache() -> Path:
    """Where huggingface_hub stores checkpoints (``HF_HUB_CACHE``, else ``HF_HOME/hub``)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return Path(home) / "hub"


def check_slurm(settings: SlurmSettings) -> list[Check]:
    """The Slurm executor plugin and client commands where Snakemake runs (the login node)."""
    checks = []
    if find_spec("snakemake_executor_plugin_slurm") is None:
        checks.append(
            Check(
                "slurm",
                "executor plugin",
                PROBLEM,
                "snakemake-executor-plugin-slurm is not installed",
                "pip install snakemake-executor-plugin-slurm",
            )
        )
    missing = [command for command in SLURM_COMMANDS if shutil.which(command) is None]
    if missing:
        checks.append(
            Check(
                "slurm",
                "commands",
                PROBLEM,
                f"not on PATH: {', '.join(missing)}",
                "start Snakemake on a node with the Slurm client (the login node)",
            )
        )
    status = settings.status_command or ("sacct" if shutil.which("sacct") else "squeue")
    if status == "sacct" and shutil.which("sacct") is None:
        checks.append(
            Check(
                "slurm",
                "job status",
                PROBLEM,
                "the job status command sacct is not on PATH",
                "add --slurm-no-account --slurm-status-command squeue",
            )
        )
    if not checks:
        checks.append(Check("slurm", "executor", OK, f"plugin, sbatch/squeue, status by {status}"))
    return checks
