"""One device and dtype rule set for every in-process backend, each backend's `auto` kept."""

from __future__ import annotations

import pytest
import torch

from classbench.backends import devices
from classbench.backends.base import BackendError
from classbench.backends.devices import dtype_name, resolve_device, resolve_dtype

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")


@pytest.fixture
def gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend a CUDA device is visible (nothing is placed on it)."""
    monkeypatch.setattr(devices, "cuda_available", lambda: True)


def test_auto_device_follows_the_machine(gpu, monkeypatch):
    assert resolve_device("auto") == resolve_device(None) == "cuda"
    assert resolve_device(0) == "cuda:0"
    assert resolve_device(-1) == resolve_device("cpu") == "cpu"
    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(BackendError, match="no CUDA device"):
        resolve_device("cuda:1")
    with pytest.raises(BackendError, match="no CUDA device"):
        resolve_device(0)


@pytest.mark.parametrize(
    ("rule", "device", "bf16", "expected"),
    [
        ("bfloat16", "cpu", True, torch.float32),
        ("bfloat16", "cuda", True, torch.bfloat16),
        ("bfloat16", "cuda", False, torch.bfloat16),  # contrastive, classifier, judge
        ("half", "cpu", True, torch.float32),
        ("half", "cuda:0", True, torch.bfloat16),
        ("half", "cuda", False, torch.float16),  # hf on a GPU without bfloat16
        ("saved", "cpu", True, "auto"),  # nli: the checkpoint's own dtype
        ("saved", "cuda", True, "auto"),
    ],
)
def test_auto_dtype_follows_each_backends_rule(monkeypatch, rule, device, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    assert resolve_dtype("auto", device, auto=rule) == expected
    assert resolve_dtype(None, device, auto=rule) == expected


def test_explicit_dtypes():
    assert resolve_dtype("float16", "cpu") is torch.float16
    assert resolve_dtype("float32", "cuda", auto="half") is torch.float32
    assert resolve_dtype("bfloat16", "cpu", auto="saved") is torch.bfloat16
    assert resolve_dtype(torch.float64, "cpu") is torch.float64
    assert dtype_name(torch.bfloat16) == "bfloat16"
    with pytest.raises(BackendError, match="dtype 'float8' is not supported"):
        resolve_dtype("float8", "cpu")
    with pytest.raises(ValueError, match="dtype rule"):
        resolve_dtype("auto", "cpu", auto="fastest")


@no_cuda
def test_every_local_backend_refuses_cuda_without_a_gpu_before_loading(tmp_path):
    """An explicit CUDA device on a CPU machine stops at once, naming the device, before the
    (here absent) checkpoint is read."""
    from classbench.backends.classifier import ImageClassifier
    from classbench.backends.contrastive import ContrastiveEncoder
    from classbench.backends.nli import load_nli_classifier
    from classbench.backends.text_judge import LLMJudge

    missing = str(tmp_path / "absent")
    loaders = [
        lambda: ContrastiveEncoder(missing, device="cuda"),
        lambda: ImageClassifier(missing, device="cuda"),
        lambda: LLMJudge(missing, device="cuda"),
        lambda: load_nli_classifier({"checkpoint": missing}, device="cuda"),
    ]
    for load in loaders:
        with pytest.raises(BackendError, match="'cuda' requested but no CUDA device"):
            load()
