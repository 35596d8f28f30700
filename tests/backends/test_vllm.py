"""VLLMBackend: request construction and result mapping against a fake ``vllm`` module, plus a
real run of a tiny model that needs vLLM and a CUDA device (skipped where either is missing)."""

from __future__ import annotations

import importlib.util
import logging
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image

from classbench.backends.base import BackendError
from classbench.backends.vllm_engine import (
    VLLMBackend,
    build_conversation,
    build_requests,
    choice_api,
    engine_kwargs,
    to_generation,
)
from classbench.config import ConfigError, check_backend_installed, validate
from classbench.inference.job import load_backend

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "models.schema.yaml"
CLASS_NAMES = {
    "structured_outputs": "StructuredOutputsParams",
    "guided_decoding": "GuidedDecodingParams",
}


def noise_image(width: int, height: int, seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


class EngineDeadError(RuntimeError):
    """Named like vLLM's error for an engine that died (e.g. CUDA out of memory)."""


def install_fake_vllm(
    monkeypatch: pytest.MonkeyPatch, api: str | None = "structured_outputs", dead: bool = False
) -> types.SimpleNamespace:
    """Put a fake ``vllm`` (and ``vllm.sampling_params``) in ``sys.modules``.

    ``api`` picks the constraint class the fake provides: the >= 0.12 ``StructuredOutputsParams``,
    the older ``GuidedDecodingParams``, or none. Its ``LLM.chat`` records every call and answers
    ``"<prompt>|<image size>"``; a prompt containing ``BAD`` makes the whole call raise, as vLLM
    does for a request that fails validation.
    """
    state = types.SimpleNamespace(llm_kwargs=None, calls=[])

    class SamplingParams:
        def __init__(self, **kwargs: Any) -> None:
            self.kwargs = kwargs

    class ChoiceParams:
        def __init__(self, choice: list[str] | None = None) -> None:
            if choice is not None and not choice:
                raise ValueError("choice must not be empty")
            self.choice = choice

    class LLM:
        def __init__(self, **kwargs: Any) -> None:
            if kwargs["model"] == "missing-model":
                raise OSError("no such model")
            state.llm_kwargs = kwargs

        def chat(self, messages: list, sampling_params: list, use_tqdm: bool = True) -> list:
            state.calls.append((messages, sampling_params))
            if dead:
                raise EngineDeadError("engine died")
            assert isinstance(sampling_params, list) and len(sampling_params) == len(messages)
            outputs = []
            for conversation in messages:
                parts = conversation[-1]["content"]
                prompt = next(p["text"] for p in parts if p["type"] == "text")
                image = next(p["image_pil"] for p in parts if p["type"] == "image_pil")
                if "BAD" in prompt:
                    raise ValueError(f"prompt {prompt!r} is longer than max_model_len")
                completion = types.SimpleNamespace(
                    text=f" {prompt}|{image.size[0]}x{image.size[1]}\n",
                    token_ids=[5, 6, 7],
                    finish_reason="stop",
                )
                outputs.append(
                    types.SimpleNamespace(
                        prompt_token_ids=list(range(20 + len(prompt))), outputs=[completion]
                    )
                )
            return outputs

    vllm = types.ModuleType("vllm")
    vllm.__version__ = "0.12.0" if api == "structured_outputs" else "0.10.1"
    vllm.LLM = LLM
    vllm.SamplingParams = SamplingParams
    sampling = types.ModuleType("vllm.sampling_params")
    sampling.SamplingParams = SamplingParams
    if api is not None:
        setattr(sampling, CLASS_NAMES[api], ChoiceParams)
    vllm.sampling_params = sampling
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", sampling)
    state.module = vllm
    state.choice_class = ChoiceParams
    return state


IMAGES = [noise_image(w, h, seed) for seed, (w, h) in enumerate([(100, 120), (230, 170), (64, 64)])]


def test_engine_arguments(monkeypatch):
    state = install_fake_vllm(monkeypatch)
    backend = VLLMBackend(
        {
            "backend": "vllm",
            "checkpoint": "Qwen/Qwen2-VL-2B-Instruct",
            "revision": "abc123",
            "dtype": "bfloat16",
            "max_model_len": 4096,
            "mm_processor_kwargs": {"max_pixels": 200704},
            "tensor_parallel_size": 2,
            "gpu_memory_utilization": 0.8,
            "seed": 0,
            "trust_remote_code": False,
            "attn_implementation": None,  # not an engine argument: never passed
            "batch_size": 8,
            "engine_kwargs": {"enforce_eager": True, "max_num_seqs": 64},
        }
    )
    assert state.llm_kwargs == {
        "model": "Qwen/Qwen2-VL-2B-Instruct",
        "limit_mm_per_prompt": {"image": 1},
        "revision": "abc123",
        "dtype": "bfloat16",
        "max_model_len": 4096,
        "mm_processor_kwargs": {"max_pixels": 200704},
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.8,
        "seed": 0,
        "trust_remote_code": False,
        "enforce_eager": True,
        "max_num_seqs": 64,
    }
    info = backend.info()
    assert info["backend"] == "vllm" and info["vllm_version"] == "0.12.0"
    assert info["engine_kwargs"]["max_model_len"] == 4096
    assert info["choice_constraint"] == "structured_outputs"
    # Unset keys are left to vLLM's own defaults.
    assert engine_kwargs({"checkpoint": "m", "revision": None}) == {
        "model": "m",
        "limit_mm_per_prompt": {"image": 1},
    }
    backend.close()
    backend.close()  # idempotent


@pytest.mark.parametrize("api", ["structured_outputs", "guided_decoding"])
def test_whole_list_in_one_chat_call(monkeypatch, api):
    state = install_fake_vllm(monkeypatch, api)
    backend = VLLMBackend(
        {"checkpoint": "m", "max_pixels": 6000, "system_prompt": "Be brief.", "image_first": False}
    )
    prompts = ["first?", "second?", "third?"]
    choices = [["cat", "dog"], None, ["A", "B", "C"]]
    got = backend.generate(list(IMAGES), prompts, max_new_tokens=4, choices=choices)

    assert len(state.calls) == 1  # continuous batching: one call for the whole list
    conversations, params = state.calls[0]
    assert len(conversations) == len(params) == 3
    for conversation, prompt in zip(conversations, prompts, strict=True):
        assert conversation[0] == {
            "role": "system",
            "content": [{"type": "text", "text": "Be brief."}],
        }
        assert [p["type"] for p in conversation[1]["content"]] == ["text", "image_pil"]
        assert conversation[1]["content"][0]["text"] == prompt
        image = conversation[1]["content"][1]["image_pil"]
        assert isinstance(image, Image.Image) and image.width * image.height <= 6000
    for param, sample in zip(params, choices, strict=True):
        assert param.kwargs["temperature"] == 0.0 and param.kwargs["max_tokens"] == 4
        if sample is None:
            assert api not in param.kwargs
        else:
            assert isinstance(param.kwargs[api], state.choice_class)
            assert param.kwargs[api].choice == sample
        other = next(field for field in CLASS_NAMES if field != api)
        assert other not in param.kwargs

    assert [g.error for g in got] == [None, None, None]
    assert got[0].text.startswith("first?|")  # stripped
    sizes = [c[1]["content"][1]["image_pil"].size for c in conversations]
    assert [g.text for g in got] == [
        f"{p}|{w}x{h}" for p, (w, h) in zip(prompts, sizes, strict=True)
    ]
    assert [g.tokens_in for g in got] == [20 + len(p) for p in prompts]
    assert [g.tokens_out for g in got] == [3, 3, 3]
    assert all(g.latency_s is not None and g.latency_s >= 0 for g in got)


def test_pil_images_are_passed_without_copies(monkeypatch):
    state = install_fake_vllm(monkeypatch)
    backend = VLLMBackend({"checkpoint": "m"})
    backend.generate(list(IMAGES), ["a", "b", "c"], max_new_tokens=2)
    conversations, params = state.calls[0]
    # No max_pixels and RGB input: the very same objects, image first by default, no system turn.
    assert [c[0]["content"][0]["image_pil"] for c in conversations] == IMAGES
    assert all(
        c[0]["content"][0]["image_pil"] is img for c, img in zip(conversations, IMAGES, strict=True)
    )
    assert all(len(c) == 1 and c[0]["role"] == "user" for c in conversations)
    assert all(set(p.kwargs) == {"temperature", "max_tokens"} for p in params)


def test_without_constraint_api_choices_are_ignored(monkeypatch, caplog):
    state = install_fake_vllm(monkeypatch, api=None)
    backend = VLLMBackend({"checkpoint": "m"})
    assert backend.info()["choice_constraint"] is None
    with caplog.at_level(logging.WARNING):
        got = backend.generate(IMAGES[:2], ["a", "b"], max_new_tokens=2, choices=[["x"], ["y"]])
        backend.generate(IMAGES[:1], ["c"], max_new_tokens=2, choices=[["x"]])
    assert [g.error for g in got] == [None, None]
    assert all(set(p.kwargs) == {"temperature", "max_tokens"} for p in state.calls[0][1])
    assert caplog.text.count("no choice constraint") == 1


def test_failing_requests_are_isolated(monkeypatch):
    state = install_fake_vllm(monkeypatch)
    backend = VLLMBackend({"checkpoint": "m"})
    prompts = ["a", "BAD b", "c", "d", "e", "BAD f", "g", "h"]
    images = [IMAGES[i % 3] for i in range(len(prompts))]
    got = backend.generate(images, prompts, max_new_tokens=2)
    assert [g.text is None for g in got] == ["BAD" in p for p in prompts]
    assert got[1].error.startswith("ValueError: prompt 'BAD b' is longer than max_model_len")
    assert [g.text.split("|")[0] for g in got if g.text] == [p for p in prompts if "BAD" not in p]
    assert len(state.calls) <= 2 * len(prompts)  # bisection, bounded


def test_bad_choices_and_bad_images_are_per_sample_errors(monkeypatch):
    install_fake_vllm(monkeypatch)
    backend = VLLMBackend({"checkpoint": "m"})
    got = backend.generate(
        [IMAGES[0], IMAGES[1], "not an image"],  # type: ignore[list-item]
        ["a", "b", "c"],
        max_new_tokens=2,
        choices=[["x"], [], None],
    )
    assert got[0].error is None
    assert got[1].text is None and got[1].error == "ValueError: choice must not be empty"
    assert got[2].text is None and got[2].error.startswith("TypeError")
    assert backend.generate([], [], max_new_tokens=2) == []
    with pytest.raises(ValueError):
        backend.generate(IMAGES[:1], ["a", "b"], max_new_tokens=2)


def test_dead_engine_fails_everything_at_once(monkeypatch):
    state = install_fake_vllm(monkeypatch, dead=True)
    backend = VLLMBackend({"checkpoint": "m"})
    got = backend.generate(list(IMAGES), ["a", "b", "c"], max_new_tokens=2)
    assert [g.error for g in got] == ["EngineDeadError: engine died"] * 3
    assert len(state.calls) == 1


def test_to_generation_edge_cases():
    done = types.SimpleNamespace(text=" yes ", token_ids=(1, 2), finish_reason="stop")
    full = to_generation(types.SimpleNamespace(prompt_token_ids=[1] * 9, outputs=[done]), 0.5)
    assert (full.text, full.tokens_in, full.tokens_out, full.latency_s) == ("yes", 9, 2, 0.5)
    no_ids = to_generation(types.SimpleNamespace(prompt_token_ids=None, outputs=[done]))
    assert no_ids.text == "yes" and no_ids.tokens_in is None
    assert to_generation(types.SimpleNamespace(outputs=[])).error.startswith("EmptyOutput")
    aborted = types.SimpleNamespace(text="", token_ids=[], finish_reason="abort")
    assert to_generation(types.SimpleNamespace(outputs=[aborted])).error.startswith("Aborted")
    no_text = types.SimpleNamespace(text=None, token_ids=[], finish_reason="length")
    result = to_generation(types.SimpleNamespace(outputs=[no_text]))
    assert result.text is None and "finish_reason=length" in result.error


def test_pure_builders(monkeypatch):
    state = install_fake_vllm(monkeypatch, "guided_decoding")
    api = choice_api(state.module)
    assert api == ("guided_decoding", state.choice_class)
    conversations, params = build_requests(
        state.module, IMAGES[:2], ["p", "q"], max_tokens=3, choices=[["a"], None], api=api
    )
    assert conversations[0] == build_conversation(IMAGES[0], "p")
    assert params[0].kwargs["guided_decoding"].choice == ["a"]
    assert "guided_decoding" not in params[1].kwargs
    text_first = build_conversation(IMAGES[0], "p", system_prompt="s", image_first=False)
    assert [m["role"] for m in text_first] == ["system", "user"]
    assert [p["type"] for p in text_first[1]["content"]] == ["text", "image_pil"]


def test_missing_vllm_or_model_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(BackendError, match="needs the 'vllm' package"):
        VLLMBackend({"checkpoint": "m"})
    install_fake_vllm(monkeypatch)
    with pytest.raises(BackendError, match="needs a 'checkpoint'"):
        VLLMBackend({})
    with pytest.raises(BackendError, match=r"could not load 'missing-model'.*no such model"):
        VLLMBackend({"checkpoint": "missing-model"})


def test_load_backend_dispatches(monkeypatch):
    install_fake_vllm(monkeypatch)
    assert isinstance(load_backend({"backend": "vllm", "checkpoint": "m"}), VLLMBackend)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_config_names_model_and_missing_package():
    with pytest.raises(ConfigError) as caught:
        check_backend_installed("qwen2-vl-7b-vllm", "vllm", "config/models.yaml")
    assert "qwen2-vl-7b-vllm" in str(caught.value) and "'vllm'" in str(caught.value)


def test_registry_schema_accepts_vllm_entries():
    schema = yaml.safe_load(SCHEMA.read_text())
    entry = {
        "backend": "vllm",
        "checkpoint": "Qwen/Qwen2-VL-7B-Instruct",
        "revision": "main",
        "dtype": "bfloat16",
        "max_model_len": 8192,
        "mm_processor_kwargs": {"max_pixels": 200704},
        "tensor_parallel_size": 1,
        "gpu_memory_utilization": 0.85,
        "engine_kwargs": {"enforce_eager": False},
        "max_pixels": 200704,
        "resources": {"gpus": 1},
    }
    validate({"m": entry}, schema, "models.yaml")
    with pytest.raises(ConfigError, match="gpu_memory_utilization"):
        validate({"m": {**entry, "gpu_memory_utilization": 1.5}}, schema, "models.yaml")
    with pytest.raises(ConfigError, match="max_num_seqs"):
        validate({"m": {**entry, "max_num_seqs": 8}}, schema, "models.yaml")


# -- the real engine ------------------------------------------------------------------------------


def _real_engine_missing() -> str:
    """Why the real-engine test cannot run here ("" when it can)."""
    missing = []
    if importlib.util.find_spec("vllm") is None:
        missing.append("the vllm package (CUDA build, extra 'gpu') is not installed")
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    if not cuda:
        missing.append("no CUDA device is available")
    return "; ".join(missing)


REAL_ENGINE_MISSING = _real_engine_missing()


@pytest.mark.gpu
@pytest.mark.skipif(bool(REAL_ENGINE_MISSING), reason=f"real vLLM run: {REAL_ENGINE_MISSING}")
def test_real_vllm_runs_a_tiny_model(tmp_path):
    from classbench.demo import build_tiny_model

    model = build_tiny_model("qwen2_vl", tmp_path / "model", seed=0)
    backend = VLLMBackend(
        {
            "checkpoint": str(model),
            "dtype": "bfloat16",
            "max_model_len": 512,
            "gpu_memory_utilization": 0.2,
            "seed": 0,
            "max_pixels": 12544,
            "engine_kwargs": {"enforce_eager": True},
        }
    )
    try:
        prompts = ["What is in this picture?", "Name the object.", "Which class is it?"]
        free = backend.generate(list(IMAGES), prompts, max_new_tokens=4)
        assert [g.error for g in free] == [None] * 3
        assert all(isinstance(g.text, str) and g.tokens_in > 0 for g in free)
        assert all(1 <= g.tokens_out <= 4 for g in free)
        options = [["cat", "dog"], ["red", "blue"], ["A", "B"]]
        constrained = backend.generate(list(IMAGES), prompts, max_new_tokens=4, choices=options)
        assert [g.text in o for g, o in zip(constrained, options, strict=True)] == [True] * 3
    finally:
        backend.close()
