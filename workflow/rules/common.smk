# Config, registries and targets. Everything here is plain Python over the validated study.
import re

from classbench.config import (
    EMBEDDING_BACKENDS,
    GENERATIVE_BACKENDS,
    ConfigError,
    load_study,
)
from classbench.report.build import figure_plan, table_plan

try:
    STUDY = load_study(config, f"{workflow.basedir}/workflow/schemas")
except ConfigError as error:
    raise WorkflowError(f"Invalid configuration: {error}") from None

config = STUDY.config
JOBS = STUDY.jobs
MINER = config.get("option_miner")
JUDGE = STUDY.judge_model
PROTOCOLS = {task: STUDY.protocol(task) for task in config["tasks"]}


def _alternatives(names):
    return "|".join(re.escape(name) for name in sorted(names)) or "(?!)"


def _models_with(backends):
    return [name for name, spec in STUDY.models.items() if spec["backend"] in backends]


# --- paths -------------------------------------------------------------------------------------
def dataset_files(dataset):
    root = f"resources/datasets/{dataset}"
    return {
        "manifest": f"{root}/manifest.parquet",
        "classes": f"{root}/classes.parquet",
        "meta": f"{root}/meta.json",
    }


def model_dir(model):
    return f"resources/models/{model}"


def embeddings(dataset, encoder):
    stem = f"resources/embeddings/{dataset}/{encoder}"
    return {"images": f"{stem}.images.parquet", "classes": f"{stem}.classes.parquet"}


def options_file(dataset, k):
    return f"resources/options/{dataset}/{MINER}-k{k}.parquet"


def predictions_file(job):
    return f"results/predictions/{job.dataset}/{job.task}/{job.model}.parquet"


def scores_file(job):
    return f"results/scores/{job.dataset}/{job.task}/{job.model}.parquet"


def judge_file(job):
    return f"results/judge/{job.dataset}/{job.task}/{job.model}.parquet"


# --- input functions ---------------------------------------------------------------------------
def _job(wildcards):
    for job in JOBS:
        if (job.dataset, job.task, job.model) == (
            wildcards.dataset,
            wildcards.task,
            wildcards.model,
        ):
            return job
    raise WorkflowError(
        f"({wildcards.dataset}, {wildcards.task}, {wildcards.model}) is not part of the study"
    )


def _model_inputs(model):
    return {"model": model_dir(model)} if "tiny" in STUDY.models[model] else {}


def build_model_params(wildcards):
    spec = STUDY.models[wildcards.model]
    return {"family": spec["tiny"], "seed": spec.get("seed", 0)}


def prepare_inputs(wildcards):
    return {}


def embed_inputs(wildcards):
    return {**dataset_files(wildcards.dataset), **_model_inputs(wildcards.encoder)}


def mine_inputs(wildcards):
    return {
        "manifest": dataset_files(wildcards.dataset)["manifest"],
        **embeddings(wildcards.dataset, wildcards.encoder),
    }


def _needs_options(task):
    spec = STUDY.tasks[task]
    return spec["protocol"] == "zeroshot" or (
        spec["protocol"] == "mcq" and spec.get("distractors", "mined") == "mined"
    )


def infer_inputs(wildcards):
    job = _job(wildcards)
    inputs = {**dataset_files(job.dataset), **_model_inputs(job.model)}
    if _needs_options(job.task):
        inputs["options"] = options_file(job.dataset, STUDY.tasks[job.task]["k"])
    return inputs


def zeroshot_inputs(wildcards):
    job = _job(wildcards)
    return {
        "manifest": dataset_files(job.dataset)["manifest"],
        **embeddings(job.dataset, job.model),
        "options": options_file(job.dataset, STUDY.tasks[job.task]["k"]),
    }


def judge_inputs(wildcards):
    return {"predictions": predictions_file(_job(wildcards)), **_model_inputs(JUDGE)}


def score_inputs(wildcards):
    job = _job(wildcards)
    inputs = {"predictions": predictions_file(job)}
    if "llm_inclusion" in STUDY.tasks[job.task]["metrics"]:
        inputs["judge"] = judge_file(job)
    return inputs


def summary_inputs(wildcards):
    return [scores_file(job) for job in JOBS]


def _scope_jobs(task, scope):
    datasets = set(STUDY.scope_datasets(task, scope))
    return [job for job in STUDY.jobs_where(task=task) if job.dataset in datasets]


def elo_inputs(wildcards):
    return [scores_file(job) for job in _scope_jobs(wildcards.task, wildcards.scope)]


def elo_files():
    return [
        f"results/elo/{task}/{scope}.parquet"
        for task in STUDY.elo_tasks
        for scope in STUDY.elo_scopes(task)
    ]


TABLES = table_plan(PROTOCOLS, STUDY.elo_tasks)
FIGURES = figure_plan(
    PROTOCOLS,
    STUDY.elo_tasks,
    {task: STUDY.tasks[task]["metrics"] for task in PROTOCOLS},
)


