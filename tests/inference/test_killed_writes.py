"""A writer killed by SIGKILL in the middle of a write leaves no partial output.

A raised exception lets ``finally`` clean up; a kill does not. Each test runs the real writer in a
child process whose parquet encoder writes half a file and stops, then kills it with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import classbench
from classbench.inference.chunks import chunk_dir, read_chunks
from classbench.io import read_parquet, write_parquet

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

# The child writes `rows` rows to `target` with write_parquet; its encoder puts half a parquet
# file on disk, says "half" and waits to be killed.
CHILD = textwrap.dedent(
    """
    import sys, time
    import pandas as pd
    import pyarrow.parquet as pq
    from classbench.io import write_parquet

    def half_then_hang(table, where, *args, **kwargs):
        with open(where, "wb") as handle:
            handle.write(b"PAR1" + b"x" * 4096)
            handle.flush()
        print("half", flush=True)
        time.sleep(600)

    pq.write_table = half_then_hang
    target, rows = sys.argv[1], int(sys.argv[2])
    frame = pd.DataFrame({"sample_id": [f"s{i}" for i in range(rows)], "prompt": "p",
                          "raw": "r", "error": None})
    write_parquet(frame, target)
    """
)


def kill_during_write(target: Path, rows: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(classbench.__file__).parents[1])}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(target), str(rows)],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert child.stdout.readline().strip() == "half"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_killed_first_write_leaves_no_file(tmp_path):
    target = tmp_path / "predictions.parquet"
    kill_during_write(target, rows=3)
    assert not target.exists()
    # What the kill leaves is a hidden temp file, never the output name.
    assert all(path.name.startswith(".predictions.parquet.") for path in tmp_path.iterdir())


def test_a_killed_rewrite_keeps_the_previous_file_whole(tmp_path):
    target = tmp_path / "predictions.parquet"
    before = pd.DataFrame({"sample_id": ["a", "b"], "prompt": "p", "raw": "r", "error": None})
    write_parquet(before, target)
    kill_during_write(target, rows=5)
    pd.testing.assert_frame_equal(read_parquet(target), before)


def test_a_chunk_killed_mid_write_is_not_read_as_answers(tmp_path):
    directory = chunk_dir(tmp_path / "p.parquet", "key")
    finished = pd.DataFrame({"sample_id": ["a"], "prompt": ["p"], "raw": ["x"], "error": [None]})
    write_parquet(finished, directory / "chunk-1.parquet")
    kill_during_write(directory / "chunk-2.parquet", rows=4)
    assert not (directory / "chunk-2.parquet").exists()
    assert read_chunks(directory)["sample_id"].tolist() == ["a"]
