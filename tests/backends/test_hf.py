"""HFBackend on tiny random models of every supported family (offline, CPU)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from classbench.backends.base import BackendError
from classbench.backends.hf import HFBackend, build_messages, prepare_image
from classbench.demo import VLM_FAMILIES, build_tiny_model

MAX_NEW = 6
SIZES = [(100, 120), (230, 170), (64, 64)]
PROMPTS = [
    "What is in this picture?",
    "Name the object.",
    "Look closely at the image and answer with a single word: which class does it show?",
]


def noise_image(width: int, height: int, seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


IMAGES = [noise_image(w, h, seed) for seed, (w, h) in enumerate(SIZES)]


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    """Builds each family's tiny model at most once per module."""
    paths = {}

    def get(family: str):
        if family not in paths:
            paths[family] = build_tiny_model(family, tmp_path_factory.mktemp(family) / "model")
        return paths[family]

    return get


@pytest.fixture(scope="module", params=VLM_FAMILIES)
def backend(request, tiny_path):
    hf = HFBackend({"checkpoint": str(tiny_path(request.param)), "batch_size": 3})
    yield hf
    hf.close()


@pytest.fixture
def qwen(tiny_path):
    """A separate backend for the family-independent tests."""
    hf = HFBackend({"checkpoint": str(tiny_path("qwen2_vl")), "batch_size": 3})
    yield hf
    hf.close()


@pytest.fixture
def fresh(backend):
    """The module's backend with its defaults restored after the test."""
    saved = (backend.batch_size, backend.max_pixels, backend.system_prompt, backend.image_first)
    yield backend
    backend.batch_size, backend.max_pixels, backend.system_prompt, backend.image_first = saved


def run(backend: HFBackend, batch_size: int, images=IMAGES, prompts=PROMPTS):
    backend.batch_size = batch_size
    return backend.generate(list(images), list(prompts), max_new_tokens=MAX_NEW)


def summary(generations):
    return [(g.text, g.error, g.tokens_in, g.tokens_out) for g in generations]


def test_batched_equals_single(fresh):
    singles = [
        run(fresh, 1, [img], [prompt])[0] for img, prompt in zip(IMAGES, PROMPTS, strict=True)
    ]
    assert all(g.error is None and g.text is not None for g in singles), summary(singles)
    # Different prompt lengths: left padding is really exercised.
    assert len({g.tokens_in for g in singles}) > 1
    for g in singles:
        assert 1 <= g.tokens_out <= MAX_NEW and g.latency_s > 0
    # Batch of 3 (one batch) and of 2 (length-sorted batches): same answers, input order.
    assert summary(run(fresh, 3)) == summary(singles)
    assert summary(run(fresh, 2)) == summary(singles)


def test_tokens_out_stops_at_eos(fresh, monkeypatch):
    # Make the third token greedy decoding picks for the first sample the EOS token.
    inputs = fresh._encode([fresh.render_prompt(PROMPTS[0])], [IMAGES[0]])
    with torch.inference_mode():
        output = fresh.model.generate(**inputs, max_new_tokens=MAX_NEW, **fresh.generation)
    row = output[0, inputs["input_ids"].shape[1] :].tolist()
    eos = row[2]
    monkeypatch.setitem(fresh.generation, "eos_token_id", eos)
    singles = [
        run(fresh, 1, [img], [prompt])[0] for img, prompt in zip(IMAGES, PROMPTS, strict=True)
    ]
    assert singles[0].tokens_out == row.index(eos) + 1
    assert summary(run(fresh, 3)) == summary(singles)


def test_prompt_rendering(fresh):
    first = fresh.render_prompt("PROMPT_TEXT")
    fresh.image_first = False
    last = fresh.render_prompt("PROMPT_TEXT")
    assert first != last
    assert "PROMPT_TEXT" in first and "PROMPT_TEXT" in last
    fresh.system_prompt = "SYSTEM_TEXT"
    with_system = fresh.render_prompt("PROMPT_TEXT")
    assert "SYSTEM_TEXT" in with_system
    assert with_system.index("SYSTEM_TEXT") < with_system.index("PROMPT_TEXT")
    # The rendered prompt still generates (system turn accepted by the template).
    [generation] = run(fresh, 1, IMAGES[:1], PROMPTS[:1])
    assert generation.error is None


