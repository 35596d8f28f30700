"""Every file of the pipeline, named once.

The rules declare these patterns as their outputs; the input functions and the command line fill
them in with :func:`fill`. A ``{name}`` field is a Snakemake wildcard. Generated files
live under ``resources/`` (what the workflow downloads or builds) and ``results/`` (what it
measures); each job's log and benchmark go under ``logs/`` and ``benchmarks/``.
"""

from __future__ import annotations

from typing import Protocol

# --- resources: prepared datasets, built models, embeddings, mined options ---------------------
DATASET_DIR = "resources/datasets/{dataset}"
MANIFEST = f"{DATASET_DIR}/manifest.parquet"
CLASSES = f"{DATASET_DIR}/classes.parquet"
DATASET_META = f"{DATASET_DIR}/meta.json"
MODEL_DIR = "resources/models/{model}"
EMBEDDINGS_IMAGES = "resources/embeddings/{dataset}/{encoder}.images.parquet"
EMBEDDINGS_CLASSES = "resources/embeddings/{dataset}/{encoder}.classes.parquet"
OPTIONS = "resources/options/{dataset}/{encoder}-k{k}.parquet"

# --- results: one file per (dataset, task, model), then what combines them ---------------------
JOB = "{dataset}/{task}/{model}"
PREDICTIONS = f"results/predictions/{JOB}.parquet"
JUDGE = f"results/judge/{JOB}.parquet"
SCORES = f"results/scores/{JOB}.parquet"
SUMMARY = "results/summary.parquet"
ELO = "results/elo/{task}/{scope}.parquet"
ELO_GAMES = "results/elo/{task}/{scope}.games.parquet"
TABLE = "results/tables/{table}.{ext}"
FIGURE = "results/figures/{figure}.{ext}"
GALLERY_IMAGES = "results/gallery/{dataset}/img"
GALLERY = "results/gallery/{dataset}/{task}.html"
GALLERY_STANDALONE = "results/gallery/{dataset}/{task}.standalone.html"
RESOLVED_CONFIG = "results/config.resolved.yaml"

# --- the sensitivity report: each changed inference run on the report's image sample ----------
# ({setting} is factor=level, e.g. batch_size=1); the study's own predictions are the default.
SENSITIVITY_RUN = f"{JOB}/{{setting}}"
SENSITIVITY_PREDICTIONS = f"results/sensitivity/{SENSITIVITY_RUN}/predictions.parquet"
# The report's table (TABLE_FORMATS) and figure (FIGURE_FORMATS), under this fixed name.
SENSITIVITY = "sensitivity"

# The formats each table and figure is written in.
TABLE_FORMATS = ("csv", "md", "tex")
FIGURE_FORMATS = ("png", "pdf")
# The parity table is a table like the others, under a fixed name.
PARITY_TABLE = "parity"

# An Elo scope: every dataset, one group (its name with spaces as "_"), or one dataset. Never
# ending in ".games", so that ELO cannot also match an ELO_GAMES file.
ELO_SCOPE_PATTERN = r"(?:all|group-[\w-]+|dataset-[\w.-]+)(?<!\.games)"


def fill(pattern: str, /, **wildcards: object) -> str:
    """``pattern`` with its wildcards filled in; a field left out stays a wildcard."""
    return pattern.format_map(_KeepMissing(wildcards))


def with_format(pattern: str, ext: str) -> str:
    """A TABLE or FIGURE pattern for one format, its other wildcards kept."""
    return fill(pattern, ext=ext)


class JobKey(Protocol):
    """What names one evaluation's files (a :class:`classbench.config.Job`)."""

    dataset: str
    task: str
    model: str


def job_file(pattern: str, job: JobKey) -> str:
    """A per-job pattern (PREDICTIONS, JUDGE, SCORES) filled in for one job."""
    return fill(pattern, dataset=job.dataset, task=job.task, model=job.model)


def log(rule: str, name: str) -> str:
    """The log file of one job of ``rule``; ``name`` holds the wildcards that tell jobs apart."""
    return f"logs/{rule}/{name}.log"


def benchmark(rule: str, name: str) -> str:
    """The benchmark (time, memory) file of one job of ``rule``."""
    return f"benchmarks/{rule}/{name}.tsv"


class _KeepMissing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
