"""Predictions made elsewhere: an lmms-eval / lmms-owc samples log as a predictions file.

The per-sample log of an lmms-eval (or lmms-owc) run, its ``*_samples_<task>.jsonl``, becomes
``results/predictions/{dataset}/{task}/{model}.parquet``, so that scoring, the summary, Elo and
the tables run on predictions made elsewhere without running inference again.

Every record ends as an answer, as a recorded error, or refused by name. A record whose image
names no manifest sample, or that has no ``doc_id``, is refused (``allow_unmatched`` keeps it,
flagged invalid); a record without a response is invalid, never a wrong answer. The import
follows the study's sample selection (the stratified ``limit`` inference applies): records
outside it are left out and counted, and a selected sample without a record is recorded as
invalid, so every model of the summary is measured on the same samples.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from classbench.config import ConfigError, Study, load_yaml, validate
from classbench.data import load_manifest, stratified_limit
from classbench.data.manifest import file_sha256
from classbench.inference.job import PREDICTION_COLUMNS
from classbench.inference.predictions import write_predictions
from classbench.protocols import protocol_module

# Document fields that may hold the image's path (lmms-owc: ``visual``) or the sample's id.
PATH_FIELDS = ("visual", "image", "image_path", "img_path", "path", "file_name", "filename")
ID_FIELDS = ("sample_id", "id", "image_id")
# Refused records named in the error message; the rest are counted.
NAMED_REFUSALS = 10


class ImportRefused(ValueError):
    """Records that cannot be imported as the study's samples; the message names them."""


@dataclass
class ImportCounts:
    """What became of every record of the log, and of every selected sample."""

    records: int = 0
    answered: int = 0
    no_response: int = 0
    missing: int = 0
    unmatched: int = 0
    no_doc_id: int = 0
    outside_selection: int = 0
    duplicates: int = 0
    target_disagrees_with_manifest: int = 0

    def report(
        self, written: int, dataset: str, selected: int, limit: int | None, seed: int
    ) -> str:
        """The summary the command prints: each count on its own line, zeros included."""
        selection = f"limit {limit}, seed {seed}" if limit else "no limit"
        lines = [
            f"{written} samples written: the study's selection of {dataset} is {selected} "
            f"samples ({selection}); {self.records} records read",
            f"answered: {self.answered}",
            f"invalid, no response: {self.no_response}",
            f"invalid, no record in the log: {self.missing}",
            f"invalid, matching no sample (--allow-unmatched): {self.unmatched}",
            f"invalid, no doc_id (--allow-unmatched): {self.no_doc_id}",
            f"left out, outside the study's selection: {self.outside_selection}",
            f"left out, duplicate of an earlier record: {self.duplicates}",
            f"target disagrees with the manifest's label: {self.target_disagrees_with_manifest}",
        ]
        return "\n  ".join(lines)


