"""HF backend on CPU: batched, length-sorted generation vs a batch-size-1 loop.

The same random-weight Qwen2-VL (a 4-layer 256-wide decoder and a 4-layer vision tower, ~5M
parameters, built through the real transformers classes) answers the same images of mixed
sizes (4..64 image tokens each under a 64*28*28 pixel budget) through
``classbench.backends.hf.HFBackend``:

- open world: "What type of object is in this photo?", up to 64 new tokens (lmms-owc);
- MCQ: a FOCI-style four-option prompt, up to 10 new tokens.

The baseline is the same backend with ``batch_size=1`` (lmms-owc refuses any other batch size),
the candidates batch 8 and 16 (FOCI's range), sorted by image size and prompt length, left
padded. Every run is greedy; the script also reports how many answers are identical batched
and unbatched (left padding changes the floating-point reduction order, so a near-tie in the
argmax of a random model may flip).

Run: ``.venv/bin/python bench/inference_cpu.py``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import header, table, timed, verdict
from PIL import Image, ImageDraw

GOAL = 3.0
OPEN_PROMPT = "What type of object is in this photo?"
MCQ_PROMPT = (
    "Which of these choices is shown in the image?\nChoices:\nA. {}\nB. {}\nC. {}\nD. {}\n"
    "Answer with the letter from the given choices directly."
)
CLASSES = ("cat", "dog", "bird", "fish", "horse", "truck", "ship", "frog", "deer", "airplane")


def make_images(n: int, seed: int = 0) -> list[Image.Image]:
    """``n`` photo-like images (noise, gradient, shapes) of mixed sizes, 56..448 px a side."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        width, height = (int(x) for x in rng.integers(56, 449, size=2))
        base = rng.normal(128, 40, size=(height, width, 3))
        base += np.linspace(-40, 40, width)[None, :, None]
        image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(3):
            x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
            x1, y1 = x0 + int(rng.integers(8, width // 2 + 9)), y0 + int(rng.integers(8, height))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        images.append(image)
    return images


def mcq_prompts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [
        MCQ_PROMPT.format(*rng.choice(CLASSES, size=4, replace=False).tolist()) for _ in range(n)
    ]


def breakdown(backend: Any, images: list[Image.Image], prompts: list[str], new_tokens: int) -> dict:
    """Seconds in the processor, in prefill (vision tower + prompt, up to the first new token)
    and in decoding the other tokens, over the backend's own sorted batches."""
    import torch

    items = sorted(
        (
            (backend.prepare_image(image), backend.render_prompt(prompt))
            for image, prompt in zip(images, prompts, strict=True)
        ),
        key=lambda item: (item[0].width * item[0].height, len(item[1])),
    )
    size = backend.batch_size
    seconds = {"processor": 0.0, "prefill": 0.0, "decode": 0.0}
    settings = {"do_sample": False, "pad_token_id": backend.generation.get("pad_token_id")}
    for start in range(0, len(items), size):
        batch = items[start : start + size]
        t0 = time.perf_counter()
        inputs = backend._encode([text for _, text in batch], [image for image, _ in batch])
        t1 = time.perf_counter()
        with torch.inference_mode():
            backend.model.generate(**inputs, **settings, max_new_tokens=1)
            t2 = time.perf_counter()
            backend.model.generate(**inputs, **settings, max_new_tokens=new_tokens)
        t3 = time.perf_counter()
        seconds["processor"] += t1 - t0
        seconds["prefill"] += t2 - t1
        seconds["decode"] += (t3 - t2) - (t2 - t1)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--repeat", type=int, default=2, help="timings per figure (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: all)")
    parser.add_argument("--model-dir", default=None, help="where to build the model (temp dir)")
    parser.add_argument(
        "--breakdown", action="store_true", help="also split the time into processor/prefill/decode"
    )
    args = parser.parse_args()
    header("HF backend on CPU: batching")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from _qwen import build_qwen2_vl
    from transformers.utils import logging as hf_logging

    from classbench.backends import hf
    from classbench.backends.hf import HFBackend

    hf_logging.disable_progress_bar()
    hf.tqdm = lambda iterable, **_: iterable  # no per-batch progress bars in the output
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(args.model_dir or tmp) / "qwen2-vl-small"
        build_qwen2_vl("qwen2-vl-small", model_dir, max_pixels=64 * 28 * 28)
        backends = {
            size: HFBackend({"checkpoint": str(model_dir), "batch_size": size, "dtype": "float32"})
            for size in [1, *args.batch_sizes]
        }
        n_params = sum(p.numel() for p in backends[1].model.parameters())
        images = make_images(args.images)
        workloads = {
            "open world, 64 tokens": ([OPEN_PROMPT] * args.images, 64),
            "MCQ, 10 tokens": (mcq_prompts(args.images), 10),
        }
        print(f"model: Qwen2-VL architecture, {n_params / 1e6:.1f}M parameters, float32")
        sides = [f"{im.width}x{im.height}" for im in images[:4]]
        print(f"{args.images} images of mixed sizes (e.g. {', '.join(sides)})")
        rows = []
        for label, (prompts, max_new) in workloads.items():
            outputs = {}
            seconds = {}
            for size, backend in backends.items():
                seconds[size], runs, generations = timed(
                    lambda b=backend, p=prompts, m=max_new: b.generate(images, p, max_new_tokens=m),
                    repeat=args.repeat,
                    warmup=1 if size == 1 else 0,
                )
                outputs[size] = [g.text for g in generations]
                errors = sum(g.error is not None for g in generations)
                tokens = np.mean([g.tokens_out or 0 for g in generations])
                print(
                    f"{label}, batch {size}: {seconds[size]:.1f} s "
                    f"({args.images / seconds[size]:.2f} img/s; runs "
                    f"{', '.join(f'{t:.1f}' for t in runs)}; {tokens:.1f} new tokens/answer; "
                    f"{errors} errors)"
                )
            for size in args.batch_sizes:
                same = sum(a == b for a, b in zip(outputs[1], outputs[size], strict=True))
                ratio = seconds[1] / seconds[size]
                print(
                    f"{label}, batch {size} vs 1: {ratio:.1f}x; identical answers "
                    f"{same}/{args.images}"
                )
                rows.append(
                    [
                        f"{label}, batch {size} (sorted, left padded)",
                        f"{args.images / seconds[size]:.2f} img/s",
                        f"{args.images / seconds[1]:.2f} img/s",
                        f"{ratio:.1f}x",
                        f">= {GOAL:.0f}x",
                        verdict(ratio, GOAL),
                        f"{same}/{args.images}",
                    ]
                )
        if args.breakdown:
            for label, (prompts, max_new) in workloads.items():
                for size, backend in backends.items():
                    parts = breakdown(backend, images, prompts, max_new)
                    total = sum(parts.values())
                    print(
                        f"breakdown, {label}, batch {size}: "
                        + ", ".join(f"{k} {v:.2f} s ({v / total:.0%})" for k, v in parts.items())
                    )
        for backend in backends.values():
            backend.close()
    print(
        table(
            rows,
            ["figure", "batched", "batch 1 loop", "ratio", "goal", "met", "same answers"],
        )
    )


if __name__ == "__main__":
    main()
