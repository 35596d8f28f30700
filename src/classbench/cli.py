"""The ``classbench`` command line: it parses arguments; the work is in the library.

``classbench import-lmms-eval`` turns the per-sample log of an lmms-eval (or lmms-owc) run, its
``*_samples_<task>.jsonl``, into a classbench predictions file
(:mod:`classbench.inference.importer`). ``classbench compare`` sets a summary beside the anchor
papers' published numbers (:mod:`classbench.report.reproduction`: the workflow's reproduction
table and figure, outside the workflow).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from classbench import paths
from classbench.data import DatasetError
from classbench.inference.importer import import_lmms_eval, load_task, study_selection
from classbench.io import DamagedFileError
from classbench.report.reproduction import compare_files


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="classbench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    imp = commands.add_parser(
        "import-lmms-eval",
        help="turn an lmms-eval / lmms-owc *_samples_*.jsonl into a predictions file",
        description=f"Turn an lmms-eval / lmms-owc samples log into {paths.PREDICTIONS}, for "
        "the samples the study selects. Records that match no manifest sample or have no doc_id "
        "are refused.",
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
    imp.add_argument(
        "--config",
        default="config/study.yaml",
        help="the study's preset (or a run's results/config.resolved.yaml), whose seed and "
        "limit / dataset_limits select the samples",
    )
    imp.add_argument("--tasks", default="config/tasks.yaml", help="the task registry")
    imp.add_argument("--schemas", default="workflow/schemas", help="the JSON schema folder")
    imp.add_argument(
        "--allow-unmatched",
        action="store_true",
        help="keep records that match no manifest sample or have no doc_id, as invalid samples",
    )
    cmp = commands.add_parser(
        "compare",
        help="a summary beside published numbers: the reproduction table and figure",
        description="Join a summary.parquet with published numbers (config/published/*.csv) and "
        "write OUT/reproduction.{csv,md,tex} and OUT/reproduction.{png,pdf}.",
    )
    cmp.add_argument("--summary", required=True, help="a results/summary.parquet")
    cmp.add_argument("--published", required=True, nargs="+", help="published-numbers CSV file(s)")
    cmp.add_argument("--out", required=True, help="folder for the table and the figure")
    cmp.add_argument(
        "--models",
        help="model registry whose variant_of entries map variants to published models "
        "(default config/models.yaml when present)",
    )
    return parser


def _compare(args: argparse.Namespace) -> int:
    try:
        table = compare_files(
            args.summary, args.published, out=args.out, models_registry=args.models
        )
    except (OSError, ValueError, DamagedFileError) as err:  # PublishedError is a ValueError
        print(f"classbench compare: {err}", file=sys.stderr)
        return 2
    inside = int(table["in_interval"].fillna(False).sum())
    print(
        f"{args.out}/reproduction.{{csv,md,tex,png,pdf}}: {len(table)} published numbers "
        f"matched, {inside} inside our 95% interval"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``classbench`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "compare":
        return _compare(args)
    if args.command == "import-lmms-eval":
        root = args.dataset_root or paths.fill(paths.DATASET_DIR, dataset=args.dataset)
        out = args.out or paths.fill(
            paths.PREDICTIONS, dataset=args.dataset, task=args.task, model=args.model
        )
        try:
            task = load_task(args.tasks, args.task, args.schemas)
            seed, limit = study_selection(args.config, args.dataset, args.schemas, args.task)
            frame, counts = import_lmms_eval(
                args.samples,
                dataset=args.dataset,
                task_name=args.task,
                task=task,
                model=args.model,
                dataset_root=root,
                output=out,
                seed=seed,
                limit=limit,
                allow_unmatched=args.allow_unmatched,
            )
        # ConfigError and ImportRefused are ValueErrors.
        except (OSError, ValueError, DatasetError, DamagedFileError) as err:
            print(f"classbench import-lmms-eval: {err}", file=sys.stderr)
            return 2
        selected = len(frame) - counts.unmatched
        print(f"{out}: {counts.report(len(frame), args.dataset, selected, limit, seed)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
