"""Load and check a study: the config plus the dataset, model and task registries.

- :mod:`~classbench.config.schema`: the files (YAML, JSON-schema validation with defaults, a
  registry spread over several files);
- :mod:`~classbench.config.study`: the :class:`Study` and the jobs it plans;
- :mod:`~classbench.config.checks`: the constraints between the files, checked before any job;
- :mod:`~classbench.config.models`: what the study knows of each backend;
- :mod:`~classbench.config.sizing`: a model's Slurm request from its entry or its size;
- :mod:`~classbench.config.load`: :func:`load_study`, which runs all of the above.
"""

from classbench.config.load import (
    NO_STUDY_SELECTED,
    REGISTRY_KINDS,
    config_defaults,
    load_study,
    resolved_config_text,
)
from classbench.config.models import (
    BACKEND_PACKAGES,
    CLASSIFIER_BACKENDS,
    EMBEDDING_BACKENDS,
    GENERATIVE_BACKENDS,
    MODEL_DEFAULTS,
    PROTOCOL_BACKENDS,
    REMOTE_BACKENDS,
    RUN_ONLY_MODEL_KEYS,
    answer_relevant,
    check_backend_installed,
)
from classbench.config.schema import (
    ConfigError,
    load_registry,
    load_yaml,
    registry_files,
    schema_defaults,
    validate,
)
from classbench.config.sizing import (
    DEFAULT_RESOURCES,
    DTYPE_BYTES,
    GPU_MEMORY_GB,
    QUANTIZED_BYTES,
    model_resources,
    size_resources,
    weight_bytes,
)
from classbench.config.study import (
    SCORING_ONLY_TASK_KEYS,
    Job,
    Study,
    class_count,
    compatible_jobs,
    plan_jobs,
    reads_options,
    slug,
)

__all__ = [
    "BACKEND_PACKAGES",
    "CLASSIFIER_BACKENDS",
    "DEFAULT_RESOURCES",
    "DTYPE_BYTES",
    "EMBEDDING_BACKENDS",
    "GENERATIVE_BACKENDS",
    "GPU_MEMORY_GB",
    "MODEL_DEFAULTS",
    "NO_STUDY_SELECTED",
    "PROTOCOL_BACKENDS",
    "QUANTIZED_BYTES",
    "REGISTRY_KINDS",
    "REMOTE_BACKENDS",
    "RUN_ONLY_MODEL_KEYS",
    "SCORING_ONLY_TASK_KEYS",
    "ConfigError",
    "Job",
    "Study",
    "answer_relevant",
    "check_backend_installed",
    "class_count",
    "compatible_jobs",
    "config_defaults",
    "load_registry",
    "load_study",
    "load_yaml",
    "model_resources",
    "plan_jobs",
    "reads_options",
    "registry_files",
    "resolved_config_text",
    "schema_defaults",
    "size_resources",
    "slug",
    "validate",
    "weight_bytes",
]
