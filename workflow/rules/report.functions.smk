# Input and params functions of report.smk (tables, figures, galleries, provenance).


def _elo_boards(tasks):
    return {
        f"{task}/{scope}": paths.fill(paths.ELO, task=task, scope=scope)
        for task in tasks
        for scope in STUDY.elo_scopes(task)
    }


def _mcq_jobs(tasks):
    return [job for job in JOBS if job.task in tasks]


@functools.cache
def _jobs_by_pair():
    # One pass over the jobs instead of one per gallery (the full study has ~20k jobs).
    groups = {}
    for job in JOBS:
        groups.setdefault((job.dataset, job.task), []).append(job)
    return groups


def _gallery_jobs(dataset, task):
    return _jobs_by_pair().get((dataset, task), [])


def _sorted_keys(value):
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


# The config as the run resolved it (defaults, preset, overrides), keys sorted so that the same
# config always gives the same params: the file is rewritten only when the config changes.
RESOLVED_CONFIG = _sorted_keys(config)


def table_inputs(wildcards):
    spec = TABLES[wildcards.table]
    inputs = {"summary": paths.SUMMARY}
    if spec["kind"] == "elo":
        inputs["elo"] = list(_elo_boards(spec["tasks"]).values())
    if spec["kind"] == "cost":
        inputs["predictions"] = [paths.job_file(paths.PREDICTIONS, job) for job in JOBS]
    return inputs


def figure_inputs(wildcards):
    spec = FIGURES[wildcards.figure]
    inputs = {"summary": paths.SUMMARY}
    if spec["kind"] == "elo":
        inputs["elo"] = paths.fill(paths.ELO, task=spec["task"], scope="all")
    if spec["kind"] == "letter_bias":
        inputs["predictions"] = [
            paths.job_file(paths.PREDICTIONS, job) for job in _mcq_jobs(spec["tasks"])
        ]
    return inputs


def gallery_inputs(wildcards):
    jobs = _gallery_jobs(wildcards.dataset, wildcards.task)
    return {
        "manifest": dataset_files(wildcards.dataset)["manifest"],
        "images": paths.fill(paths.GALLERY_IMAGES, dataset=wildcards.dataset),
        "predictions": [paths.job_file(paths.PREDICTIONS, job) for job in jobs],
        "scores": [paths.job_file(paths.SCORES, job) for job in jobs],
    }


def parity_inputs(wildcards):
    files = []
    for candidate, reference in STUDY.parity_pairs:
        files += [
            paths.job_file(paths.PREDICTIONS, candidate),
            paths.job_file(paths.PREDICTIONS, reference),
        ]
    return {"summary": paths.SUMMARY, "predictions": files}


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
    # Which images a gallery shows depends only on the dataset (and the sample limits of its
    # tasks), so the thumbnails are made once per dataset and adding a model does not redo them.
    return {
        "limits": STUDY.dataset_limits_of_tasks(wildcards.dataset),
        "gallery_limit": config["report"]["gallery_limit"],
        "seed": config["seed"],
    }


def gallery_params(wildcards):
    jobs = _gallery_jobs(wildcards.dataset, wildcards.task)
    return {
        "limit": STUDY.job_limit(wildcards.dataset, wildcards.task),
        "gallery_limit": config["report"]["gallery_limit"],
        "seed": config["seed"],
        "models": [job.model for job in jobs],
        "protocol": PROTOCOLS[wildcards.task],
        "generic_similarity": config["report"]["generic_similarity"],
        "title": config["report"]["title"],
    }


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
