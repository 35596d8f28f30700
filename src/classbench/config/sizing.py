"""A model's Slurm request (GPUs, memory, runtime), from its registry entry or its size."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from classbench.config.models import REMOTE_BACKENDS

# A model's Slurm request when its registry entry has neither `resources` nor `params_b`.
DEFAULT_RESOURCES = {"gpus": 1, "mem_mb": 32000, "runtime": 240, "cpus_per_gpu": 8}
# Memory of one GPU that the size-derived requests assume (A100/H100 80 GB); a cluster with
# smaller cards sets `resources: {gpus: N}` on the large models.
GPU_MEMORY_GB = 80
# Bytes of one weight as loaded: quantization wins over dtype; "auto" loads bf16/fp16.
QUANTIZED_BYTES = {"8bit": 1.0, "4bit": 0.5}
DTYPE_BYTES = {"float32": 4.0}


def model_resources(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The Slurm request of a model's jobs: ``gpus``, ``mem_mb``, ``runtime`` (minutes),
    ``cpus_per_gpu`` and an optional ``gpu_model``.

    Keys given in the entry's ``resources`` win; the rest come from its size hint
    ``params_b`` (see :func:`size_resources`), else from :data:`DEFAULT_RESOURCES`. A vllm
    entry's GPU count is its ``tensor_parallel_size``; a remote (openai) one needs none.
    """
    defaults: dict[str, Any] = dict(DEFAULT_RESOURCES)
    if "params_b" in spec:
        defaults.update(size_resources(spec["params_b"], weight_bytes(spec)))
    if spec["backend"] == "vllm":
        # The engine uses exactly tensor_parallel_size GPUs (1 when unset): more would idle.
        defaults["gpus"] = spec.get("tensor_parallel_size", 1)
    if spec["backend"] in REMOTE_BACKENDS:
        # The model runs on a server elsewhere; the job only sends requests.
        defaults.update(gpus=0, mem_mb=4000)
    return {**defaults, **spec.get("resources", {})}


def weight_bytes(spec: Mapping[str, Any]) -> float:
    """Bytes per parameter of a registry entry's weights as its backend loads them."""
    quantization = spec.get("quantization")
    if quantization in QUANTIZED_BYTES:
        return QUANTIZED_BYTES[quantization]
    return DTYPE_BYTES.get(spec.get("dtype", "auto"), 2.0)


def size_resources(params_b: float, bytes_per_param: float = 2.0) -> dict[str, int]:
    """A sensible Slurm request for a model of ``params_b`` billion parameters.

    2B -> 1 GPU, 16 GB, 132 min; 7B -> 1 GPU, 18 GB, 162 min; 34B -> 2 GPUs, 85 GB, 324 min;
    72B -> 4 GPUs, 180 GB, 552 min (bf16, 80 GB GPUs).
    """
    weights_gb = params_b * bytes_per_param
    # The weights plus ~30% for activations, image tokens and the KV cache of one batch.
    gpus = max(1, math.ceil(weights_gb * 1.3 / GPU_MEMORY_GB))
    # Round up to a power of two: tensor parallelism splits the attention heads evenly.
    gpus = 1 << (gpus - 1).bit_length()
    # Host memory: shards are staged in RAM while loading; never below a typical per-GPU share.
    mem_mb = max(16_000, math.ceil(weights_gb * 1.25) * 1000)
    # Generation time grows about linearly with size. The limit is a guess for a large dataset;
    # a job killed by it is retried by the profile and resumes from its checkpoint chunks.
    runtime = min(24 * 60, 120 + math.ceil(6 * params_b))
    return {"gpus": gpus, "mem_mb": mem_mb, "runtime": runtime}
