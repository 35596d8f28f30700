"""One evaluation job: a (dataset, task, model) triple from requests to a predictions file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from classbench import __version__
from classbench.backends.base import GenerativeBackend
from classbench.data import load_classes, load_manifest, stratified_limit
from classbench.inference import fingerprint, run_inference, throughput
from classbench.io import read_parquet, write_parquet
from classbench.protocols import protocol_module
from classbench.provenance import provenance

PREDICTION_COLUMNS = [
    "sample_id", "label", "prompt", "options", "raw", "answer", "error", "parse_status",
    "tokens_in", "tokens_out", "latency_s",
]  # fmt: skip
# Settings that cannot change a model's answer; left out of the resume fingerprint.
_NOT_ANSWER_RELEVANT = {
    "description", "resources", "batch_size", "chunk_size", "concurrency", "timeout_s",
    "max_retries", "backoff_s", "max_backoff_s", "gpu_memory_utilization",
}  # fmt: skip


def load_backend(spec: Mapping[str, Any]) -> GenerativeBackend:
    """The generative backend named by a model registry entry."""
    backend = spec["backend"]
    if backend == "hf":
        from classbench.backends.hf import HFBackend

        return HFBackend(spec)
    if backend == "openai":
        from classbench.backends.openai_compat import OpenAIBackend

        return OpenAIBackend(spec)
    if backend == "vllm":
        from classbench.backends.vllm_engine import VLLMBackend

        return VLLMBackend(spec)
    raise ValueError(f"backend '{backend}' cannot generate")


def build_requests(
    dataset_root: str | os.PathLike,
    dataset_name: str,
    dataset_spec: Mapping[str, Any],
    task: Mapping[str, Any],
    *,
    seed: int,
    limit: int | None = None,
    options_path: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """The prompts of one task on one dataset (identical for every model and backend)."""
    manifest = stratified_limit(load_manifest(dataset_root), limit, seed, dataset_name)
    options = read_parquet(options_path) if options_path else None
    module = protocol_module(task["protocol"])
    return module.build_requests(
        manifest,
        load_classes(dataset_root),
        task,
        dataset_spec,
        dataset_name=dataset_name,
        seed=seed,
        options=options,
    )


def parse_answers(
    rows: pd.DataFrame, requests: pd.DataFrame, task: Mapping[str, Any]
) -> pd.DataFrame:
    """Add the parsed ``answer`` (and protocol extras) to the raw answers, in request order."""
    module = protocol_module(task["protocol"])
    merged = requests[["sample_id", "label", "options"]].merge(
        rows, on="sample_id", how="left", validate="one_to_one"
    )
    triples = zip(merged["raw"], merged["error"], merged["options"], strict=True)
    parsed = [
        module.parse(raw, options, task) if error is None
        else {"answer": None, "parse_status": "error"}
        for raw, error, options in triples
    ]  # fmt: skip
    extras = pd.DataFrame(parsed, index=merged.index)
    for column in extras.columns:
        merged[column] = extras[column]
    ordered = [c for c in PREDICTION_COLUMNS if c in merged.columns]
    return merged[ordered + [c for c in merged.columns if c not in ordered]]


def evaluate(
    *,
    dataset_root: str | os.PathLike,
    dataset_name: str,
    dataset_spec: Mapping[str, Any],
    task_name: str,
    task: Mapping[str, Any],
    model_name: str,
    model_spec: Mapping[str, Any],
    output: str | os.PathLike,
    seed: int,
    limit: int | None = None,
    options_path: str | os.PathLike | None = None,
    chunk_size: int = 64,
    image_workers: int = 4,
    workflow_dir: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Run (or resume) one evaluation and write its predictions file with full metadata."""
    requests = build_requests(
        dataset_root, dataset_name, dataset_spec, task,
        seed=seed, limit=limit, options_path=options_path,
    )  # fmt: skip
    answer_spec = {k: v for k, v in model_spec.items() if k not in _NOT_ANSWER_RELEVANT}
    key = fingerprint(answer_spec, task.get("max_new_tokens"), __version__)
    rows, stats = run_inference(
        requests,
        lambda: load_backend(model_spec),
        output,
        dataset_root=dataset_root,
        key=key,
        max_new_tokens=int(task["max_new_tokens"]),
        chunk_size=int(model_spec.get("chunk_size") or chunk_size),
        max_pixels=model_spec.get("max_pixels"),
        image_workers=image_workers,
    )
    predictions = parse_answers(rows, requests, task)
    metadata = {
        "dataset": dataset_name,
        "task": task_name,
        "model": model_name,
        "backend": model_spec["backend"],
        "checkpoint": model_spec.get("checkpoint"),
        "revision": model_spec.get("revision"),
        "model_spec": dict(model_spec),
        "task_spec": dict(task),
        "seed": seed,
        "limit": limit,
        "samples": len(predictions),
        "errors": int(predictions["error"].notna().sum()),
        "resume": {k: v for k, v in stats.items() if k != "backend_info"},
        "backend_info": stats.get("backend_info"),
        "throughput": throughput(rows),
        "checkpoint_key": key,
        "provenance": provenance(workflow_dir),
    }
    write_parquet(predictions, output, metadata=metadata)
    return predictions
