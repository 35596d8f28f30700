"""GPU throughput of the generative backends on full-size models, against the physical limit.

One command on a machine with a CUDA GPU::

    python bench/gpu_throughput.py --model qwen2-vl-2b      # or qwen2-vl-7b

builds the published Qwen2-VL architecture with random weights (``bench/_qwen.py``: the
config values of Qwen/Qwen2-VL-2B/7B-Instruct, bfloat16, initialised on the GPU), saves it with
a processor that uses the real image settings (patch 14, merge 2, 4..256 tokens of 28x28 px:
``min_pixels=4*28*28``, ``max_pixels=256*28*28``), and measures images/s of
``classbench.backends.hf.HFBackend`` (and of the vLLM engine backend when ``vllm`` imports)
for open-world answers (64 new tokens) and MCQ answers (10 new tokens) at batch sizes 1, 8
and 32. Random weights rarely emit EOS, so every answer runs to its token budget: the figures
are for full-length answers.

The physical limit per configuration: prefill is compute-bound, FLOPs per image
≈ 2 × decoder parameters × prompt tokens + 2 × vision parameters × patches + attention terms,
at the GPU's dense bf16 peak; each decode step reads every weight once per batch (memory-bound
at small batch) or does 2 × parameters FLOPs per sequence (compute-bound at large batch),
whichever is slower. The script prints the fraction of that limit each run reaches.

``--dry-run`` runs the whole path on the CPU at toy scale (the 2B model's vocabulary, a 2-layer
64-wide decoder) and prints the FLOP arithmetic for ``--model``; without CUDA and without
``--dry-run`` the script exits with a message.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import header, table
from _qwen import MAX_PIXELS, MIN_PIXELS, QWEN2_VL_SIZES, build_qwen2_vl, count_parameters
from PIL import Image

OPEN_PROMPT = "What type of object is in this photo?"
MCQ_PROMPT = (
    "Which of these choices is shown in the image?\nChoices:\nA. cat\nB. dog\nC. bird\n"
    "D. fish\nAnswer with the letter from the given choices directly."
)
WORKLOADS = {"open world": (OPEN_PROMPT, 64), "MCQ": (MCQ_PROMPT, 10)}

# Dense bf16 tensor-core peak (TFLOP/s, no sparsity) and memory bandwidth (TB/s), from the
# vendors' data sheets; matched against torch.cuda.get_device_name(). Override with
# --peak-tflops / --peak-tbps for anything else.
GPU_PEAKS: tuple[tuple[str, float, float], ...] = (
    ("H200", 989.0, 4.8),
    ("H100 PCIe", 756.0, 2.0),
    ("H100 NVL", 835.0, 3.9),
    ("H100", 989.0, 3.35),
    ("A100-SXM4-80GB", 312.0, 2.04),
    ("A100 80GB PCIe", 312.0, 1.94),
    ("A100", 312.0, 1.56),
    ("L40S", 362.0, 0.864),
    ("L4", 121.0, 0.3),
    ("A10", 125.0, 0.6),
    ("RTX 4090", 165.0, 1.0),
    ("RTX 3090", 71.0, 0.936),
)


@dataclass
class Limits:
    """Physical lower bounds on the time of one batch, in seconds."""

    prefill_s: float
    decode_s: float

    @property
    def total_s(self) -> float:
        return self.prefill_s + self.decode_s


def gpu_peaks(name: str) -> tuple[float, float] | None:
    """(bf16 TFLOP/s, TB/s) of a GPU from its device name, or None when unknown."""
    for key, tflops, tbps in GPU_PEAKS:
        if key.lower() in name.lower():
            return tflops, tbps
    return None


def image_tokens(width: int, height: int, min_pixels: int, max_pixels: int) -> int:
    """Image tokens Qwen2-VL spends on a ``width`` x ``height`` image (after smart_resize)."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    h, w = smart_resize(height, width, factor=28, min_pixels=min_pixels, max_pixels=max_pixels)
    return (h // 28) * (w // 28)


def prefill_flops(size: str, prompt_tokens: int, n_image_tokens: int) -> float:
    """FLOPs of one image's prefill: vision tower over its patches, decoder over the prompt."""
    params = count_parameters(size)
    sizes = QWEN2_VL_SIZES[size]
    text, vision = sizes["text"], sizes["vision"]
    patches = 4 * n_image_tokens  # before the 2x2 merge
    # Linear layers: 2 FLOPs per parameter per token (the LM head only for the last token).
    dense = 2 * params["vision"] * patches + 2 * params["decoder"] * prompt_tokens
    dense += 2 * text["hidden_size"] * (text["vocab_size"] or 0)
    # Attention scores and weighted sums: 4 * n^2 * width per layer (full, non-causal vision).
    q_dim = text["num_attention_heads"] * text["head_dim"]
    attention = 4 * vision["depth"] * patches**2 * vision["embed_dim"]
    attention += 2 * text["num_hidden_layers"] * prompt_tokens**2 * q_dim  # causal: half
    return float(dense + attention)


def decode_step_bounds(size: str, batch: int, context: int) -> tuple[float, float]:
    """(bytes read, FLOPs) of one decode step for ``batch`` sequences of ``context`` tokens."""
    params = count_parameters(size)
    text = QWEN2_VL_SIZES[size]["text"]
    weights = params["decoder"] + text["hidden_size"] * (text["vocab_size"] or 0)  # + LM head
    kv_per_token = 2 * text["num_hidden_layers"] * text["num_key_value_heads"] * text["head_dim"]
    bytes_read = 2.0 * (weights + batch * context * kv_per_token)  # bf16
    flops = 2.0 * weights * batch + 4.0 * batch * context * (
        text["num_hidden_layers"] * text["num_attention_heads"] * text["head_dim"]
    )
    return bytes_read, flops


def limits(
    size: str,
    batch: int,
    prompt_tokens: int,
    n_image_tokens: int,
    new_tokens: int,
    tflops: float,
    tbps: float,
) -> Limits:
    """Lower bounds on prefill and decode time of one batch."""
    peak, bandwidth = tflops * 1e12, tbps * 1e12
    prefill = batch * prefill_flops(size, prompt_tokens, n_image_tokens) / peak
    decode = 0.0
    for step in range(new_tokens - 1):  # the first new token comes out of the prefill
        bytes_read, flops = decode_step_bounds(size, batch, prompt_tokens + step)
        decode += max(bytes_read / bandwidth, flops / peak)
    return Limits(prefill, decode)


def make_images(n: int, width: int, height: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [
        Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8))
        for _ in range(n)
    ]


