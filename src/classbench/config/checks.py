"""Constraints between the config and the registries, checked before any job starts.

The schemas check each file alone; these check what only the files together decide (a name the
selection uses, a setting a dataset cannot satisfy). Each failure is one :class:`ConfigError`
naming the file and the key, so a study that cannot run stops while the workflow is parsed, not
after other jobs have run.
"""

from __future__ import annotations

import re
from typing import Any

from classbench import paths
from classbench.config.models import check_backend_installed
from classbench.config.schema import ConfigError
from classbench.config.study import Job, Study, class_count, compatible_jobs
from classbench.protocols import answer_mode_problem
from classbench.protocols.supervised import MappingError, imagenet_mapping
from classbench.scoring.text_encoders import SENTENCE_ENCODER
from classbench.sensitivity.plan import DEFAULT_METRICS, plan_runs

# Which models answer which protocol: why a combination plans no job.
PAIRING = (
    "zeroshot needs a contrastive model, supervised a classifier on a dataset with an ImageNet "
    "mapping, every other protocol a generative model"
)
# Protocols whose `k` counts options drawn from the dataset's classes (the ground truth
# included): a dataset with fewer classes cannot fill them.
OPTION_PROTOCOLS = ("mcq", "zeroshot")


def check_selection(study: Study, *, check_packages: bool = True) -> None:
    """Every name the config uses exists, with the role it is named for."""
    _check_names(study)
    _check_datasets(study)
    _check_roles(study)
    _check_models(study, check_packages)


def check_jobs(study: Study) -> None:
    """The planned jobs can run: each combination is answerable, something is left to run,
    and every Elo scope can be named."""
    if not study.jobs:
        _nothing_to_run(study)
    _check_every_selected_name_runs(study)
    for job in study.jobs:
        _check_job(study, job)
    _check_elo_scopes(study)


def _check_names(study: Study) -> None:
    config = study.config
    for kind in ("datasets", "models", "tasks"):
        registry = getattr(study, kind)
        for index, name in enumerate(config[kind]):
            if name not in registry:
                raise ConfigError(
                    f"config: {kind}.{index}: '{name}' is not in {study.source(kind)} "
                    f"(known: {', '.join(sorted(registry)) or 'none'})"
                )
    for index, rule in enumerate(config["exclude"]):
        for kind, name in rule.items():
            if name not in getattr(study, f"{kind}s"):
                raise ConfigError(f"config: exclude.{index}.{kind}: unknown {kind} '{name}'")
    for name in config["dataset_limits"]:
        if name not in study.datasets:
            raise ConfigError(
                f"config: dataset_limits.{name}: unknown dataset '{name}' "
                f"(not in {study.source('datasets')})"
            )
    for task in config.get("task_limits", {}):
        if task not in config["tasks"]:
            raise ConfigError(f"config: task_limits: '{task}' is not one of the study's tasks")
    for task in config["elo"].get("tasks") or []:
        if task not in config["tasks"]:
            raise ConfigError(f"config: elo.tasks: '{task}' is not one of the study's tasks")


def _check_datasets(study: Study) -> None:
    for name, spec in study.datasets.items():
        where = f"{study.source('datasets', name)}: {name}"
        if "imagenet_classes" in spec and "imagenet_index_file" in spec:
            raise ConfigError(
                f"{where}: 'imagenet_classes' cannot be combined with 'imagenet_index_file'"
            )
        if spec["source"]["kind"] == "synthetic" and "classes" not in spec:
            raise ConfigError(f"{where}: synthetic sets need 'classes'")
        expected = spec.get("expected", {}).get("classes")
        if "classes" in spec and expected is not None and expected != len(spec["classes"]):
            raise ConfigError(
                f"{where}.expected.classes: {expected} but {len(spec['classes'])} class names "
                "are listed"
            )


