# Config, registries and targets. Everything here is plain Python over the validated study.
import functools
import re

from classbench.config import (
    CLASSIFIER_BACKENDS,
    EMBEDDING_BACKENDS,
    GENERATIVE_BACKENDS,
    ConfigError,
    load_study,
)
from classbench.report.build import figure_plan, table_plan
from classbench.protocols.supervised import MAPPING_KEYS
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


config = STUDY.config
JOBS = STUDY.jobs
MINER = config.get("option_miner")
JUDGE = STUDY.judge_model
NLI = STUDY.nli_model
PROTOCOLS = {task: STUDY.protocol(task) for task in config["tasks"]}
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
    job = STUDY.job(wildcards.dataset, wildcards.task, wildcards.model)
    if job is not None:
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
    # A curated class-name file is an input, so editing it re-prepares the dataset. Downloads
    # (archives, split files) are not: they live in resources/downloads, pinned by sha256, and
    # gated sets read their token from the environment inside the library, never from params.
    spec = STUDY.datasets[wildcards.dataset]
    inputs = {"classes_file": spec["classes_file"]} if spec.get("classes_file") else {}
    # a local label-set file too (a download is pinned by its sha256 instead)
    if "path" in spec.get("label_sets", {}):
        inputs["label_sets"] = spec["label_sets"]["path"]
    return inputs


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


def classify_inputs(wildcards):
    job = _job(wildcards)
    # The index file is an input, so editing a dataset's ImageNet mapping re-runs its jobs.
    index_file = STUDY.datasets[job.dataset].get("imagenet_index_file")
    return {
        "manifest": dataset_files(job.dataset)["manifest"],
        "classes": dataset_files(job.dataset)["classes"],
        **({"imagenet_index": index_file} if index_file else {}),
        **_model_inputs(job.model),
    }


def judge_inputs(wildcards):
    return {"predictions": predictions_file(_job(wildcards)), **_model_inputs(JUDGE)}


def score_inputs(wildcards):
    job = _job(wildcards)
    inputs = {"predictions": predictions_file(job)}
    if "llm_inclusion" in STUDY.tasks[job.task]["metrics"]:
        inputs["judge"] = judge_file(job)
    if _maps_with_nli(job.task):
        inputs.update({f"nli_{k}": v for k, v in _model_inputs(NLI).items()})
    if STUDY.datasets[job.dataset].get("label_sets"):
        inputs["manifest"] = dataset_files(job.dataset)["manifest"]
    if _maps_to_classes(job.task):
        inputs["classes"] = dataset_files(job.dataset)["classes"]
        encoder = MAPPING_ENCODER.get("name")
        if encoder in STUDY.models:
            inputs.update(
                {f"mapping_{k}": v for k, v in _model_inputs(encoder).items()}
            )
    return inputs


def _maps_to_classes(task):
    return "mapped_accuracy" in STUDY.tasks[task]["metrics"]


def _maps_with_nli(task):
    spec = STUDY.tasks[task]
    return spec["protocol"] == "labels" and spec.get("fallback") == "nli"


def summary_inputs(wildcards):
    return [scores_file(job) for job in JOBS]


def _scope_jobs(task, scope):
    datasets = set(STUDY.scope_datasets(task, scope))
    return [job for job in STUDY.jobs_where(task=task) if job.dataset in datasets]


def elo_games_file(task, scope):
    return f"results/elo/{task}/{scope}.games.parquet"


def elo_inputs(wildcards):
    # The LLM-judge criterion rates the judged games; the similarity criterion reads the scores.
    if config["elo"]["criterion"] == "llm_judge":
        return {"games": elo_games_file(wildcards.task, wildcards.scope)}
    jobs = _scope_jobs(wildcards.task, wildcards.scope)
    return {"scores": [scores_file(job) for job in jobs]}


def elo_judge_inputs(wildcards):
    jobs = _scope_jobs(wildcards.task, wildcards.scope)
    return {
        "predictions": [predictions_file(job) for job in jobs],
        **_model_inputs(JUDGE),
    }


def elo_files():
    return [
        f"results/elo/{task}/{scope}.parquet"
        for task in STUDY.elo_tasks
        for scope in STUDY.elo_scopes(task)
    ]