def measure(backend: Any, images: list[Image.Image], prompt: str, new_tokens: int) -> dict:
    """images/s of one backend over ``images`` (one warm-up call on a few images first)."""
    import torch

    backend.generate(images[:2], [prompt] * 2, max_new_tokens=new_tokens)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    generations = backend.generate(images, [prompt] * len(images), max_new_tokens=new_tokens)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    errors = [g.error for g in generations if g.error]
    return {
        "seconds": seconds,
        "images_per_s": len(images) / seconds,
        "tokens_in": float(np.mean([g.tokens_in or 0 for g in generations])),
        "tokens_out": float(np.mean([g.tokens_out or 0 for g in generations])),
        "errors": errors,
    }


def hf_backend(checkpoint: Path, batch: int, dtype: str, attn: str | None) -> Any:
    from classbench.backends.hf import HFBackend

    spec: dict[str, Any] = {"checkpoint": str(checkpoint), "batch_size": batch, "dtype": dtype}
    if attn:
        spec["attn_implementation"] = attn
    return HFBackend(spec)


def vllm_backend(checkpoint: Path, min_pixels: int, max_pixels: int) -> Any:
    from classbench.backends.vllm_engine import VLLMBackend

    return VLLMBackend(
        {
            "checkpoint": str(checkpoint),
            "dtype": "bfloat16",
            "max_model_len": 4096,
            "gpu_memory_utilization": 0.85,
            "mm_processor_kwargs": {"min_pixels": min_pixels, "max_pixels": max_pixels},
        }
    )


