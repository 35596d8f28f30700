# Input and params functions of rank.smk (judged games, Elo and Bradley-Terry ratings).

# Only what decides which games are played and how the judge answers: changing how games are
# rated (k, method, rounds) re-rates without asking the judge again.
ELO_GAME_KEYS = ("criterion", "games", "randomize_order")


def _scope_jobs(task, scope):
    datasets = set(STUDY.scope_datasets(task, scope))
    return [job for job in STUDY.jobs_where(task=task) if job.dataset in datasets]


def elo_inputs(wildcards):
    # The LLM-judge criterion rates the judged games; the similarity criterion reads the scores.
    if config["elo"]["criterion"] == "llm_judge":
        return {
            "games": paths.fill(
                paths.ELO_GAMES, task=wildcards.task, scope=wildcards.scope
            )
        }
    jobs = _scope_jobs(wildcards.task, wildcards.scope)
    return {"scores": [paths.job_file(paths.SCORES, job) for job in jobs]}


def elo_judge_inputs(wildcards):
    jobs = _scope_jobs(wildcards.task, wildcards.scope)
    return {
        "predictions": [paths.job_file(paths.PREDICTIONS, job) for job in jobs],
        **_model_inputs(JUDGE),
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
            "reply": config["judge"]["reply"],
        },
    }