def _check_roles(study: Study) -> None:
    """The miner, the judge and the NLI mapper are there when needed, of the right kind."""
    config = study.config
    miner = config.get("option_miner")
    if miner is not None and study.models.get(miner, {}).get("backend") != "contrastive":
        raise ConfigError(f"config: option_miner: '{miner}' is not a contrastive model")
    judge = study.judge_model
    if study.needs_judge and judge is None:
        raise ConfigError("config: judge.model: an LLM judge is needed but none is named")
    if judge is not None and study.models.get(judge, {}).get("backend") != "text":
        raise ConfigError(f"config: judge.model: '{judge}' is not a text model")
    for index, task in enumerate(config["tasks"]):
        if study.needs_options(task) and not miner:
            raise ConfigError(
                f"config: option_miner: task '{task}' (tasks.{index}) needs mined options"
            )
    needs_nli = [t for t in config["tasks"] if study.maps_with_nli(t)]
    nli = config.get("nli_model")
    if not needs_nli:
        return
    if nli is None:
        raise ConfigError(
            f"config: nli_model: task '{needs_nli[0]}' maps answers with fallback: nli, but no "
            "NLI model is named"
        )
    if study.models.get(nli, {}).get("backend") != "nli":
        raise ConfigError(f"config: nli_model: '{nli}' is not an nli model")


def _check_models(study: Study, check_packages: bool) -> None:
    for name, spec in study.models.items():
        for key in ("parity_of", "variant_of"):
            reference = spec.get(key)
            if reference is not None and reference not in study.models:
                raise ConfigError(
                    f"{study.source('models', name)}: {name}.{key}: unknown model '{reference}'"
                )
    for index, name in enumerate(study.config["models"]):
        spec = study.models[name]
        if spec.get("support") == "unsupported":
            raise ConfigError(
                f"config: models.{index}: '{name}' cannot be evaluated yet: "
                f"{spec.get('support_note', 'marked unsupported in the registry').strip()}"
            )
        if spec["backend"] == "text":
            raise ConfigError(f"config: models: '{name}' is a text model; name it as judge.model")
        if spec["backend"] == "nli":
            raise ConfigError(f"config: models: '{name}' is an NLI model; name it as nli_model")
        if check_packages:
            check_backend_installed(name, spec["backend"], study.source("models", name))


def _check_job(study: Study, job: Job) -> None:
    """A combination that cannot run: the message names the exclusion that skips it."""
    task, model = study.tasks[job.task], study.models[job.model]
    tasks_file = study.source("tasks", job.task)
    problem = answer_mode_problem(task, model)
    if problem:
        raise ConfigError(
            f"{tasks_file}: {job.task}.answer_mode: model '{job.model}': {problem} "
            f"(or exclude {{task: {job.task}, model: {job.model}}})"
        )
    dataset = study.datasets[job.dataset]
    n_classes = class_count(dataset)
    if task["protocol"] == "supervised":
        try:
            imagenet_mapping(dataset, n_classes)
        except MappingError as err:
            where = f"{study.source('datasets', job.dataset)}: {job.dataset}"
            raise ConfigError(f"{where}: {err}") from None
    k = task.get("k")
    options = task["protocol"] in OPTION_PROTOCOLS
    if options and k is not None and n_classes is not None and k > n_classes:
        raise ConfigError(
            f"{tasks_file}: {job.task}.k: {k} options but dataset '{job.dataset}' has "
            f"{n_classes} classes; exclude {{task: {job.task}, dataset: {job.dataset}}}"
        )


def _nothing_to_run(study: Study) -> None:
    """Say why the selection plans no job: no model answers its tasks, or all is excluded."""
    if compatible_jobs(study):
        raise ConfigError(
            "config: exclude: the exclusions leave no job to run of the selected datasets, "
            "models and tasks"
        )
    raise ConfigError(
        "config: models: no selected model can answer a selected task on a selected dataset, so "
        f"there is no job to run ({PAIRING})"
    )