def read_samples(path: str | os.PathLike) -> list[tuple[int, dict[str, Any]]]:
    """The records of a samples JSONL with their line numbers (blank lines skipped)."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: not a JSON object: {err}") from None
            if not isinstance(record, dict):
                kind = type(record).__name__
                raise ValueError(f"{path}:{number}: not a JSON object (a JSON {kind})")
            records.append((number, record))
    return records


def last_response(record: Mapping[str, Any]) -> str | None:
    """The response lmms-owc scores: the last of ``filtered_resps`` (else of ``resps``)."""
    for key in ("filtered_resps", "resps"):
        value = record.get(key)
        # resps nests one list per request ([["text"]]); multi-round tasks list one per round.
        while isinstance(value, list):
            if not value:
                value = None
                break
            value = value[-1]
        if value is not None:
            return str(value)
    return None


def _path_suffixes(path: str) -> list[str]:
    parts = [
        p for p in posixpath.normpath(path.replace("\\", "/")).split("/") if p not in ("", ".")
    ]
    return ["/".join(parts[i:]) for i in range(len(parts))]


class SampleMatcher:
    """Find a manifest row from a document: by id, else by the longest unique path suffix.

    lmms-owc stores the image path as it was on the machine that ran it
    (``data/caltech101/.../accordion/image_0001.jpg``); the manifest holds
    ``images/accordion/image_0001.jpg``. The longest trailing run of path components that names
    exactly one manifest image decides; then the same on file stems (an image re-encoded to
    another format keeps its stem).
    """

    def __init__(self, manifest: pd.DataFrame):
        self.ids = set(manifest["sample_id"].astype(str))
        self.by_suffix: dict[str, set[str]] = {}
        self.by_stem_suffix: dict[str, set[str]] = {}
        for sid, image in zip(manifest["sample_id"].astype(str), manifest["image"], strict=True):
            for suffix in _path_suffixes(str(image)):
                self.by_suffix.setdefault(suffix, set()).add(sid)
                self.by_stem_suffix.setdefault(posixpath.splitext(suffix)[0], set()).add(sid)

    def match(self, doc: Mapping[str, Any]) -> str | None:
        for field in ID_FIELDS:
            value = doc.get(field)
            if value is not None and str(value) in self.ids:
                return str(value)
        for field in PATH_FIELDS:
            value = doc.get(field)
            if not isinstance(value, str) or not value:
                continue
            for table, transform in (
                (self.by_suffix, lambda s: s),
                (self.by_stem_suffix, lambda s: posixpath.splitext(s)[0]),
            ):
                for suffix in _path_suffixes(value):
                    hits = table.get(transform(suffix), set())
                    if len(hits) == 1:
                        return next(iter(hits))
                    if len(hits) > 1:
                        break  # shorter suffixes only get more ambiguous
        return None


def _options_of(doc: Mapping[str, Any]) -> list[str] | None:
    for field in ("options", "choices", "candidates"):
        value = doc.get(field)
        if isinstance(value, list) and value:
            return [str(v) for v in value]
    return None


def load_task(registry: str | os.PathLike, name: str, schemas: str | os.PathLike) -> dict[str, Any]:
    """Task ``name`` of the task registry, with the schema's defaults filled as the workflow
    fills them (parser, wording, ...)."""
    tasks = load_yaml(registry) or {}
    schema = Path(schemas) / "tasks.schema.yaml"
    if schema.exists():
        validate(tasks, load_yaml(schema), str(registry))
    if name not in tasks:
        raise ConfigError(f"{registry}: no task '{name}' (known: {', '.join(sorted(tasks))})")
    return tasks[name]


def study_selection(
    config_path: str | os.PathLike,
    dataset: str,
    schemas: str | os.PathLike,
    task: str | None = None,
) -> tuple[int, int | None]:
    """``(seed, limit)`` with which the study's config selects the samples of ``dataset`` (for
    ``task``, whose own ``task_limits`` entry wins)."""
    config = load_yaml(config_path) or {}
    validate(config, load_yaml(Path(schemas) / "config.schema.yaml"), str(config_path))
    study = Study(config=config, datasets={}, models={}, tasks={})
    limit = study.job_limit(dataset, task) if task is not None else study.dataset_limit(dataset)
    return int(config["seed"]), limit


def import_lmms_eval(
    samples: str | os.PathLike,
    *,
    dataset: str,
    task_name: str,
    task: Mapping[str, Any],
    model: str,
    dataset_root: str | os.PathLike,
    output: str | os.PathLike,
    seed: int,
    limit: int | None = None,
    allow_unmatched: bool = False,
) -> tuple[pd.DataFrame, ImportCounts]:
    """Write the predictions file of an lmms-eval samples JSONL; return its rows and counts.

    Each record of a selected sample becomes that sample's row: ``sample_id`` from the
    document's id or image path matched against the manifest, ``label`` from the manifest,
    ``prompt`` = ``input``, ``raw`` = the last filtered response (none: ``error`` set), the
    answer parsed by the task's protocol. Closed protocols need the options as presented in the
    document (``options`` / ``choices``). A sample seen twice keeps its first record. The
    samples are the ones :func:`.stratified_limit` selects with ``limit`` and ``seed``, as for
    the study's own inference; a selected sample without a record gets ``error`` set.

    Raises :class:`ImportRefused` naming every record that matches no sample or has no
    ``doc_id``, unless ``allow_unmatched``, which keeps them with ``error`` set.
    """
    records = read_samples(samples)
    if not records:
        raise ValueError(f"{samples}: no samples")
    manifest = load_manifest(dataset_root)
    selection = stratified_limit(manifest, limit, seed, dataset)
    selected = set(selection["sample_id"].astype(str))
    labels = dict(zip(manifest["sample_id"].astype(str), manifest["label"], strict=True))
    matcher = SampleMatcher(manifest)
    module = protocol_module(task["protocol"])
    counts = ImportCounts(records=len(records))
    rows: dict[str, dict[str, Any]] = {}
    refused: list[str] = []
    for line, record in records:
        doc = record.get("doc")
        if not isinstance(doc, Mapping):
            doc = {}
        doc_id = record.get("doc_id")
        sample_id = matcher.match(doc)
        if sample_id is not None and sample_id not in selected:
            counts.outside_selection += 1
            continue
        name = f"line {line}" + (f" (doc_id {doc_id})" if doc_id is not None else "")
        problem = None
        if sample_id is None:
            problem = f"matches no sample of {dataset}"
            sample_id = f"unmatched:{doc_id if doc_id is not None else f'line-{line}'}"
        elif doc_id is None:
            problem = "no doc_id"
        if problem and not allow_unmatched:
            refused.append(f"{name}: {problem}")
            continue
        if sample_id in rows:
            counts.duplicates += 1
            continue
        target = record.get("target")
        known = labels.get(sample_id)
        label = known if known is not None else (None if target is None else str(target))
        if target is not None and known is not None and str(target).lower() != known.lower():
            counts.target_disagrees_with_manifest += 1
        raw = last_response(record)
        error = None
        if problem:
            error = f"import: {problem} ({name})"
            if sample_id in labels:
                counts.no_doc_id += 1
            else:
                counts.unmatched += 1
        elif raw is None:
            error = f"import: no response in the record ({name})"
            counts.no_response += 1
        options = _options_of(doc)
        if error is None:
            if task["protocol"] != "open" and options is None:
                raise ValueError(
                    f"{samples}: {name}: a '{task['protocol']}' task needs the options as "
                    "presented (doc.options or doc.choices)"
                )
            parsed = module.parse(raw, options, task)
            counts.answered += 1
        else:
            parsed = {"answer": None, "parse_status": "error"}
        rows[sample_id] = _row(sample_id, label, record.get("input"), options, raw, error, parsed)
    if refused:
        shown = "; ".join(refused[:NAMED_REFUSALS])
        more = len(refused) - NAMED_REFUSALS
        raise ImportRefused(
            f"{samples}: {len(refused)} record{'s' if len(refused) != 1 else ''} refused: {shown}"
            + (f"; and {more} more" if more > 0 else "")
            + ". Nothing was written; --allow-unmatched keeps them as invalid samples"
        )
    ordered = []
    for sample_id, label in zip(
        selection["sample_id"].astype(str), selection["label"], strict=True
    ):
        if sample_id not in rows:
            counts.missing += 1
            error = "import: no record for this sample in the log"
            rows[sample_id] = _row(sample_id, label, None, None, None, error,
                                   {"answer": None, "parse_status": "error"})  # fmt: skip
        ordered.append(rows.pop(sample_id))
    ordered.extend(rows.values())  # the strangers kept by allow_unmatched, in log order
    frame = _frame(ordered)
    metadata = {
        "dataset": dataset,
        "task": task_name,
        "model": model,
        "backend": "imported",
        "checkpoint": None,
        "revision": None,
        "task_spec": dict(task),
        "seed": seed,
        "limit": limit,
        "imported": {
            "format": "lmms-eval samples jsonl",
            "source": str(samples),
            "sha256": file_sha256(samples),
            "allow_unmatched": allow_unmatched,
            **asdict(counts),
        },
        "throughput": {"images_per_s": None, "generation_s": None},
    }
    write_predictions(frame, output, metadata)
    return frame, counts


def _row(
    sample_id: str,
    label: str | None,
    prompt: str | None,
    options: list[str] | None,
    raw: str | None,
    error: str | None,
    parsed: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "sample_id": sample_id,
        "label": label,
        "prompt": prompt,
        "options": options,
        "raw": raw,
        "error": error,
        "answer_mode": "generate",
        "tokens_in": None,
        "tokens_out": None,
        "latency_s": None,
        **parsed,
    }


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in ("tokens_in", "tokens_out"):
        frame[column] = pd.array(frame[column], dtype="Int64")
    frame["latency_s"] = pd.array(frame["latency_s"], dtype="Float64")
    ordered = [c for c in PREDICTION_COLUMNS if c in frame.columns]
    return frame[ordered + [c for c in frame.columns if c not in ordered]]
