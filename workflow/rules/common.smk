# The study, the helpers every rule file shares, the final targets and the wildcard constraints.
# Each rule's own input and params functions are in the <rules>.functions.smk file beside it;
# every path comes from classbench.paths. Everything here is plain Python over the study.
import functools
import os
import re
import sys

from classbench import paths
from classbench.config import (
    CLASSIFIER_BACKENDS,
    EMBEDDING_BACKENDS,
    GENERATIVE_BACKENDS,
    ConfigError,
    load_study,
)
from classbench.data.preflight import preflight_report, skip_preflight
from classbench.data.preflight_env import SlurmSettings
from classbench.report.build import figure_plan, table_plan
from classbench.scoring.text_encoders import mapping_encoder_spec

try:
    STUDY = load_study(
        config, f"{workflow.basedir}/workflow/schemas", check_packages=False
    )
except ConfigError as error:
    raise WorkflowError(f"Invalid configuration: {error}") from None


def check_backend_packages():
    """Before the first job (never in a dry run): the selected models' backend packages must be
    importable where the jobs run, unless the jobs bring their own conda environments.
    """
    if workflow.deployment_settings.deployment_method:
        return
    try:
        STUDY.check_packages()
    except ConfigError as error:
        raise WorkflowError(f"Invalid configuration: {error}") from None


def run_preflight():
    """Before the first job (never in a dry run): `classbench preflight` on the study, so
    that a broken source stops the run before anything is submitted.
    """
    if not config["preflight"] or skip_preflight(os.environ):
        return
    slurm = None
    if getattr(workflow.executor_plugin, "name", None) == "slurm":
        status = getattr(workflow.executor_settings, "status_command", None)
        slurm = SlurmSettings(status_command=status)
    table, ok = preflight_report(
        STUDY,
        check_packages=not workflow.deployment_settings.deployment_method,
        slurm=slurm,
    )
    print(table, file=sys.stderr)
    if not ok:
        raise WorkflowError(
            "preflight: problems found (table above); fix them, or skip the check "
            "with --config preflight=False"
        )


config = STUDY.config
JOBS = STUDY.jobs
MINER = config.get("option_miner")
JUDGE = STUDY.judge_model
NLI = STUDY.nli_model
PROTOCOLS = {task: STUDY.protocol(task) for task in config["tasks"]}
TABLES = table_plan(
    PROTOCOLS,
    STUDY.elo_tasks,
    config["elo"]["criterion"],
    config["report"]["label_list_headline"],
    multi_label=any(STUDY.datasets[d].get("label_sets") for d in config["datasets"]),
)
FIGURES = figure_plan(
    PROTOCOLS,
    STUDY.elo_tasks,
    {task: STUDY.tasks[task]["metrics"] for task in PROTOCOLS},
    config["elo"]["criterion"],
    config["report"]["label_list_headline"],
)
try:
    MAPPING_ENCODER = mapping_encoder_spec(
        config["scoring"]["mapping_encoder"],
        {name: STUDY.answer_spec(name) for name in STUDY.models},
        config["sentence_encoder"],
    )
except ValueError as error:
    raise WorkflowError(f"Invalid configuration: {error}") from None


def _alternatives(names):
    return "|".join(re.escape(name) for name in sorted(names)) or "(?!)"


def _models_with(backends):
    return [name for name, spec in STUDY.models.items() if spec["backend"] in backends]


# --- shared by the input and params functions ----------------------------------------------------
def _job(wildcards):
    job = STUDY.job(wildcards.dataset, wildcards.task, wildcards.model)
    if job is not None:
        return job
    raise WorkflowError(
        f"({wildcards.dataset}, {wildcards.task}, {wildcards.model}) is not part of the study"
    )


def dataset_files(dataset):
    return {
        "manifest": paths.fill(paths.MANIFEST, dataset=dataset),
        "classes": paths.fill(paths.CLASSES, dataset=dataset),
        "meta": paths.fill(paths.DATASET_META, dataset=dataset),
    }


def embeddings(dataset, encoder):
    return {
        "images": paths.fill(paths.EMBEDDINGS_IMAGES, dataset=dataset, encoder=encoder),
        "classes": paths.fill(
            paths.EMBEDDINGS_CLASSES, dataset=dataset, encoder=encoder
        ),
    }


def options_file(dataset, k):
    return paths.fill(paths.OPTIONS, dataset=dataset, encoder=MINER, k=k)


def _model_inputs(model):
    """A locally built model's folder, as an input of the jobs that load it."""
    if "tiny" in STUDY.models[model]:
        return {"model": paths.fill(paths.MODEL_DIR, model=model)}
    return {}


@functools.cache
def _model_spec(model):
    # Only the settings that can change an answer: params trigger re-runs, and a batch size or
    # a Slurm request must not. The jobs read the rest from the registry themselves. One copy
    # per model rather than per job; nothing mutates params.
    return STUDY.answer_spec(model)


@functools.cache
def _dataset_spec(dataset):
    # Without the ImageNet mapping (classify_params passes it to the supervised jobs alone), so
    # declaring one re-prepares no dataset and re-runs no other job.
    return STUDY.dataset_spec(dataset)


def resource(key, role="model"):
    """An input function giving the registry resource ``key`` of the job's model."""

    def lookup(wildcards):
        if role == "judge":
            model = JUDGE
        elif role == "encoder":
            model = wildcards.encoder
        else:
            model = wildcards.model
        return STUDY.resources(model).get(key)

    return lookup


# --- targets -------------------------------------------------------------------------------------
def elo_files():
    return [
        paths.fill(paths.ELO, task=task, scope=scope)
        for task in STUDY.elo_tasks
        for scope in STUDY.elo_scopes(task)
    ]


def gallery_files():
    pairs = dict.fromkeys((job.dataset, job.task) for job in JOBS)
    return [
        paths.fill(paths.GALLERY, dataset=dataset, task=task) for dataset, task in pairs
    ]


def final_targets():
    tables = [*TABLES, paths.PARITY_TABLE] if STUDY.parity_pairs else list(TABLES)
    return [
        paths.RESOLVED_CONFIG,
        paths.SUMMARY,
        *elo_files(),
        *expand(paths.TABLE, table=tables, ext=paths.TABLE_FORMATS),
        *expand(paths.FIGURE, figure=FIGURES, ext=paths.FIGURE_FORMATS),
        *gallery_files(),
        *reproduction_files(),
        *sensitivity_files(),
    ]


wildcard_constraints:
    dataset=_alternatives(STUDY.datasets),
    task=_alternatives(STUDY.tasks),
    model=_alternatives(STUDY.models),
    encoder=_alternatives(_models_with(EMBEDDING_BACKENDS)),
    k=r"\d+",
    scope=paths.ELO_SCOPE_PATTERN,
    table=_alternatives(TABLES),
    figure=_alternatives(FIGURES),
