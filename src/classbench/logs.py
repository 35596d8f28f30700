"""Send a job's output to its log file (the workflow scripts call this first)."""

from __future__ import annotations

import logging
import os
import sys


def to_log_file(path: str | os.PathLike) -> None:
    """Route stdout, stderr (progress bars included) and logging to ``path``."""
    handle = open(path, "w", buffering=1)  # noqa: SIM115 - lives as long as the job
    sys.stdout = handle
    sys.stderr = handle
    logging.basicConfig(
        stream=handle,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        force=True,
    )
