"""One predictions writer: the contract columns and the metadata every predictor's file has."""

from __future__ import annotations

import pandas as pd
import pytest

from classbench.inference.predictions import CONTRACT_COLUMNS, write_predictions
from classbench.io import read_metadata, read_parquet


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sample_id": ["a", "b", "c"],
            "label": ["cat", "dog", "cat"],
            "prompt": ["q", "q", "q"],
            "options": [None, None, None],
            "raw": ["cat", None, "a dog"],
            "answer": ["cat", None, "dog"],
            "error": [None, "image: truncated file", None],
            "tokens_in": [3, None, 3],
        }
    )


def test_counts_and_provenance_are_added(tmp_path):
    out = tmp_path / "predictions" / "p.parquet"
    write_predictions(frame(), out, {"backend": "hf", "model": "m", "limit": None})
    meta = read_metadata(out)
    assert (meta["samples"], meta["errors"]) == (3, 1)
    assert (meta["backend"], meta["model"], meta["limit"]) == ("hf", "m", None)
    assert {"versions", "git_commit", "python"} <= set(meta["provenance"])
    assert list(read_parquet(out).columns) == list(frame().columns)


@pytest.mark.parametrize("column", CONTRACT_COLUMNS)
def test_a_frame_without_a_contract_column_is_refused(tmp_path, column):
    out = tmp_path / "p.parquet"
    with pytest.raises(ValueError, match=f"contract column\\(s\\) {column}"):
        write_predictions(frame().drop(columns=column), out, {})
    assert not out.exists()