def _check_every_selected_name_runs(study: Study) -> None:
    """A selected dataset, model or task that no selected combination can run (a zero-shot
    task without a contrastive model, say) would be missing from every result without a word:
    name it instead. One whose jobs are all excluded was left out on purpose."""
    compatible = compatible_jobs(study)
    for kind, attribute in (("tasks", "task"), ("models", "model"), ("datasets", "dataset")):
        runnable = {getattr(job, attribute) for job in compatible}
        for index, name in enumerate(study.config[kind]):
            if name not in runnable:
                raise ConfigError(
                    f"config: {kind}.{index}: '{name}' has no job to run: no selected "
                    f"combination can run it ({PAIRING}); leave it out"
                )


def _check_elo_scopes(study: Study) -> None:
    """Each Elo scope name must match the pattern its output file is built from."""
    for task in study.elo_tasks:
        for scope in study.elo_scopes(task):
            if re.fullmatch(paths.ELO_SCOPE_PATTERN, scope):
                continue
            name = scope.partition("-")[2]
            if name in study.config["datasets"]:
                index = study.config["datasets"].index(name)
                raise ConfigError(
                    f"config: datasets.{index}: '{name}' cannot name the Elo scope '{scope}' "
                    "(letters, digits, '_', '.' and '-' only, not ending in '.games'): rename "
                    "the dataset or leave 'dataset' out of elo.scopes"
                )
            raise ConfigError(f"config: elo.scopes: the scope '{scope}' cannot be named")


def plan_sensitivity(study: Study) -> list[dict[str, Any]]:
    """The sensitivity report's runs (:func:`plan_runs`), or ``[]`` when the section is off.

    Every name it uses must be the study's, and every (dataset, task, model) a job of the
    study: that job's predictions are each factor's default.
    """
    section = study.sensitivity
    if section is None:
        return []
    config = study.config
    if section["dataset"] not in config["datasets"]:
        raise ConfigError(
            f"config: sensitivity.dataset: '{section['dataset']}' is not one of the study's "
            "datasets"
        )
    for index, task in enumerate(section["tasks"]):
        if task not in config["tasks"]:
            raise ConfigError(
                f"config: sensitivity.tasks.{index}: '{task}' is not one of the study's tasks"
            )
        if study.protocol(task) not in DEFAULT_METRICS:
            raise ConfigError(
                f"config: sensitivity.tasks.{index}: '{task}' is a {study.protocol(task)} task; "
                f"the report varies {', '.join(DEFAULT_METRICS)} tasks"
            )
        random = study.tasks[task].get("distractors") == "random"
        if random and "distractors" in section["factors"] and not config.get("option_miner"):
            raise ConfigError(
                f"config: option_miner: the sensitivity factor 'distractors' asks task '{task}' "
                f"(sensitivity.tasks.{index}) with mined distractors, but no miner is named"
            )
    for index, model in enumerate(section["models"]):
        if model not in config["models"]:
            raise ConfigError(
                f"config: sensitivity.models.{index}: '{model}' is not one of the study's models"
            )
    for index, encoder in enumerate(section["mapping_encoders"]):
        if encoder != SENTENCE_ENCODER and study.models.get(encoder, {}).get("backend") != (
            "contrastive"
        ):
            raise ConfigError(
                f"config: sensitivity.mapping_encoders.{index}: '{encoder}' is neither "
                f"'{SENTENCE_ENCODER}' nor a contrastive model of {study.source('models')}"
            )
    try:
        return plan_runs(
            section,
            tasks=study.tasks,
            models={model: study.model_spec(model) for model in section["models"]},
            jobs={(job.dataset, job.task, job.model) for job in study.jobs},
            label_sets=bool(study.datasets[section["dataset"]].get("label_sets")),
            default_encoder=config["scoring"]["mapping_encoder"],
        )
    except ValueError as error:
        raise ConfigError(
            f"config: {error}; name only tasks and models the study runs on '{section['dataset']}'"
        ) from None
