"""The predictions file: one writer for every predictor (generative, zero-shot, supervised)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from classbench.io import write_parquet
from classbench.provenance import provenance

# The columns scoring, the gallery and the tables read from every predictions file, whatever
# produced it; predictors add their own after these (token counts, mined options, ...).
CONTRACT_COLUMNS = ("sample_id", "label", "prompt", "options", "raw", "answer", "error")


def write_predictions(
    frame: pd.DataFrame,
    output: str | os.PathLike,
    metadata: Mapping[str, Any],
    *,
    workflow_dir: str | os.PathLike | None = None,
) -> Path:
    """Write one job's predictions with the metadata every predictions file carries.

    ``metadata`` holds what the predictor knows (the job, its backend and model, throughput);
    the sample count, the error count and the provenance (package versions, git commit of
    ``workflow_dir`` or the working directory) are added here. A frame without a contract column
    is refused before anything is written.
    """
    missing = [column for column in CONTRACT_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"predictions lack the contract column(s) {', '.join(missing)}")
    info = {
        **metadata,
        "samples": len(frame),
        "errors": int(frame["error"].notna().sum()),
        "provenance": provenance(workflow_dir),
    }
    return write_parquet(frame, output, metadata=info)