def test_bad_sample_fails_alone(fresh, monkeypatch):
    expected = summary(run(fresh, 3))
    # Not an image at all: rejected before batching.
    images = [IMAGES[0], "not an image", IMAGES[2]]
    got = run(fresh, 3, images)
    assert got[1].text is None and got[1].error.startswith("TypeError:")
    assert summary([got[0], got[2]]) == [expected[0], expected[2]]

    # An image the processor chokes on: the batch fails, the retry isolates it.
    processor_call = type(fresh.processor).__call__

    def picky(self, *args, images=None, **kwargs):
        if images and any(im.size == (64, 64) for group in images for im in group):
            raise ValueError("cannot process 64x64")
        return processor_call(self, *args, images=images, **kwargs)

    monkeypatch.setattr(type(fresh.processor), "__call__", picky)
    got = run(fresh, 3)
    assert got[2].error == "ValueError: cannot process 64x64"
    assert summary(got[:2]) == expected[:2]


def test_batch_failure_falls_back_to_single(qwen, monkeypatch):
    expected = summary(run(qwen, 3))
    generate = qwen.model.generate

    def no_batches(**kwargs):
        if kwargs["input_ids"].shape[0] > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return generate(**kwargs)

    monkeypatch.setattr(qwen.model, "generate", no_batches)
    assert summary(run(qwen, 3)) == expected


def test_max_pixels(qwen, monkeypatch):
    big = IMAGES[1]
    small = prepare_image(big, 64 * 64)
    assert small.width * small.height <= 64 * 64
    assert math.isclose(small.width / small.height, big.width / big.height, rel_tol=0.05)
    assert prepare_image(big, None) is big
    assert prepare_image(big, 10**6) is big

    seen = []
    encode = qwen._encode
    monkeypatch.setattr(
        qwen, "_encode", lambda texts, images: seen.extend(images) or encode(texts, images)
    )
    full = run(qwen, 3)
    seen.clear()
    qwen.max_pixels = 64 * 64
    budget = run(qwen, 3)
    assert [im.size for im in seen] == sorted(
        [prepare_image(im, 64 * 64).size for im in IMAGES], key=lambda s: s[0] * s[1]
    )
    # Qwen2-VL spends image tokens per pixel area: the downscaled large images cost fewer.
    assert budget[1].tokens_in < full[1].tokens_in
    assert budget[2].tokens_in == full[2].tokens_in  # 64x64 is within the budget already


def test_build_messages():
    messages = build_messages("hi", system_prompt="sys", image_first=False)
    assert messages[0] == {"role": "system", "content": [{"type": "text", "text": "sys"}]}
    assert [part["type"] for part in messages[1]["content"]] == ["text", "image"]
    assert len(build_messages("hi")) == 1


