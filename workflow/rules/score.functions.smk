# Input and params functions of score.smk (the judge, per-sample scores, the summary).


def judge_inputs(wildcards):
    job = _job(wildcards)
    return {
        "predictions": paths.job_file(paths.PREDICTIONS, job),
        **_model_inputs(JUDGE),
    }


def score_inputs(wildcards):
    job = _job(wildcards)
    inputs = {"predictions": paths.job_file(paths.PREDICTIONS, job)}
    if "llm_inclusion" in STUDY.tasks[job.task]["metrics"]:
        inputs["judge"] = paths.job_file(paths.JUDGE, job)
    if STUDY.maps_with_nli(job.task):
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


def summary_inputs(wildcards):
    return [paths.job_file(paths.SCORES, job) for job in JOBS]


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
    if STUDY.maps_with_nli(job.task):
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