def check_parameter_count(checkpoint: Path, size: str) -> None:
    """The FLOP arithmetic counts parameters from the config: check it against a real model."""
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(checkpoint)
    real = sum(p.numel() for p in model.parameters())
    counted = sum(count_parameters(size).values())
    if real != counted:
        sys.exit(f"parameter count mismatch for {size}: model {real:,}, arithmetic {counted:,}")
    print(f"parameter count of {size} matches the arithmetic: {real:,}")


def print_arithmetic(args: argparse.Namespace, tflops: float, tbps: float, n_img: int) -> None:
    params = count_parameters(args.model)
    total = sum(params.values())
    print(
        f"{args.model}: {total / 1e9:.2f}B parameters (vision {params['vision'] / 1e6:.0f}M, "
        f"decoder {params['decoder'] / 1e9:.2f}B, embeddings {params['embeddings'] / 1e6:.0f}M)"
    )
    print(
        f"image {args.image_size}: {n_img} image tokens ({4 * n_img} patches) under "
        f"min/max pixels {args.min_pixels}/{args.max_pixels}"
    )
    prompt = n_img + 40  # image tokens + chat template and question (about 40 text tokens)
    flops = prefill_flops(args.model, prompt, n_img)
    print(
        f"prefill FLOPs per image ~{flops / 1e12:.2f} TFLOP -> at most "
        f"{tflops * 1e12 / flops:,.0f} images/s of prefill at {tflops:.0f} TFLOP/s"
    )
    rows = []
    for label, (_, new_tokens) in WORKLOADS.items():
        for batch in args.batch_sizes:
            bound = limits(args.model, batch, prompt, n_img, new_tokens, tflops, tbps)
            rows.append(
                [
                    f"{label}, {new_tokens} tokens, batch {batch}",
                    f"{bound.prefill_s * 1000:.1f} ms",
                    f"{bound.decode_s * 1000:.1f} ms",
                    f"{batch / bound.total_s:,.0f} img/s",
                ]
            )
    print(f"physical limits at {tflops:.0f} TFLOP/s bf16 and {tbps:.2f} TB/s:")
    print(table(rows, ["configuration", "prefill / batch", "decode / batch", "limit"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["qwen2-vl-2b", "qwen2-vl-7b"], default="qwen2-vl-2b")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--images", type=int, default=96, help="images per measurement")
    parser.add_argument("--image-size", default="640x480", help="WIDTHxHEIGHT of the images")
    parser.add_argument("--min-pixels", type=int, default=MIN_PIXELS)
    parser.add_argument("--max-pixels", type=int, default=MAX_PIXELS)
    parser.add_argument("--backends", nargs="+", default=["hf", "vllm"], choices=["hf", "vllm"])
    parser.add_argument("--attn", default="sdpa", help="attn_implementation for the hf backend")
    parser.add_argument("--peak-tflops", type=float, default=None, help="GPU bf16 dense peak")
    parser.add_argument("--peak-tbps", type=float, default=None, help="GPU memory bandwidth")
    parser.add_argument("--work-dir", default=None, help="where to save the model (temp dir)")
    parser.add_argument(
        "--dry-run", action="store_true", help="toy-scale run of the whole path on the CPU"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    import torch
    from transformers.utils import logging as hf_logging

    from classbench.backends import hf

    hf_logging.disable_progress_bar()
    hf.tqdm = lambda iterable, **_: iterable  # no per-batch progress bars in the output
    cuda = torch.cuda.is_available()
    if not cuda and not args.dry_run:
        sys.exit(
            "gpu_throughput.py needs a CUDA GPU (torch.cuda.is_available() is False here). "
            "Run it on a GPU machine, or add --dry-run to check the whole path at toy scale "
            "on the CPU."
        )
    header(f"GPU throughput: {args.model}" + (" (dry run on CPU)" if args.dry_run else ""))
    width, height = (int(x) for x in args.image_size.lower().split("x"))
    n_img = image_tokens(width, height, args.min_pixels, args.max_pixels)
    device_name = torch.cuda.get_device_name(0) if cuda else "none (dry run)"
    peaks = gpu_peaks(device_name) if cuda else (989.0, 3.35)  # dry run: H100 SXM figures
    tflops = args.peak_tflops or (peaks[0] if peaks else None)
    tbps = args.peak_tbps or (peaks[1] if peaks else None)
    if tflops is None or tbps is None:
        sys.exit(f"unknown GPU {device_name!r}: pass --peak-tflops and --peak-tbps")
    print(f"device: {device_name}; torch {torch.__version__}")
    print_arithmetic(args, tflops, tbps, n_img)

    size = "qwen2-vl-dryrun" if args.dry_run else args.model
    batch_sizes = [1, 2] if args.dry_run else args.batch_sizes
    n_images = 4 if args.dry_run else max(args.images, *batch_sizes)
    images = make_images(n_images, width, height)
    rows = []
    with tempfile.TemporaryDirectory(prefix="classbench-gpu-") as tmp:
        checkpoint = Path(args.work_dir or tmp) / size
        started = time.perf_counter()
        build_qwen2_vl(
            size,
            checkpoint,
            min_pixels=args.min_pixels,
            max_pixels=args.max_pixels,
            dtype=torch.bfloat16 if cuda else torch.float32,
            device="cuda" if cuda else "cpu",
        )
        print(f"built and saved {size} in {time.perf_counter() - started:.0f} s")
        if args.dry_run:
            check_parameter_count(checkpoint, size)
        dtype = "bfloat16" if cuda else "float32"
        for backend_name in args.backends:
            if backend_name == "vllm":
                try:
                    import vllm  # noqa: F401
                except ImportError:
                    print("vllm is not installed: vLLM figures skipped")
                    continue
                if not cuda:
                    print("vllm needs CUDA: skipped in the dry run")
                    continue
            for label, (prompt, new_tokens) in WORKLOADS.items():
                new_tokens = 4 if args.dry_run else new_tokens
                # vLLM batches continuously: one call with every request, no batch size.
                sizes = [n_images] if backend_name == "vllm" else batch_sizes
                for batch in sizes:
                    if backend_name == "hf":
                        backend = hf_backend(
                            checkpoint, batch, dtype, None if not cuda else args.attn
                        )
                    else:
                        backend = vllm_backend(checkpoint, args.min_pixels, args.max_pixels)
                    result = measure(backend, images, prompt, new_tokens)
                    backend.close()
                    if cuda:
                        torch.cuda.empty_cache()
                    prompt_tokens = round(result["tokens_in"])
                    bound = limits(
                        args.model, min(batch, 256), prompt_tokens or n_img + 40, n_img,
                        new_tokens, tflops, tbps,
                    )  # fmt: skip
                    limit = min(batch, 256) / bound.total_s
                    rows.append(
                        [
                            backend_name,
                            f"{label}, {new_tokens} tokens",
                            "all at once" if backend_name == "vllm" else batch,
                            f"{result['images_per_s']:.2f}",
                            f"{prompt_tokens} in / {result['tokens_out']:.0f} out",
                            f"{limit:,.0f}",
                            f"{result['images_per_s'] / limit:.1%}",
                            len(result["errors"]),
                        ]
                    )
                    print(" | ".join(str(c) for c in rows[-1]))
                    if result["errors"]:
                        print(f"  first error: {result['errors'][0]}")
    columns = ["backend", "workload", "batch", "images/s", "tokens", "limit img/s"]
    print(table(rows, [*columns, "of limit", "errors"]))
    if args.dry_run:
        print("dry run: the figures above are CPU toy-scale timings, not GPU throughput")


if __name__ == "__main__":
    main()
