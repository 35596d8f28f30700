"""Resumable inference: requests -> checkpoint chunks -> one predictions file.

Finished samples are appended to chunk files next to the output (each written atomically), keyed
by a fingerprint of everything that determines the model's answer. A restarted job reads the
chunks, skips every sample already answered with the same prompt about the same image bytes
(the manifest's sha256), retries samples that failed, and loses at most the chunk in flight; a
damaged chunk is set aside (``*.corrupt``) and its samples asked again. The declared output is
written once, at the end. Chunks stay as a cache, so a forced re-run (``--forcerun``) sends
only the failed samples again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image
from tqdm import tqdm

from classbench.backends.base import Generation, GenerativeBackend
from classbench.data.manifest import IMAGE_HASH_COLUMN
from classbench.images import ImageLoadError, load_image
from classbench.inference.dialogue import converse
from classbench.io import (
    DamagedFileError,
    as_objects,
    missing,
    read_parquet,
    write_json,
    write_parquet,
)

log = logging.getLogger(__name__)

CHUNK_COLUMNS = [
    "sample_id",
    "prompt",
    "raw",
    "error",
    "tokens_in",
    "tokens_out",
    "latency_s",
    "wall_share_s",
    IMAGE_HASH_COLUMN,
]


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def chunk_dir(output: str | os.PathLike, key: str) -> Path:
    output = Path(output)
    return output.parent / f"{output.name}.chunks" / key


def answer_keys(frame: pd.DataFrame) -> list[tuple[Any, Any, Any]]:
    """What makes each row's question: (sample id, prompt, image sha256 or None).

    Requests and chunks without image hashes (a manifest prepared before they existed) have
    None, so they resume among themselves, while an answer given before the hash was known is
    never taken for an answer about an image whose hash is known.
    """
    return list(zip(frame["sample_id"], frame["prompt"], _image_hashes(frame), strict=True))


def _image_hashes(frame: pd.DataFrame) -> list[str | None]:
    if IMAGE_HASH_COLUMN not in frame.columns:
        return [None] * len(frame)
    return as_objects(frame[IMAGE_HASH_COLUMN])


def read_chunks(directory: Path, requests: pd.DataFrame | None = None) -> pd.DataFrame:
    """All rows answered so far; for a sample answered twice, a success beats an error and a
    later chunk beats an earlier one. With ``requests``, only answers to the requests' current
    prompts about their current images count: an answer to an earlier wording, or about other
    image bytes under the same id, is never taken for an answer to this one."""
    files = sorted(directory.glob("chunk-*.parquet")) if directory.exists() else []
    frames = []
    for order, path in enumerate(files):
        frame = _read_chunk(path)
        if frame is not None:
            frames.append(frame.assign(_order=order))
    if not frames:
        return pd.DataFrame(columns=CHUNK_COLUMNS)
    rows = pd.concat(frames, ignore_index=True)
    if IMAGE_HASH_COLUMN not in rows.columns:  # chunks written before images were hashed
        rows[IMAGE_HASH_COLUMN] = None
    if requests is not None:
        asked = set(answer_keys(requests))
        rows = rows[[key in asked for key in answer_keys(rows)]]
    rows["_ok"] = rows["error"].isna()
    rows = rows.sort_values(["_ok", "_order"]).drop_duplicates("sample_id", keep="last")
    return rows.drop(columns=["_ok", "_order"]).reset_index(drop=True)


def _read_chunk(path: Path) -> pd.DataFrame | None:
    """A chunk's rows, or None for a damaged chunk, which is set aside as ``*.corrupt``: left
    in place it would stop every later run, and its samples are simply asked again."""
    try:
        return read_parquet(path)
    except DamagedFileError as err:
        quarantine = path.with_name(f"{path.name}.corrupt")
        os.replace(path, quarantine)
        log.warning(
            "chunk %s is damaged (%s); moved to %s, its samples are asked again",
            path, err.__cause__ or err, quarantine.name,
        )  # fmt: skip
        return None


def pending_requests(requests: pd.DataFrame, done: pd.DataFrame) -> pd.DataFrame:
    """Requests without a successful answer to the same prompt about the same image."""
    answered = set(answer_keys(done[done["error"].isna()]))
    return requests[[key not in answered for key in answer_keys(requests)]]


def _load_images(
    paths: list[Path], max_pixels: int | None, pool: ThreadPoolExecutor
) -> list[Image.Image | ImageLoadError]:
    def load(path: Path) -> Image.Image | ImageLoadError:
        try:
            return load_image(path, max_pixels)
        except ImageLoadError as err:
            return err
        except FileNotFoundError as err:
            return ImageLoadError(f"FileNotFoundError: {err}")

    return list(pool.map(load, paths))


def _chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


def clean_text(text: str | None) -> str | None:
    """Text that can be stored: lone surrogates and other unencodable code points become "?".

    Backends decode model bytes leniently, but a server or a tokenizer can still hand back a
    string that is not valid UTF-8; it must be recorded, not crash the chunk write.
    """
    if text is None:
        return None
    return text.encode("utf-8", errors="replace").decode("utf-8")


def generate_chunk(
    backend: GenerativeBackend,
    chunk: pd.DataFrame,
    images: list[Image.Image | ImageLoadError],
    max_new_tokens: int,
    constrained: bool,
    loglik: bool = False,
) -> pd.DataFrame:
    """Answer one chunk; unreadable images and failed generations become per-sample errors.

    ``constrained`` passes each sample's choices (its ``choices`` column when the requests have
    one, else its ``options``) to the backend; ``loglik`` scores them with the backend's
    ``score_options`` instead of generating, and the raw answer is the JSON object
    ``{choice: log-likelihood}`` in presentation order. Requests with a ``follow_ups`` column
    are conversations (:func:`.dialogue.converse`): the raw answer is the last turn's, and
    ``turn_answers`` keeps every turn's.
    """
    results: list[Generation] = [Generation(text=None)] * len(chunk)
    ready = [i for i, image in enumerate(images) if not isinstance(image, ImageLoadError)]
    readable = [image for image in images if not isinstance(image, ImageLoadError)]
    for i, image in enumerate(images):
        if isinstance(image, ImageLoadError):
            results[i] = Generation.failed(f"image: {image}")
    share = None
    answered = set(ready)
    dialogue = "follow_ups" in chunk.columns
    turns: list[list[str] | None] = [None] * len(chunk)
    if ready:
        column = "choices" if "choices" in chunk.columns else "options"
        options = [None if missing(c) else list(c) for c in chunk[column]]
        started = time.perf_counter()
        try:
            if dialogue:
                generated, answers = converse(
                    backend,
                    readable,
                    [chunk["prompt"].iloc[i] for i in ready],
                    [list(chunk["follow_ups"].iloc[i]) for i in ready],
                    max_new_tokens=max_new_tokens,
                )
                for i, sample_answers in zip(ready, answers, strict=True):
                    turns[i] = sample_answers
            elif loglik:
                # loglik answers closed protocols only, whose samples all have options.
                generated = _score_choices(
                    backend,
                    readable,
                    [chunk["prompt"].iloc[i] for i in ready],
                    [options[i] or [] for i in ready],
                )
            else:
                generated = backend.generate(
                    readable,
                    [chunk["prompt"].iloc[i] for i in ready],
                    max_new_tokens=max_new_tokens,
                    choices=[options[i] for i in ready] if constrained else None,
                )
        except (
            Exception
        ) as err:  # a backend-wide failure still must not lose the chunk's bookkeeping
            generated = [Generation.failed(err)] * len(ready)
        # The job's own clock: concurrent backends report per-request latencies that overlap.
        share = (time.perf_counter() - started) / len(ready)
        for i, generation in zip(ready, generated, strict=True):
            results[i] = generation
    rows = pd.DataFrame(
        {
            "sample_id": chunk["sample_id"].to_numpy(),
            "prompt": chunk["prompt"].to_numpy(),
            "raw": [clean_text(g.text) for g in results],
            "error": [clean_text(g.error) for g in results],
            "tokens_in": pd.array([g.tokens_in for g in results], dtype="Int64"),
            "tokens_out": pd.array([g.tokens_out for g in results], dtype="Int64"),
            "latency_s": pd.array([g.latency_s for g in results], dtype="Float64"),
            "wall_share_s": pd.array(
                [share if i in answered else None for i in range(len(chunk))], dtype="Float64"
            ),
            IMAGE_HASH_COLUMN: _image_hashes(chunk),
        }
    )
    if dialogue:
        rows["turn_answers"] = [
            None if answers is None else [clean_text(a) for a in answers] for answers in turns
        ]
    return rows


def _score_choices(
    backend: Any, images: list[Image.Image], prompts: list[str], choices: list[list[str]]
) -> list[Generation]:
    """Log-likelihood answers: ``{choice: sum of token log-probs}`` as JSON, one per sample."""
    started = time.perf_counter()
    scores = backend.score_options(images, prompts, choices)
    latency = (time.perf_counter() - started) / max(len(prompts), 1)
    return [
        Generation(
            text=json.dumps(dict(zip(sample_choices, map(float, sample_scores), strict=True))),
            tokens_out=0,
            latency_s=latency,
        )
        for sample_choices, sample_scores in zip(choices, scores, strict=True)
    ]


def run_inference(
    requests: pd.DataFrame,
    backend_factory: Callable[[], GenerativeBackend],
    output: str | os.PathLike,
    *,
    dataset_root: str | os.PathLike,
    key: str,
    max_new_tokens: int,
    chunk_size: int = 64,
    max_pixels: int | None = None,
    image_workers: int = 4,
    constrained: bool = False,
    loglik: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Answer every request, resuming from the chunks of an earlier attempt with the same ``key``.

    Returns the raw answers in request order (columns :data:`CHUNK_COLUMNS`) and run statistics.
    The backend is created only when something is left to answer.
    """
    directory = chunk_dir(output, key)
    # Chunks of other fingerprints answer a different question (other model settings or code).
    if directory.parent.exists():
        for stale in directory.parent.iterdir():
            if stale.name != key:
                shutil.rmtree(stale, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    done = read_chunks(directory, requests)
    todo = pending_requests(requests, done)
    stats: dict[str, Any] = {
        "reused": len(requests) - len(todo),
        "computed": len(todo),
        "wall_s": 0.0,
        "backend_info": None,
    }
    if len(todo):
        start = time.perf_counter()
        backend = backend_factory()
        stats["backend_info"] = backend.info()
        write_json(stats["backend_info"], directory / "backend_info.json")
        root = Path(dataset_root)
        chunks = list(_chunks(todo, chunk_size))
        progress = tqdm(total=len(todo), desc="infer", unit="img")
        # Images of the next chunk decode on worker threads while the model answers this one.
        with (
            ThreadPoolExecutor(max_workers=image_workers) as decoders,
            ThreadPoolExecutor(max_workers=1) as prefetcher,
        ):

            def prefetch(frame: pd.DataFrame) -> Future:
                paths = [root / relative for relative in frame["image"]]
                return prefetcher.submit(_load_images, paths, max_pixels, decoders)

            upcoming = prefetch(chunks[0])
            for index, chunk in enumerate(chunks):
                images = upcoming.result()
                if index + 1 < len(chunks):
                    upcoming = prefetch(chunks[index + 1])
                rows = generate_chunk(
                    backend, chunk, images, max_new_tokens, constrained, loglik=loglik
                )
                name = f"chunk-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
                write_parquet(rows, directory / name)
                progress.update(len(chunk))
        progress.close()
        backend.close()
        stats["wall_s"] = time.perf_counter() - start
    elif (directory / "backend_info.json").exists():
        stats["backend_info"] = json.loads((directory / "backend_info.json").read_text())
    answered = read_chunks(directory, requests).set_index("sample_id")
    ordered = answered.loc[requests["sample_id"]].reset_index()
    stats["errors"] = int(ordered["error"].notna().sum())
    return ordered, stats


def throughput(rows: pd.DataFrame) -> dict[str, float | None]:
    """Images per second of generation: samples over the wall time of the generate calls."""
    latency = rows["wall_share_s"].dropna().astype(float)
    total = float(latency.sum())
    return {
        "images_per_s": (len(latency) / total) if total > 0 else None,
        "generation_s": total,
        "tokens_in_mean": _mean(rows["tokens_in"]),
        "tokens_out_mean": _mean(rows["tokens_out"]),
    }


def _mean(series: pd.Series) -> float | None:
    values = series.dropna().astype(float)
    return float(values.mean()) if len(values) else None


def merge_metadata(*parts: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        merged.update(part)
    return merged
