"""Image pipeline of ``run_inference``: how long the model waits for images.

Workload: ``--images`` photo-like 1024x768 JPEGs (noise, gradients and shapes, quality 90) on
disk, answered by the demo models (``qwen2-vl-tiny``: batch 8, ``max_pixels`` 12544;
``llava-tiny``: batch 8, no pixel budget) through ``inference.chunks.run_inference`` with the
pipeline's defaults (chunks of 64, 4 decode threads), open world, 64 new tokens.

``run_inference`` decodes (and downscales to the pixel budget) the next chunk's images on a
thread pool while the model answers the current chunk. The figure is the share of the wall time
the main thread spends blocked on the prefetched images (time inside ``upcoming.result()``,
measured by wrapping the futures), against a no-prefetch baseline that decodes each chunk in
the main thread before answering it (the share is then the whole decode time).

Run: ``.venv/bin/python bench/image_pipeline.py``
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from _common import header, table, verdict
from PIL import Image, ImageDraw

GOAL = 0.10
PROMPT = "What type of object is in this photo?"
MODELS = {
    "qwen2-vl-tiny": {"tiny": "qwen2_vl", "batch_size": 8, "max_pixels": 12544},
    "llava-tiny": {"tiny": "llava", "batch_size": 8, "max_pixels": None},
}


def write_images(root: Path, n: int, size: tuple[int, int] = (1024, 768), seed: int = 0) -> None:
    """``n`` photo-like JPEGs (quality 90) under ``root/img``."""
    rng = np.random.default_rng(seed)
    (root / "img").mkdir(parents=True, exist_ok=True)
    width, height = size
    gradient = (
        np.linspace(-50, 50, width)[None, :, None] + np.linspace(-30, 30, height)[:, None, None]
    )
    for i in range(n):
        # Smooth noise (an upsampled coarse grid) plus fine grain, then a few shapes.
        coarse = rng.normal(128, 45, size=(height // 32 + 1, width // 32 + 1, 3))
        smooth = np.kron(coarse, np.ones((32, 32, 1)))[:height, :width]
        pixels = smooth + gradient + rng.normal(0, 12, size=(height, width, 3))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
            x1, y1 = x0 + int(rng.integers(20, 400)), y0 + int(rng.integers(20, 300))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            if rng.random() < 0.5:
                draw.ellipse((x0, y0, x1, y1), fill=colour)
            else:
                draw.rectangle((x0, y0, x1, y1), fill=colour)
        image.save(root / "img" / f"{i:05d}.jpg", quality=90)


class Shared:
    """A loaded backend reused by every run (``close`` is a no-op, the model stays loaded)."""

    def __init__(self, backend: Any):
        self._backend = backend

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._backend, attr)

    def close(self) -> None:
        pass


class WaitClock:
    """Time the main thread spends in ``Future.result()`` of futures made by patched pools."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.main = threading.main_thread()

    @property
    def seconds(self) -> float:
        return sum(self.waits)

    def pool_class(self) -> type[ThreadPoolExecutor]:
        clock = self

        class TimedPool(ThreadPoolExecutor):
            def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
                future = super().submit(fn, *args, **kwargs)
                plain = future.result

                def result(timeout: float | None = None) -> Any:
                    if threading.current_thread() is not clock.main:
                        return plain(timeout)
                    start = time.perf_counter()
                    try:
                        return plain(timeout)
                    finally:
                        clock.waits.append(time.perf_counter() - start)

                future.result = result  # type: ignore[method-assign]
                return future

        return TimedPool


def run_prefetch(
    requests: Any, factory: Any, root: Path, out: Path, spec: dict, workers: int, chunk: int
) -> tuple[float, float, float]:
    """``run_inference`` as the pipeline calls it; returns (wall s, s blocked on images, of
    which s blocked on the first chunk)."""
    from classbench.inference import chunks as inference

    clock = WaitClock()
    original = inference.ThreadPoolExecutor
    inference.ThreadPoolExecutor = clock.pool_class()  # type: ignore[misc]
    try:
        start = time.perf_counter()
        inference.run_inference(
            requests,
            factory,
            out,
            dataset_root=root,
            key=f"bench-{time.time_ns()}",
            max_new_tokens=64,
            chunk_size=chunk,
            max_pixels=spec["max_pixels"],
            image_workers=workers,
        )
        wall = time.perf_counter() - start
    finally:
        inference.ThreadPoolExecutor = original  # type: ignore[misc]
    return wall, clock.seconds, clock.waits[0] if clock.waits else 0.0


