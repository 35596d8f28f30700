"""The ``classbench`` command line: it parses arguments; the work is in the library.

``classbench preflight`` checks, before a study starts and without downloading anything, that
every selected dataset and model can be fetched, that the disk can hold them and that the
executor can run (:mod:`classbench.data.preflight`); ``classbench datasets pin`` writes the
current commits and checksums of the dataset sources into the registry
(:mod:`classbench.data.pin`). ``classbench import-lmms-eval`` turns the per-sample log of an
lmms-eval (or lmms-owc) run, its ``*_samples_<task>.jsonl``, into a classbench predictions
file (:mod:`classbench.inference.importer`). ``classbench compare`` sets a summary beside the
anchor papers' published numbers (:mod:`classbench.report.reproduction`: the workflow's
reproduction table and figure, outside the workflow).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from classbench import paths
from classbench.checks import problems, render
from classbench.config import ConfigError, load_study
from classbench.data import DatasetError
from classbench.data.pin import pin_registry
from classbench.data.preflight import merged_configs, preflight_report
from classbench.data.preflight_env import slurm_settings
from classbench.inference.importer import import_lmms_eval, load_task, study_selection
from classbench.io import DamagedFileError
from classbench.report.reproduction import compare_files


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="classbench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    # What the commands that read the config take alike.
    schemas = argparse.ArgumentParser(add_help=False)
    schemas.add_argument("--schemas", default="workflow/schemas", help="the JSON schema folder")
    imp = commands.add_parser(
        "import-lmms-eval",
        parents=[schemas],
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

    pre = commands.add_parser(
        "preflight",
        parents=[schemas],
        help="check every source, model, the disk and the executor before a study starts",
        description="Check, without downloading, that the study's datasets and models can be "
        "fetched, that the disk can hold them and that the executor can run. Prints one table; "
        "exits 1 when a problem was found. The hub is HF_ENDPOINT (default huggingface.co).",
    )
    pre.add_argument(
        "--configfile",
        action="append",
        required=True,
        help="the study config (as given to snakemake; repeat to merge)",
    )
    pre.add_argument("--profile", help="the Snakemake profile folder (profiles/slurm checks Slurm)")
    pre.add_argument(
        "--slurm-status-command",
        choices=["sacct", "squeue"],
        help="as given to snakemake with the Slurm profile",
    )
    pre.add_argument("--resources", default="resources", help="the resources folder")
    pre.add_argument(
        "--no-packages",
        action="store_true",
        help="skip the backend package check (jobs bring conda environments)",
    )

    data = commands.add_parser("datasets", help="dataset registry tools")
    data_commands = data.add_subparsers(dest="datasets_command", required=True)
    pin = data_commands.add_parser(
        "pin",
        help="write the sources' current commits and file checksums into the registry",
        description="Resolve each hub revision that is not a commit (main) to its current commit "
        "and record each file's sha256 (hub LFS metadata, the download cache, or --download), "
        "editing the registry in place with its comments kept.",
    )
    pin.add_argument("names", nargs="*", help="datasets to pin (default: every real one)")
    pin.add_argument("--registry", default="config/datasets.yaml", help="the dataset registry")
    pin.add_argument("--downloads", default="resources/downloads", help="the download cache")
    pin.add_argument(
        "--download",
        action="store_true",
        help="download URL files not in the cache to record their sha256",
    )
    return parser


def _compare(args: argparse.Namespace) -> int:
    table = compare_files(args.summary, args.published, out=args.out, models_registry=args.models)
    inside = int(table["in_interval"].fillna(False).sum())
    print(
        f"{args.out}/reproduction.{{csv,md,tex,png,pdf}}: {len(table)} published numbers "
        f"matched, {inside} inside our 95% interval"
    )
    return 0


def _preflight(args: argparse.Namespace) -> int:
    study = load_study(merged_configs(args.configfile), args.schemas, check_packages=False)
    table, ok = preflight_report(
        study,
        resources=args.resources,
        check_packages=not args.no_packages,
        slurm=slurm_settings(args.profile, args.slurm_status_command),
    )
    print(table)
    return 0 if ok else 1


def _pin(args: argparse.Namespace) -> int:
    checks = pin_registry(args.registry, args.names, None, args.downloads, args.download)
    print(render(checks, title="datasets pin"))
    return 1 if problems(checks) else 0


def _import_lmms_eval(args: argparse.Namespace) -> int:
    root = args.dataset_root or paths.fill(paths.DATASET_DIR, dataset=args.dataset)
    out = args.out or paths.fill(
        paths.PREDICTIONS, dataset=args.dataset, task=args.task, model=args.model
    )
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
    selected = len(frame) - counts.unmatched
    print(f"{out}: {counts.report(len(frame), args.dataset, selected, limit, seed)}")
    return 0


Handler = Callable[[argparse.Namespace], int]
# Command -> its name in messages, what runs it, and the errors it reports as one line with exit
# status 2 (anything else is a bug and keeps its traceback). PublishedError, ConfigError and
# ImportRefused are ValueErrors.
_COMMANDS: dict[str, tuple[str, Handler, tuple[type[Exception], ...]]] = {
    "compare": ("classbench compare", _compare, (OSError, ValueError, DamagedFileError)),
    "preflight": ("classbench preflight", _preflight, (OSError, ConfigError)),
    "datasets": ("classbench datasets pin", _pin, (OSError, KeyError, RuntimeError, ValueError)),
    "import-lmms-eval": (
        "classbench import-lmms-eval",
        _import_lmms_eval,
        (OSError, ValueError, DatasetError, DamagedFileError),
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``classbench`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    name, handler, reported = _COMMANDS[args.command]
    try:
        return handler(args)
    except reported as err:
        print(f"{name}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
