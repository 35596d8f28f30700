"""Backend parity: the same model served two ways (e.g. transformers in-process and a vLLM or
OpenVINO server) should give the same answers; this measures how far apart they are."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from classbench.io import as_objects


def agreement(candidate: pd.DataFrame, reference: pd.DataFrame) -> dict[str, Any]:
    """Raw-text and parsed-answer agreement over the samples both backends answered."""
    left = candidate[["sample_id", "raw", "answer", "error"]]
    right = reference[["sample_id", "raw", "answer", "error"]]
    both = left.merge(right, on="sample_id", suffixes=("", "_ref"), validate="one_to_one")
    valid = both["error"].isna() & both["error_ref"].isna()
    both = both[valid]
    raw = [a == b for a, b in zip(as_objects(both["raw"]), as_objects(both["raw_ref"]),
                                  strict=True)]  # fmt: skip
    answer = [a == b for a, b in zip(as_objects(both["answer"]), as_objects(both["answer_ref"]),
                                     strict=True)]  # fmt: skip
    return {
        "n": len(both),
        "n_invalid": int((~valid).sum()),
        "raw_agreement": float(np.mean(raw)) if raw else float("nan"),
        "answer_agreement": float(np.mean(answer)) if answer else float("nan"),
    }


def parity_table(pairs: Iterable[Mapping[str, Any]], summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, task, model, reference): agreement and each metric's difference.

    ``pairs``: dicts with ``dataset, task, model, reference`` and the two predictions frames
    ``candidate`` and ``baseline``.
    """
    rows = []
    for pair in pairs:
        row = {key: pair[key] for key in ("dataset", "task", "model", "reference")}
        row.update(agreement(pair["candidate"], pair["baseline"]))
        part = summary[(summary["dataset"] == pair["dataset"]) & (summary["task"] == pair["task"])]
        values = part.pivot_table(index="model", columns="metric", values="value")
        if pair["model"] in values.index and pair["reference"] in values.index:
            for metric in values.columns:
                diff = values.loc[pair["model"], metric] - values.loc[pair["reference"], metric]
                row[f"diff {metric}"] = float(diff)
        rows.append(row)
    return pd.DataFrame(rows)