def _elo_boards(tasks):
    return {
        f"{task}/{scope}": f"results/elo/{task}/{scope}.parquet"
        for task in tasks
        for scope in STUDY.elo_scopes(task)
    }


def _mcq_jobs(tasks):
    return [job for job in JOBS if job.task in tasks]


def table_inputs(wildcards):
    spec = TABLES[wildcards.table]
    inputs = {"summary": "results/summary.parquet"}
    if spec["kind"] == "elo":
        inputs["elo"] = list(_elo_boards(spec["tasks"]).values())
    if spec["kind"] == "cost":
        inputs["predictions"] = [predictions_file(job) for job in JOBS]
    return inputs


def figure_inputs(wildcards):
    spec = FIGURES[wildcards.figure]
    inputs = {"summary": "results/summary.parquet"}
    if spec["kind"] == "elo":
        inputs["elo"] = f"results/elo/{spec['task']}/all.parquet"
    if spec["kind"] == "letter_bias":
        inputs["predictions"] = [
            predictions_file(job) for job in _mcq_jobs(spec["tasks"])
        ]
    return inputs


# --- params ------------------------------------------------------------------------------------
def dataset_spec(wildcards):
    return STUDY.datasets[wildcards.dataset]


def encoder_spec(wildcards):
    return STUDY.model_spec(wildcards.encoder)


def infer_params(wildcards):
    job = _job(wildcards)
    return {
        "dataset": job.dataset,
        "dataset_spec": STUDY.datasets[job.dataset],
        "task": job.task,
        "task_spec": STUDY.tasks[job.task],
        "model": job.model,
        "model_spec": STUDY.model_spec(job.model),
        "seed": config["seed"],
        "limit": STUDY.dataset_limit(job.dataset),
    }


def inference_settings(wildcards):
    return config["inference"]


def judge_params(wildcards):
    return {"model_spec": STUDY.model_spec(JUDGE), **config["judge"]}


def score_params(wildcards):
    job = _job(wildcards)
    return {
        "task_spec": STUDY.tasks[job.task],
        "scoring": config["scoring"],
        "sentence_encoder": config["sentence_encoder"],
        "spacy_model": config["spacy_model"],
    }


def summary_params(wildcards):
    return {
        "entries": [
            {
                "dataset": job.dataset,
                "group": STUDY.datasets[job.dataset]["group"],
                "task": job.task,
                "model": job.model,
                "metrics": STUDY.tasks[job.task]["metrics"],
            }
            for job in JOBS
        ],
        "settings": config["summary"],
        "seed": config["seed"],
    }


def elo_params(wildcards):
    jobs = _scope_jobs(wildcards.task, wildcards.scope)
    return {
        "jobs": [{"dataset": job.dataset, "model": job.model} for job in jobs],
        "settings": {
            k: v for k, v in config["elo"].items() if k not in ("tasks", "scopes")
        },
        "seed": config["seed"],
    }


def table_params(wildcards):
    spec = TABLES[wildcards.table]
    params = {"spec": spec, "protocols": PROTOCOLS}
    if spec["kind"] == "elo":
        params["elo_keys"] = list(_elo_boards(spec["tasks"]))
    if spec["kind"] == "cost":
        params["jobs"] = [
            {
                "model": job.model,
                "dataset": job.dataset,
                "task": job.task,
                "gpus": STUDY.resources(job.model)["gpus"],
            }
            for job in JOBS
        ]
    return params


def figure_params(wildcards):
    spec = FIGURES[wildcards.figure]
    params = {"spec": spec}
    if spec["kind"] == "letter_bias":
        params["models"] = [job.model for job in _mcq_jobs(spec["tasks"])]
    return params


# --- resources ---------------------------------------------------------------------------------
def resource(key, role="model"):
    """An input function giving the registry resource ``key`` of the job's model."""

    def lookup(wildcards):
        if role == "judge":
            model = JUDGE
        elif role == "encoder":
            model = wildcards.encoder
        else:
            model = wildcards.model
        return STUDY.resources(model)[key]

    return lookup


# --- targets -----------------------------------------------------------------------------------
def final_targets():
    return [
        "results/summary.parquet",
        *elo_files(),
        *expand("results/tables/{table}.{ext}", table=TABLES, ext=("csv", "md", "tex")),
        *expand("results/figures/{figure}.{ext}", figure=FIGURES, ext=("png", "pdf")),
    ]


wildcard_constraints:
    dataset=_alternatives(STUDY.datasets),
    task=_alternatives(STUDY.tasks),
    model=_alternatives(STUDY.models),
    encoder=_alternatives(_models_with({"contrastive"})),
    k=r"\d+",
    scope=r"all|group-[\w-]+|dataset-[\w.-]+",
    table=_alternatives(TABLES),
    figure=_alternatives(FIGURES),