def test_quantization_needs_cuda(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    # Refused before anything is loaded: the checkpoint does not even exist.
    with pytest.raises(BackendError, match=r"quantization='4bit'.*CUDA"):
        HFBackend({"checkpoint": str(tmp_path / "missing"), "quantization": "4bit"})
    with pytest.raises(BackendError, match="quantization"):
        HFBackend({"checkpoint": str(tmp_path / "missing"), "quantization": "3bit"})
    with pytest.raises(BackendError, match="dtype"):
        HFBackend({"checkpoint": str(tmp_path / "missing"), "dtype": "float8"})


def test_info_and_close(qwen):
    info = qwen.info()
    assert info["dtype"] == "float32" and info["device"] == "cpu"
    assert info["generation"]["do_sample"] is False
    assert info["model_class"].endswith("ForConditionalGeneration")
    for key in ("checkpoint", "revision", "attn_implementation", "quantization", "max_pixels"):
        assert key in info
    assert info["transformers_version"] and info["torch_version"]
    assert info["checkpoint"] == qwen.checkpoint and info["batch_size"] == 3
    qwen.close()
    assert qwen.model is None
    qwen.close()  # idempotent


def test_score_options(fresh):
    options = ["cat", "a dog", "airplane"]
    fresh.batch_size = 3
    batched = fresh.score_options(IMAGES[:2], PROMPTS[:2], [options, options[:2]])
    fresh.batch_size = 1
    single = fresh.score_options(IMAGES[:2], PROMPTS[:2], [options, options[:2]])
    assert [len(s) for s in batched] == [3, 2]
    for row_b, row_s in zip(batched, single, strict=True):
        for b, s in zip(row_b, row_s, strict=True):
            assert b < 0 and math.isfinite(b)
            assert b == pytest.approx(s, abs=1e-4)


def test_prompt_template_replaces_the_chat_template(tmp_path):
    """A plain template (for checkpoints without a chat template) reproduces the chat route
    when it spells the same text, and {image} becomes the processor's image token."""
    from classbench.backends.hf import HFBackend
    from classbench.demo import build_tiny_model

    model = build_tiny_model("llava", tmp_path / "llava", seed=0)
    chat = HFBackend({"checkpoint": str(model), "batch_size": 2})
    plain = HFBackend(
        {"checkpoint": str(model), "batch_size": 2, "prompt_template": "{image}|{prompt}|"}
    )
    rendered = plain.render_prompt("What is it?")
    assert rendered == f"{plain.processor.image_token}|What is it?|"
    assert chat.render_prompt("What is it?") != rendered
    images = [Image.new("RGB", (60, 40), "red"), Image.new("RGB", (40, 60), "blue")]
    answers = plain.generate(images, ["a", "bb"], max_new_tokens=3)
    assert all(a.error is None and a.tokens_out == 3 for a in answers)


def test_a_follow_up_turn_is_rendered_after_the_earlier_answers(fresh):
    """Every family's chat template takes the multi-turn conversation: one image (in the first
    turn), the earlier answers as assistant turns, and the follow-up last; it generates."""
    from classbench.backends.base import FollowUp

    turn = FollowUp("FINAL_TURN", [("FIRST_TURN", "FIRST_ANSWER"), ("SECOND", "SECOND_ANSWER")])
    rendered = fresh.render_prompt(turn)
    positions = [rendered.index(t) for t in ("FIRST_TURN", "FIRST_ANSWER", "SECOND_ANSWER",
                                             "FINAL_TURN")]  # fmt: skip
    assert positions == sorted(positions)
    assert rendered.count("FINAL_TURN") == 1
    [single] = fresh.generate(IMAGES[:1], [turn], max_new_tokens=MAX_NEW)
    assert single.error is None and single.tokens_out >= 1


def test_a_plain_prompt_template_cannot_hold_a_conversation(tmp_path):
    from classbench.backends.base import FollowUp

    model = build_tiny_model("llava", tmp_path / "llava", seed=0)
    plain = HFBackend({"checkpoint": str(model), "prompt_template": "{image}{prompt}"})
    [answer] = plain.generate(IMAGES[:1], [FollowUp("Next?", [("First?", "A.")])],
                              max_new_tokens=2)  # fmt: skip
    assert answer.text is None and "chat template" in answer.error


def test_shuffled_batches_answer_in_input_order(qwen):
    expected = summary(run(qwen, 1))
    qwen.batch_order = "shuffled"
    try:
        assert summary(run(qwen, 2)) == expected
    finally:
        qwen.batch_order = "sorted"
    assert qwen.info()["batch_order"] == "sorted"
    with pytest.raises(BackendError, match="batch_order"):
        HFBackend({"checkpoint": "unused", "batch_order": "random"})
