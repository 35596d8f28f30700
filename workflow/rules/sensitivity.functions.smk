# Input and params functions of sensitivity.smk: the sensitivity report (config `sensitivity`,
# planned and checked by load_study). The study's own predictions are every factor's default:
# the report reads them, it never runs them again; only the changed inference settings run,
# each on the report's image sample.
from classbench.config import model_resources, reads_options
from classbench.sensitivity.plan import Setting, skipped_factors
from classbench.sensitivity.report import CAPTION as SENSITIVITY_CAPTION

SENSITIVITY = STUDY.sensitivity
SENSITIVITY_RUNS = STUDY.sensitivity_runs
# (task, model, setting name) -> Setting, for each setting that needs its own inference run.
SENSITIVITY_INFERRED = {
    (run["task"], run["model"], setting.name): setting
    for run in SENSITIVITY_RUNS
    for setting in [Setting(**fields) for fields in run["settings"]]
    if setting.infers
}
SENSITIVITY_SETTINGS = sorted({name for _, _, name in SENSITIVITY_INFERRED})


def sensitivity_files():
    if SENSITIVITY is None:
        return []
    return [
        *expand(paths.TABLE, table=paths.SENSITIVITY, ext=paths.TABLE_FORMATS),
        *expand(paths.FIGURE, figure=paths.SENSITIVITY, ext=paths.FIGURE_FORMATS),
    ]


def _sensitivity_seed():
    return config["seed"] if SENSITIVITY["seed"] is None else SENSITIVITY["seed"]


def _changed_setting(wildcards):
    key = (wildcards.task, wildcards.model, wildcards.setting)
    if wildcards.dataset == SENSITIVITY["dataset"] and key in SENSITIVITY_INFERRED:
        return SENSITIVITY_INFERRED[key]
    raise WorkflowError(
        f"({wildcards.dataset}, {wildcards.task}, {wildcards.model}, {wildcards.setting}) "
        "is not a changed run of the sensitivity report"
    )


def _changed_predictions():
    return [
        paths.fill(
            paths.SENSITIVITY_PREDICTIONS,
            dataset=SENSITIVITY["dataset"],
            task=task,
            model=model,
            setting=name,
        )
        for task, model, name in SENSITIVITY_INFERRED
    ]


def sensitivity_resource(key):
    """An input function giving the resource ``key`` of a changed run: the model's request,
    sized for the setting (float32 weights take twice the memory of bfloat16)."""

    def lookup(wildcards):
        spec = {**STUDY.models[wildcards.model], **_changed_setting(wildcards).model}
        return model_resources(spec).get(key)

    return lookup


def sensitivity_infer_inputs(wildcards):
    setting = _changed_setting(wildcards)
    task = {**STUDY.tasks[wildcards.task], **setting.task}
    inputs = {**dataset_files(wildcards.dataset), **_model_inputs(wildcards.model)}
    if reads_options(task):
        # Mined by the study's option miner (mine_options), as the study's own tasks are.
        inputs["options"] = options_file(wildcards.dataset, task["k"])
    return inputs


def sensitivity_infer_params(wildcards):
    # The study's inference job with the setting's task and model keys, on the report's images.
    setting = _changed_setting(wildcards)
    return {
        **infer_params(wildcards),
        "task_spec": {**STUDY.inference_task_spec(wildcards.task), **setting.task},
        "model_spec": {**_model_spec(wildcards.model), **setting.model},
        "sample": {"images": SENSITIVITY["images"], "seed": _sensitivity_seed()},
    }


def _sensitivity_encoders():
    """The mapped accuracy's text encoders the report scores with: the study's and each
    setting's, when the mapping_encoder factor has a setting."""
    names = {
        setting["scoring"]["mapping_encoder"]
        for run in SENSITIVITY_RUNS
        for setting in run["settings"]
        if "mapping_encoder" in setting["scoring"]
    }
    if not names:
        return {}
    specs = {name: STUDY.answer_spec(name) for name in STUDY.models}
    names.add(MAPPING_ENCODER["name"])
    return {
        name: mapping_encoder_spec(name, specs, config["sentence_encoder"])
        for name in sorted(names)
    }


def _sensitivity_nli():
    tasks = {run["task"] for run in SENSITIVITY_RUNS}
    return NLI if any(STUDY.maps_with_nli(task) for task in tasks) else None


def sensitivity_inputs(wildcards):
    if SENSITIVITY is None:
        raise WorkflowError(
            "the sensitivity report is off: set sensitivity.enabled (docs/protocols.md)"
        )
    dataset = SENSITIVITY["dataset"]
    models = []
    for name in [*_sensitivity_encoders(), _sensitivity_nli()]:
        if name in STUDY.models:
            models += list(_model_inputs(name).values())
    return {
        **dataset_files(dataset),
        "defaults": [
            paths.fill(
                paths.PREDICTIONS, dataset=dataset, task=run["task"], model=run["model"]
            )
            for run in SENSITIVITY_RUNS
        ],
        "changed": _changed_predictions(),
        "models": models,
    }


def sensitivity_params(wildcards):
    dataset = SENSITIVITY["dataset"]
    nli = _sensitivity_nli()
    return {
        "dataset": dataset,
        "runs": SENSITIVITY_RUNS,
        # the keys of the "defaults" and "changed" inputs, in their order
        "defaults": [[run["task"], run["model"]] for run in SENSITIVITY_RUNS],
        "changed": [list(key) for key in SENSITIVITY_INFERRED],
        "limits": {
            run["task"]: STUDY.job_limit(dataset, run["task"])
            for run in SENSITIVITY_RUNS
        },
        "images": SENSITIVITY["images"],
        "seed": _sensitivity_seed(),
        "study_seed": config["seed"],
        "scoring": config["scoring"],
        "mapping_encoders": _sensitivity_encoders(),
        "sentence_encoder": config["sentence_encoder"],
        "spacy_model": config["spacy_model"],
        "nli_model": _model_spec(nli) if nli else None,
        "summary": config["summary"],
        "skipped": skipped_factors(SENSITIVITY_RUNS, SENSITIVITY["factors"]),
        "caption": SENSITIVITY_CAPTION,
    }