TABLES = table_plan(
    PROTOCOLS,
    STUDY.elo_tasks,
    config["elo"]["criterion"],
    multi_label=any(STUDY.datasets[d].get("label_sets") for d in config["datasets"]),
)
FIGURES = figure_plan(
    PROTOCOLS,
    STUDY.elo_tasks,
    {task: STUDY.tasks[task]["metrics"] for task in PROTOCOLS},
    config["elo"]["criterion"],
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


@functools.cache
def _jobs_by_pair():
    # One pass over the jobs instead of one per gallery (the full study has ~20k jobs).
    groups = {}
    for job in JOBS:
        groups.setdefault((job.dataset, job.task), []).append(job)
    return groups


def _gallery_jobs(dataset, task):
    return _jobs_by_pair().get((dataset, task), [])


def gallery_images_dir(dataset):
    return f"results/gallery/{dataset}/img"


def gallery_inputs(wildcards):
    jobs = _gallery_jobs(wildcards.dataset, wildcards.task)
    return {
        "manifest": dataset_files(wildcards.dataset)["manifest"],
        "images": gallery_images_dir(wildcards.dataset),
        "predictions": [predictions_file(job) for job in jobs],
        "scores": [scores_file(job) for job in jobs],
    }


def gallery_files():
    pairs = dict.fromkeys((job.dataset, job.task) for job in JOBS)
    return [f"results/gallery/{dataset}/{task}.html" for dataset, task in pairs]


def parity_inputs(wildcards):
    files = []
    for candidate, reference in STUDY.parity_pairs:
        files += [predictions_file(candidate), predictions_file(reference)]
    return {"summary": "results/summary.parquet", "predictions": files}


def parity_params(wildcards):
    return [
        {
            "dataset": candidate.dataset,
            "task": candidate.task,
            "model": candidate.model,
            "reference": reference.model,
        }
        for candidate, reference in STUDY.parity_pairs
    ]


# --- params ------------------------------------------------------------------------------------
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


def dataset_spec(wildcards):
    return _dataset_spec(wildcards.dataset)


def encoder_spec(wildcards):
    return _model_spec(wildcards.encoder)


def infer_params(wildcards):
    job = _job(wildcards)
    return {
        "dataset": job.dataset,
        "dataset_spec": _dataset_spec(job.dataset),
        "task": job.task,
        # Without the keys only scoring reads: changing the label mapping re-runs only scoring.
        "task_spec": STUDY.inference_task_spec(job.task),
        "model": job.model,
        "model_spec": _model_spec(job.model),
        "seed": config["seed"],
        "limit": STUDY.dataset_limit(job.dataset),
    }


def classify_params(wildcards):
    # The dataset's ImageNet mapping (imagenet_classes or imagenet_index_file): what it declares.
    spec = STUDY.datasets[wildcards.dataset]
    return {key: spec[key] for key in MAPPING_KEYS if key in spec}


def judge_params(wildcards):
    return {"model_spec": _model_spec(JUDGE), **config["judge"]}


def score_params(wildcards):
    job = _job(wildcards)
    params = {
        "task_spec": STUDY.tasks[job.task],
        "scoring": config["scoring"],
        "sentence_encoder": config["sentence_encoder"],
        "spacy_model": config["spacy_model"],
    }
    if _maps_with_nli(job.task):
        params["nli_model"] = _model_spec(NLI)
    if _maps_to_classes(job.task):
        params["mapping_encoder"] = MAPPING_ENCODER
    return params


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
        "models": sorted({job.model for job in jobs}),
        "settings": {
            k: v for k, v in config["elo"].items() if k not in ("tasks", "scopes")
        },
        "seed": config["seed"],
    }


# Only what decides which games are played and how the judge answers: changing how games are
# rated (k, method, rounds) re-rates without asking the judge again.
ELO_GAME_KEYS = ("criterion", "games", "randomize_order")


def elo_judge_params(wildcards):
    jobs = _scope_jobs(wildcards.task, wildcards.scope)
    return {
        "jobs": [{"dataset": job.dataset, "model": job.model} for job in jobs],
        "settings": {k: config["elo"][k] for k in ELO_GAME_KEYS},
        "seed": config["seed"],
        "judge": {
            "model_spec": _model_spec(JUDGE),
            "batch_size": config["judge"]["batch_size"],
            "max_new_tokens": config["judge"]["max_new_tokens"],
        },
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
        # One panel per model and task: pooling two protocols' letters would blur both.
        several = len(spec["tasks"]) > 1
        params["models"] = [
            f"{job.model}\n{job.task}" if several else job.model
            for job in _mcq_jobs(spec["tasks"])
        ]
    return params


def gallery_images_params(wildcards):
    # Which images a gallery shows depends only on the dataset, so the thumbnails are made once
    # per dataset and adding a model or a task does not redo them.
    return {
        "limit": STUDY.dataset_limit(wildcards.dataset),
        "gallery_limit": config["report"]["gallery_limit"],
        "seed": config["seed"],
    }


def gallery_params(wildcards):
    jobs = _gallery_jobs(wildcards.dataset, wildcards.task)
    return {
        **gallery_images_params(wildcards),
        "models": [job.model for job in jobs],
        "protocol": PROTOCOLS[wildcards.task],
        "generic_similarity": config["report"]["generic_similarity"],
        "title": config["report"]["title"],
    }


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
        return STUDY.resources(model).get(key)

    return lookup


# --- targets -----------------------------------------------------------------------------------
def final_targets():
    return [
        "results/summary.parquet",
        *elo_files(),
        *(
            expand("results/tables/parity.{ext}", ext=("csv", "md", "tex"))
            if STUDY.parity_pairs
            else []
        ),
        *expand("results/tables/{table}.{ext}", table=TABLES, ext=("csv", "md", "tex")),
        *expand("results/figures/{figure}.{ext}", figure=FIGURES, ext=("png", "pdf")),
        *gallery_files(),
    ]


wildcard_constraints:
    dataset=_alternatives(STUDY.datasets),
    task=_alternatives(STUDY.tasks),
    model=_alternatives(STUDY.models),
    encoder=_alternatives(_models_with({"contrastive"})),
    k=r"\d+",
    # never ending in ".games", so {scope}.parquet cannot also match a games file
    scope=r"(?:all|group-[\w-]+|dataset-[\w.-]+)(?<!\.games)",
    table=_alternatives(TABLES),
    figure=_alternatives(FIGURES),
