"""What produced an output: package versions, git commit, host and accelerator."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = ("classbench", "torch", "transformers", "sentence-transformers", "numpy", "pandas")


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(directory: str | os.PathLike | None = None) -> str | None:
    """The commit of the workflow's checkout (with ``-dirty`` when it has local changes)."""
    cwd = Path(directory) if directory else Path.cwd()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def host_info() -> dict[str, object]:
    """Node and accelerator, as the job sees them (Slurm sets CUDA_VISIBLE_DEVICES)."""
    info: dict[str, object] = {
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "gpu": None,
    }
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(torch.cuda.current_device())
            info["gpu_count"] = torch.cuda.device_count()
    except ImportError:
        pass
    return info


def provenance(workflow_dir: str | os.PathLike | None = None) -> dict[str, object]:
    return {
        "versions": package_versions(),
        "git_commit": git_commit(workflow_dir),
        **host_info(),
    }
