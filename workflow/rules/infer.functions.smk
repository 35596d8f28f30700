# Input and params functions of infer.smk (generative, zero-shot and supervised predictions).
from classbench.protocols.supervised import MAPPING_KEYS


def infer_inputs(wildcards):
    job = _job(wildcards)
    inputs = {**dataset_files(job.dataset), **_model_inputs(job.model)}
    if STUDY.needs_options(job.task):
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
        "limit": STUDY.job_limit(job.dataset, job.task),
    }


def classify_params(wildcards):
    # The dataset's ImageNet mapping (imagenet_classes or imagenet_index_file): what it declares.
    spec = STUDY.datasets[wildcards.dataset]
    return {key: spec[key] for key in MAPPING_KEYS if key in spec}