def run_sequential(
    requests: Any, backend: Any, root: Path, spec: dict, chunk: int
) -> tuple[float, float]:
    """No prefetch: each chunk's images decoded in the main thread, then answered."""
    from classbench.images import load_image
    from classbench.inference.chunks import generate_chunk

    waited = 0.0
    start = time.perf_counter()
    for begin in range(0, len(requests), chunk):
        frame = requests.iloc[begin : begin + chunk]
        t0 = time.perf_counter()
        images = [load_image(root / path, spec["max_pixels"]) for path in frame["image"]]
        waited += time.perf_counter() - t0
        generate_chunk(backend, frame, images, 64, constrained=False)
    return time.perf_counter() - start, waited


def decode_cost(root: Path, paths: list[str], max_pixels: int | None) -> float:
    """Seconds per image to decode (and downscale) one image, single thread."""
    from classbench.images import load_image

    start = time.perf_counter()
    for path in paths:
        load_image(root / path, max_pixels)
    return (time.perf_counter() - start) / len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--workers", type=int, default=4, help="decode threads (pipeline: 4)")
    parser.add_argument("--chunk-size", type=int, default=64, help="pipeline default: 64")
    parser.add_argument("--repeat", type=int, default=2, help="timings per figure (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    header("Image pipeline: share of wall time spent waiting for images")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    import pandas as pd
    import torch
    from transformers.utils import logging as hf_logging

    from classbench.backends import hf
    from classbench.backends.hf import HFBackend
    from classbench.demo import build_tiny_model

    hf.tqdm = lambda iterable, **_: iterable  # no per-batch progress bars in the figures' output

    hf_logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.get_num_threads()} thread(s); {args.workers} decode threads")
    rows = []
    with tempfile.TemporaryDirectory(prefix="classbench-images-") as tmp:
        root = Path(tmp) / "data"
        write_images(root, args.images)
        paths = sorted(f"img/{p.name}" for p in (root / "img").iterdir())
        megabytes = sum((root / p).stat().st_size for p in paths) / 2**20
        print(f"{len(paths)} JPEGs 1024x768 q90, {megabytes:.0f} MiB")
        requests = pd.DataFrame(
            {"sample_id": [f"s{i:05d}" for i in range(len(paths))], "image": paths}
        ).assign(prompt=PROMPT, options=None)
        for name in args.models:
            spec = MODELS[name]
            model_dir = build_tiny_model(spec["tiny"], Path(tmp) / name)
            backend_spec = {
                "checkpoint": str(model_dir),
                "batch_size": spec["batch_size"],
                "max_pixels": spec["max_pixels"],
                "dtype": "float32",
            }
            backend = HFBackend(backend_spec)

            per_image = decode_cost(root, paths[:32], spec["max_pixels"])
            prefetch, sequential = [], []
            for i in range(args.repeat):
                out = Path(tmp) / f"out-{name}-{i}" / "predictions.parquet"
                out.parent.mkdir(parents=True)
                prefetch.append(
                    run_prefetch(
                        requests,
                        functools.partial(Shared, backend),
                        root,
                        out,
                        spec,
                        args.workers,
                        args.chunk_size,
                    )
                )
                sequential.append(run_sequential(requests, backend, root, spec, args.chunk_size))
            wall, wait, first = sorted(prefetch)[len(prefetch) // 2]
            base_wall, base_wait = sorted(sequential)[len(sequential) // 2]
            share, base_share = wait / wall, base_wait / base_wall
            print(
                f"{name}: decode+downscale {per_image * 1000:.1f} ms/image (1 thread); "
                f"prefetch: wall {wall:.1f} s, waiting {wait:.2f} s ({share:.1%}; first chunk "
                f"{first:.2f} s, later chunks {wait - first:.2f} s = {(wait - first) / wall:.1%}); "
                f"no prefetch: wall {base_wall:.1f} s, decoding {base_wait:.1f} s "
                f"({base_share:.1%}); runs {[(round(w, 1), round(x, 2)) for w, x, _ in prefetch]}"
            )
            rows.append(
                [
                    f"{name}: share of wall time waiting for images",
                    f"{share:.1%} ({len(paths) / wall:.1f} img/s)",
                    f"{base_share:.1%} ({len(paths) / base_wall:.1f} img/s)",
                    f"{base_wall / wall:.2f}x wall",
                    f"< {GOAL:.0%}",
                    verdict(share, GOAL, higher_is_better=False),
                ]
            )
            backend.close()
    print(
        table(
            rows, ["figure", "prefetch (run_inference)", "no prefetch", "speed-up", "goal", "met"]
        )
    )


if __name__ == "__main__":
    main()
