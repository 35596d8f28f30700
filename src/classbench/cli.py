"""The ``classbench`` command line.

``classbench import-lmms-eval`` turns the per-sample log of an lmms-eval (or lmms-owc) run, its
``*_samples_<task>.jsonl``, into a classbench predictions file, so that scoring, the summary, Elo
and the tables run on predictions made elsewhere without running inference again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import posixpath
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from classbench.data import DatasetError, load_manifest
from classbench.inference.job import PREDICTION_COLUMNS
from classbench.io import write_parquet
from classbench.protocols import protocol_module
from classbench.provenance import provenance

# Document fields that may hold the image's path (lmms-owc: ``visual``) or the sample's id.
PATH_FIELDS = ("visual", "image", "image_path", "img_path", "path", "file_name", "filename")
ID_FIELDS = ("sample_id", "id", "image_id")


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_samples(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a samples JSONL (blank lines skipped)."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: not a JSON object: {err}") from None
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


def import_lmms_eval(
    samples: str | os.PathLike,
    *,
    dataset: str,
    task_name: str,
    task: Mapping[str, Any],
    model: str,
    dataset_root: str | os.PathLike,
    output: str | os.PathLike,
) -> pd.DataFrame:
    """Write the predictions file of an lmms-eval samples JSONL and return its rows.

    Each record becomes one sample: ``sample_id`` from the document's id or image path matched
    against the manifest (else the record's ``doc_id``), ``label`` from the manifest (else the
    record's ``target``), ``prompt`` = ``input``, ``raw`` = the last filtered response, the
    answer parsed by the task's protocol. Closed protocols need the options as presented in the
    document (``options`` / ``choices``). A document seen twice keeps its first record.
    """
    records = read_samples(samples)
    if not records:
        raise ValueError(f"{samples}: no samples")
    manifest = load_manifest(dataset_root)
    labels = dict(zip(manifest["sample_id"].astype(str), manifest["label"], strict=True))
    matcher = SampleMatcher(manifest)
    module = protocol_module(task["protocol"])
    rows, seen = [], set()
    unmatched = duplicates = disagreeing = 0
    for record in records:
        doc = record.get("doc") if isinstance(record.get("doc"), Mapping) else {}
        sample_id = matcher.match(doc)
        if sample_id is None:
            unmatched += 1
            sample_id = str(record.get("doc_id"))
        if sample_id in seen:
            duplicates += 1
            continue
        seen.add(sample_id)
        target = record.get("target")
        label = labels.get(sample_id, None if target is None else str(target))
        if label is None:
            raise ValueError(f"{samples}: doc_id {record.get('doc_id')} has no label or target")
        if target is not None and sample_id in labels and str(target).lower() != label.lower():
            disagreeing += 1
        options = _options_of(doc)
        if task["protocol"] != "open" and options is None:
            raise ValueError(
                f"{samples}: doc_id {record.get('doc_id')}: a '{task['protocol']}' task needs "
                "the options as presented (doc.options or doc.choices)"
            )
        raw = last_response(record)
        parsed = module.parse(raw, options, task)
        rows.append(
            {
                "sample_id": sample_id,
                "label": label,
                "prompt": record.get("input"),
                "options": options,
                "raw": raw,
                "error": None,
                "answer_mode": "generate",
                "tokens_in": None,
                "tokens_out": None,
                "latency_s": None,
                **parsed,
            }
        )
    frame = pd.DataFrame(rows)
    for column in ("tokens_in", "tokens_out"):
        frame[column] = pd.array(frame[column], dtype="Int64")
    frame["latency_s"] = pd.array(frame["latency_s"], dtype="Float64")
    ordered = [c for c in PREDICTION_COLUMNS if c in frame.columns]
    frame = frame[ordered + [c for c in frame.columns if c not in ordered]]
    metadata = {
        "dataset": dataset,
        "task": task_name,
        "model": model,
        "backend": "imported",
        "checkpoint": None,
        "revision": None,
        "task_spec": dict(task),
        "samples": len(frame),
        "errors": 0,
        "imported": {
            "format": "lmms-eval samples jsonl",
            "source": str(samples),
            "sha256": sha256_of(samples),
            "records": len(records),
            "unmatched": unmatched,
            "duplicates": duplicates,
            "target_disagrees_with_manifest": disagreeing,
        },
        "throughput": {"images_per_s": None, "generation_s": None},
        "provenance": provenance(),
    }
    write_parquet(frame, output, metadata=metadata)
    return frame


def _load_task(registry: str | os.PathLike, name: str, schemas: str | os.PathLike) -> dict:
    from classbench.config import ConfigError, load_yaml, validate

    tasks = load_yaml(registry) or {}
    schema = Path(schemas) / "tasks.schema.yaml"
    if schema.exists():  # fills the schema defaults (parser, wording, ...) as the workflow does
        validate(tasks, load_yaml(schema), str(registry))
    if name not in tasks:
        raise ConfigError(f"{registry}: no task '{name}' (known: {', '.join(sorted(tasks))})")
    return tasks[name]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="classbench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    imp = commands.add_parser(
        "import-lmms-eval",
        help="turn an lmms-eval / lmms-owc *_samples_*.jsonl into a predictions file",
        description="Turn an lmms-eval / lmms-owc samples log into "
        "results/predictions/{dataset}/{task}/{model}.parquet.",
    )
    imp.add_argument("--samples", required=True, help="the *_samples_<task>.jsonl file")
    imp.add_argument("--dataset", required=True, help="dataset name (datasets registry)")
    imp.add_argument("--task", required=True, help="task name (tasks registry)")
    imp.add_argument("--model", required=True, help="model name the predictions are filed under")
    imp.add_argument(
        "--dataset-root", help="prepared dataset folder (default resources/datasets/DATASET)"
    )
    imp.add_argument(
        "--out", help="output file (default results/predictions/DATASET/TASK/MODEL.parquet)"
    )
    imp.add_argument("--tasks", default="config/tasks.yaml", help="the task registry")
    imp.add_argument("--schemas", default="workflow/schemas", help="the JSON schema folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``classbench`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "import-lmms-eval":
        root = args.dataset_root or f"resources/datasets/{args.dataset}"
        out = args.out or f"results/predictions/{args.dataset}/{args.task}/{args.model}.parquet"
        try:
            task = _load_task(args.tasks, args.task, args.schemas)
            frame = import_lmms_eval(
                args.samples,
                dataset=args.dataset,
                task_name=args.task,
                task=task,
                model=args.model,
                dataset_root=root,
                output=out,
            )
        except (OSError, ValueError, DatasetError) as err:  # ConfigError is a ValueError
            print(f"classbench import-lmms-eval: {err}", file=sys.stderr)
            return 2
        print(f"{out}: {len(frame)} samples imported from {args.samples}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
