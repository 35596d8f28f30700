"""Resume after a kill: samples computed again, as a fraction of the job and of a chunk.

A child process runs ``inference.chunks.run_inference`` over ``--samples`` requests with a
fake backend (a fixed cost per sample, each answered sample id appended to a log) and is killed
with SIGKILL at a random moment after ``k`` chunks were written (``k`` drawn per trial). The job
is then resumed in a new process; the samples answered before the kill but computed again after
it are the work the kill cost. ``run_inference`` checkpoints each chunk atomically, so the loss
should never exceed the chunk in flight.

Run: ``.venv/bin/python bench/resume_cost.py``
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import header, table, verdict
from PIL import Image

KEY = "resume-bench"


class SlowBackend:
    """A stand-in model: ``seconds`` per sample, every answered sample id logged."""

    name = "fake"

    def __init__(self, log: Path, seconds: float):
        self.log = log
        self.seconds = seconds

    def generate(
        self,
        images: list[Image.Image],
        prompts: list[str],
        *,
        max_new_tokens: int,
        choices: Any = None,
    ) -> list[Any]:
        from classbench.backends.base import Generation

        out = []
        with self.log.open("a") as handle:
            for prompt in prompts:
                time.sleep(self.seconds)
                handle.write(prompt + "\n")
                handle.flush()
                out.append(Generation(text=f"answer to {prompt}", tokens_in=1, tokens_out=1))
        return out

    def info(self) -> dict[str, Any]:
        return {"backend": self.name}

    def close(self) -> None:
        pass


def child(args: argparse.Namespace) -> None:
    """One attempt of the job (run in a subprocess); prints run_inference's stats as JSON."""
    import pandas as pd

    from classbench.inference.chunks import run_inference

    work = Path(args.work)
    requests = pd.DataFrame(
        {
            "sample_id": [f"s{i:05d}" for i in range(args.samples)],
            "image": ["img.png"] * args.samples,
            "prompt": [f"s{i:05d}" for i in range(args.samples)],  # the log records the prompt
            "options": [None] * args.samples,
        }
    )
    _, stats = run_inference(
        requests,
        lambda: SlowBackend(work / args.log, args.seconds),
        work / "predictions.parquet",
        dataset_root=work,
        key=KEY,
        max_new_tokens=8,
        chunk_size=args.chunk_size,
        image_workers=2,
    )
    print(json.dumps({k: v for k, v in stats.items() if k in ("reused", "computed")}))


def trial(work: Path, samples: int, chunk: int, seconds: float, kill_after: int, rng: Any) -> dict:
    """Kill a run after ``kill_after`` chunks plus a random part of the next; resume."""
    work.mkdir(parents=True)
    Image.new("RGB", (8, 8), "white").save(work / "img.png")
    chunks = work / "predictions.parquet.chunks" / KEY
    base = [sys.executable, __file__, "--child", "--work", str(work), "--samples", str(samples)]
    base += ["--chunk-size", str(chunk), "--seconds", str(seconds)]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    first = subprocess.Popen(
        [*base, "--log", "killed.log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while len(list(chunks.glob("chunk-*.parquet"))) < kill_after:
        if first.poll() is not None:
            raise RuntimeError("the run finished before it could be killed")
        time.sleep(0.002)
    time.sleep(float(rng.uniform(0, chunk * seconds)))  # somewhere inside the next chunk
    first.send_signal(signal.SIGKILL)
    first.wait()
    written = len(list(chunks.glob("chunk-*.parquet")))
    answered = set((work / "killed.log").read_text().split())
    resumed = subprocess.run(
        [*base, "--log", "resumed.log"], env=env, capture_output=True, text=True, check=True
    )
    stats = json.loads(resumed.stdout.strip().splitlines()[-1])
    recomputed = answered & set((work / "resumed.log").read_text().split())
    return {
        "chunk": chunk,
        "chunks_written": written,
        "answered_before_kill": len(answered),
        "reused": stats["reused"],
        "recomputed": len(recomputed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--chunk-sizes", type=int, nargs="+", default=[8, 16, 32, 64, 128])
    parser.add_argument("--trials", type=int, default=3, help="kills per chunk size")
    parser.add_argument("--seconds", type=float, default=0.004, help="fake cost per sample")
    parser.add_argument("--seed", type=int, default=0)
    # internal: one attempt of the job
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    parser.add_argument("--chunk-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    header("Resume cost after SIGKILL")
    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="classbench-resume-") as tmp:
        for chunk in args.chunk_sizes:
            n_chunks = -(-args.samples // chunk)
            results = []
            for t in range(args.trials):
                kill_after = int(rng.integers(1, max(2, n_chunks - 1)))
                work = Path(tmp) / f"c{chunk}-t{t}"
                results.append(trial(work, args.samples, chunk, args.seconds, kill_after, rng))
                print(json.dumps(results[-1]))
            worst = max(r["recomputed"] for r in results)
            mean = float(np.mean([r["recomputed"] for r in results]))
            rows.append(
                [
                    f"chunk {chunk}, {args.samples} samples, {args.trials} kills",
                    f"{mean:.1f} (max {worst})",
                    f"{mean / args.samples:.2%}",
                    f"{worst / chunk:.2f} chunk",
                    "<= 1 chunk",
                    verdict(worst / chunk, 1.0, higher_is_better=False),
                ]
            )
    print(
        table(
            rows,
            ["setting", "recomputed samples", "of the job", "worst", "goal", "met"],
        )
    )


if __name__ == "__main__":
    main()
