"""One evaluation job: a (dataset, task, model) triple from requests to a predictions file."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection, Mapping
from typing import Any

import pandas as pd

from classbench import __version__
from classbench.backends import GENERATIVE, load_model
from classbench.backends.base import BackendError, GenerativeBackend
from classbench.config import answer_relevant
from classbench.data import load_classes, load_manifest, stratified_limit
from classbench.data.manifest import IMAGE_HASH_COLUMN
from classbench.inference.chunks import fingerprint, run_inference, throughput
from classbench.inference.predictions import write_predictions
from classbench.io import as_objects, read_parquet
from classbench.protocols import answer_mode_problem, protocol_module
from classbench.seeding import rng_for

PREDICTION_COLUMNS = [
    "sample_id", "label", "prompt", "options", "raw", "answer", "error", "parse_status",
    "answer_mode", "tokens_in", "tokens_out", "latency_s",
]  # fmt: skip


class ModelFailedError(RuntimeError):
    """Every sample of a job failed (the server was down, the model would not load): the job
    fails with its chunks kept, so a re-run or a Slurm retry asks again."""


def load_backend(spec: Mapping[str, Any]) -> GenerativeBackend:
    """The generative backend named by a model registry entry (one of the registry's
    generative backends; any other is refused before anything is loaded)."""
    return load_model(spec, role=GENERATIVE)


def build_requests(
    dataset_root: str | os.PathLike,
    dataset_name: str,
    dataset_spec: Mapping[str, Any],
    task: Mapping[str, Any],
    *,
    seed: int,
    limit: int | None = None,
    options_path: str | os.PathLike | None = None,
    sample_ids: Collection[str] | None = None,
) -> pd.DataFrame:
    """The prompts of one task on one dataset (identical for every model and backend);
    ``sample_ids`` keeps only those images (a sample's prompts do not depend on the others)."""
    manifest = stratified_limit(load_manifest(dataset_root), limit, seed, dataset_name)
    if sample_ids is not None:
        manifest = manifest[manifest["sample_id"].astype(str).isin(set(sample_ids))]
    options = read_parquet(options_path) if options_path else None
    module = protocol_module(task["protocol"])
    requests = module.build_requests(
        manifest,
        load_classes(dataset_root),
        task,
        dataset_spec,
        dataset_name=dataset_name,
        seed=seed,
        options=options,
    )
    if IMAGE_HASH_COLUMN in manifest.columns:
        # Part of each sample's resume key: another image under the same id is asked again.
        hashes = dict(zip(manifest["sample_id"], manifest[IMAGE_HASH_COLUMN], strict=True))
        requests[IMAGE_HASH_COLUMN] = requests["sample_id"].map(hashes)
    return requests


def parse_answers(
    rows: pd.DataFrame, requests: pd.DataFrame, task: Mapping[str, Any]
) -> pd.DataFrame:
    """Add the parsed ``answer`` (and protocol extras) to the raw answers, in request order.

    ``rows`` holds one row per request (its raw answer or its error); a request without one,
    or with two, is refused.

    A log-likelihood answer (``answer_mode: loglik``, raw = ``{choice: score}`` JSON) is read as
    the choice with the highest score, handed to the protocol's parser as that option's text.
    """
    module = protocol_module(task["protocol"])
    mode = task.get("answer_mode", "generate")
    merged = requests[["sample_id", "label", "options"]].merge(
        rows, on="sample_id", how="left", validate="one_to_one", indicator=True
    )
    unanswered = merged.loc[merged.pop("_merge") == "left_only", "sample_id"].tolist()
    if unanswered:
        # Every request has a row, an error at worst: a missing one is a bug, never no answer.
        raise ValueError(f"no answer row for {len(unanswered)} request(s): {unanswered[:5]}")
    triples = zip(
        as_objects(merged["raw"]), as_objects(merged["error"]), merged["options"], strict=True
    )
    parsed = []
    for raw, error, options in triples:
        if error is not None:
            parsed.append({"answer": None, "parse_status": "error"})
            continue
        if mode == "loglik" and raw is not None:
            raw = module.choice_text(best_choice(raw), list(options), task)
        parsed.append(module.parse(raw, options, task))
    extras = pd.DataFrame(parsed, index=merged.index)
    for column in extras.columns:
        merged[column] = extras[column]
    merged["answer_mode"] = mode
    ordered = [c for c in PREDICTION_COLUMNS if c in merged.columns]
    return merged[ordered + [c for c in merged.columns if c not in ordered]]


def best_choice(raw: str) -> int:
    """Index of the highest-scoring choice of a log-likelihood answer (the first on a tie)."""
    scores = list(json.loads(raw).values())
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def _backend_factory(model_spec: Mapping[str, Any], mode: str) -> Callable[[], GenerativeBackend]:
    def make() -> GenerativeBackend:
        backend = load_backend(model_spec)
        # A vLLM without a choice constraint would answer unconstrained; refuse instead.
        if mode == "constrained" and getattr(backend, "choice_api", "") is None:
            backend.close()
            raise BackendError("answer_mode 'constrained': this vLLM has no choice constraint")
        return backend

    return make


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
    sample_ids: Collection[str] | None = None,
) -> pd.DataFrame:
    """Run (or resume) one evaluation and write its predictions file with full metadata.

    ``sample_ids`` restricts it to those images (the sensitivity report's sample); a model
    spec with ``batch_order: shuffled`` is asked its images in a seeded shuffled order, which
    changes which images share a batch (the predictions keep the dataset's order).

    Raises :class:`ModelFailedError`, writing nothing, when every sample failed.

    Closed protocols are answered in the task's ``answer_mode``: ``generate`` (free text,
    parsed), ``constrained`` (the backend may only emit one of the presented choices) or
    ``loglik`` (the choice the model gives the highest log-likelihood).
    """
    mode = task.get("answer_mode", "generate")
    problem = answer_mode_problem(task, model_spec)
    if problem:
        raise BackendError(f"{task_name} x {model_name}: {problem}")
    requests = build_requests(
        dataset_root, dataset_name, dataset_spec, task,
        seed=seed, limit=limit, options_path=options_path, sample_ids=sample_ids,
    )  # fmt: skip
    parts: list[Any] = []
    if mode != "generate":
        module = protocol_module(task["protocol"])
        requests["choices"] = [module.answer_choices(list(o), task) for o in requests["options"]]
        # The same prompt answered another way is another answer: keep the chunks apart.
        parts.append({"answer_mode": mode, "loglik_target": task.get("loglik_target")})
    if task.get("follow_ups"):
        # The later turns change every answer but not the first prompt: keep their chunks apart.
        parts.append({"follow_ups": list(task["follow_ups"])})
    answer_spec = answer_relevant(model_spec)
    key = fingerprint(answer_spec, task.get("max_new_tokens"), __version__, *parts)
    asked = requests
    if model_spec.get("batch_order") == "shuffled":
        order = rng_for(seed, "batch_order", dataset_name, task_name).permutation(len(requests))
        asked = requests.iloc[order].reset_index(drop=True)
    rows, stats = run_inference(
        asked,
        _backend_factory(model_spec, mode),
        output,
        dataset_root=dataset_root,
        key=key,
        # A log-likelihood task generates nothing; the others must name their budget.
        max_new_tokens=int(task.get("max_new_tokens", 1)),
        chunk_size=int(model_spec.get("chunk_size") or chunk_size),
        max_pixels=model_spec.get("max_pixels"),
        image_workers=image_workers,
        constrained=mode == "constrained",
        loglik=mode == "loglik",
    )
    if len(rows) and rows["error"].notna().all():
        # Not a result: a run that "succeeded" with no answer would be scored, ranked and
        # tabulated as if the model had been asked. The chunks hold the errors; no output.
        first = " ".join(str(rows["error"].iloc[0]).split())[:300]  # one line, however long
        raise ModelFailedError(
            f"model '{model_name}' answered none of the {len(rows)} samples of "
            f"{dataset_name}/{task_name} (first error: {first}); no predictions written, the "
            "errors are kept in its chunks and a re-run asks again"
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
        "resume": {k: v for k, v in stats.items() if k != "backend_info"},
        "backend_info": stats.get("backend_info"),
        "throughput": throughput(rows),
        "checkpoint_key": key,
    }
    write_predictions(predictions, output, metadata, workflow_dir=workflow_dir)
    return predictions
