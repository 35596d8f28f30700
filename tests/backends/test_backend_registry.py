"""The backend registry: one table names every backend, and the config and schema follow it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from classbench import config
from classbench.backends import (
    BACKENDS,
    CLASSIFIER,
    EMBEDDING,
    GENERATIVE,
    JUDGE,
    backend_names,
    load_model,
)
from classbench.backends.base import BackendError
from classbench.inference.job import load_backend

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "models.schema.yaml"


def test_schema_enum_lists_the_registry():
    schema = yaml.safe_load(SCHEMA.read_text())
    assert schema["additionalProperties"]["properties"]["backend"]["enum"] == list(BACKENDS)


@pytest.mark.parametrize("name", list(BACKENDS))
def test_every_backend_names_an_importable_loader(name):
    assert callable(BACKENDS[name].implementation())


def test_config_sets_follow_the_roles():
    assert config.GENERATIVE_BACKENDS == {"hf", "openai", "vllm"} == backend_names(GENERATIVE)
    assert config.EMBEDDING_BACKENDS == {"contrastive"} == backend_names(EMBEDDING)
    assert config.CLASSIFIER_BACKENDS == {"classifier"} == backend_names(CLASSIFIER)
    without_generation = config.PROTOCOL_BACKENDS
    assert without_generation == {"zeroshot": {"contrastive"}, "supervised": {"classifier"}}
    remote = config.REMOTE_BACKENDS
    assert remote == {"openai"}
    assert set(config.BACKEND_PACKAGES) == set(BACKENDS)
    assert config.BACKEND_PACKAGES["openai"] == "openai"
    assert config.MODEL_DEFAULTS["text"] == {"batch_size": 16, "dtype": "auto"}
    assert "openai" not in config.MODEL_DEFAULTS


def test_a_backend_of_another_role_is_refused_before_loading(tmp_path):
    missing = str(tmp_path / "no-such-model")
    # A contrastive encoder cannot answer prompts; nothing is loaded (the checkpoint is absent).
    with pytest.raises(BackendError, match="'contrastive' loads embedding models"):
        load_backend({"backend": "contrastive", "checkpoint": missing})
    with pytest.raises(BackendError, match="a judge model is needed here"):
        load_model({"backend": "hf", "checkpoint": missing}, role=JUDGE)
    with pytest.raises(BackendError, match="unknown backend 'onnx'; known: hf, openai"):
        load_model({"backend": "onnx", "checkpoint": missing}, role=GENERATIVE)


def test_reading_the_registry_imports_no_model_library():
    """The workflow reads the registry at parse time: torch and transformers must stay unloaded."""
    code = (
        "import sys, classbench.config, classbench.backends as b; "
        "assert b.BACKENDS['hf'].package == 'transformers'; "
        "print(sorted(m for m in ('torch', 'transformers', 'openai', 'vllm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
