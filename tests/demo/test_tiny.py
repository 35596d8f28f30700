"""Tiny offline models: every family builds, reloads through the Auto classes and generates."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path

import pytest
import torch
from PIL import Image

from classbench.demo import (
    CLASSIFIER_FAMILIES,
    CONTRASTIVE_FAMILIES,
    FAMILIES,
    NLI_FAMILIES,
    TEXT_FAMILIES,
    VLM_FAMILIES,
    build_tiny_model,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {family: build_tiny_model(family, root / family) for family in FAMILIES}


def _images() -> list[Image.Image]:
    # Different sizes and aspect ratios so tiling / dynamic resolution give different counts.
    return [
        Image.new("RGB", (100, 120), (200, 40, 40)),
        Image.new("RGB", (230, 170), (40, 40, 200)),
    ]


def test_family_lists() -> None:
    assert set(FAMILIES) == (
        set(VLM_FAMILIES)
        | set(CONTRASTIVE_FAMILIES)
        | set(TEXT_FAMILIES)
        | set(NLI_FAMILIES)
        | set(CLASSIFIER_FAMILIES)
    )
    assert len(FAMILIES) == len(set(FAMILIES)) == 15


def test_unknown_family(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown tiny model family"):
        build_tiny_model("gpt5", tmp_path / "x")


@pytest.mark.parametrize("family", FAMILIES)
def test_saved_files_are_small(built: dict[str, Path], family: str) -> None:
    files = {p.name: p.stat().st_size for p in built[family].iterdir()}
    # Image classifiers read no text: an image processor instead of a tokenizer.
    text = "preprocessor_config.json" if family in CLASSIFIER_FAMILIES else "tokenizer.json"
    assert {"config.json", "model.safetensors", text} <= set(files)
    assert sum(files.values()) < 1_500_000
    assert not [p for p in built[family].parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("family", VLM_FAMILIES)
def test_vlm_reloads_and_generates(built: dict[str, Path], family: str) -> None:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(built[family])
    processor.tokenizer.padding_side = "left"
    model = AutoModelForImageTextToText.from_pretrained(built[family]).eval()
    assert model.generation_config.do_sample is False
    assert not model.config.get_text_config().tie_word_embeddings
    vocab = len(processor.tokenizer)
    assert model.get_input_embeddings().num_embeddings == vocab
    conversations = [
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]}],
        [
            {"role": "system", "content": "Answer with one word."},
            {
                "role": "user",
                "content": [{"type": "text", "text": "Which class?"}, {"type": "image"}],
            },
        ],
    ]
    texts = [
        processor.apply_chat_template(c, add_generation_prompt=True, tokenize=False)
        for c in conversations
    ]
    inputs = processor(
        text=texts, images=[[im] for im in _images()], padding=True, return_tensors="pt"
    )
    assert (inputs["attention_mask"][:, 0] == 0).any(), "prompts should differ in length"
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    new = out[:, inputs["input_ids"].shape[1] :]
    assert new.shape[0] == 2 and 1 <= new.shape[1] <= 4
    assert int(new.max()) < vocab
    assert all(isinstance(t, str) for t in processor.batch_decode(new, skip_special_tokens=True))


def _render(processor, content, system: str | None = None, gen: bool = True) -> str:
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": content})
    return processor.apply_chat_template(messages, add_generation_prompt=gen, tokenize=False)


# What each family's chat template emits for an image (the processor expands it).
_PLACEHOLDER = {
    "qwen2_vl": "<|vision_start|><|image_pad|><|vision_end|>",
    "qwen2_5_vl": "<|vision_start|><|image_pad|><|vision_end|>",
    "llava": "<image>",
    "llava_next": "<image>",
    "llava_onevision": "<image>",
    "idefics3": "<image>",
    "smolvlm": "<image>",
    "internvl": "<IMG_CONTEXT>",
    "gemma3": "<start_of_image>",
}


@pytest.mark.parametrize("family", VLM_FAMILIES)
def test_chat_template_places_image_where_it_is(built: dict[str, Path], family: str) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(built[family])
    marker = _PLACEHOLDER[family]
    image, text = {"type": "image"}, {"type": "text", "text": "QUESTION"}
    before = _render(processor, [image, text])
    after = _render(processor, [text, image])
    assert before.count(marker) == after.count(marker) == 1
    assert before.index(marker) < before.index("QUESTION")
    assert after.index("QUESTION") < after.index(marker)
    assert marker not in _render(processor, "QUESTION")
    assert _render(processor, [text]) == _render(processor, "QUESTION")
    with_system = _render(processor, "QUESTION", system="SYSTEM")
    assert with_system.index("SYSTEM") < with_system.index("QUESTION")
    prompt, no_prompt = _render(processor, "QUESTION"), _render(processor, "QUESTION", gen=False)
    assert prompt.startswith(no_prompt)
    # The Mistral format of LLaVA-NeXT has no generation prompt: "[/INST]" ends the user turn.
    assert (prompt == no_prompt) == (family == "llava_next")


def test_weights_are_deterministic(tmp_path: Path) -> None:
    a = build_tiny_model("llava", tmp_path / "a", seed=0)
    b = build_tiny_model("llava", tmp_path / "b", seed=0)
    c = build_tiny_model("llava", tmp_path / "c", seed=1)
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "model.safetensors").read_bytes() != (c / "model.safetensors").read_bytes()


def test_rebuild_replaces_existing_model(tmp_path: Path) -> None:
    out = tmp_path / "m"
    build_tiny_model("qwen2_judge", out, seed=0)
    first = (out / "model.safetensors").read_bytes()
    (out / "stale.txt").write_text("left over")
    assert build_tiny_model("qwen2_judge", out, seed=1) == out
    assert (out / "model.safetensors").read_bytes() != first
    assert not (out / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


@pytest.mark.parametrize("family", CONTRASTIVE_FAMILIES)
def test_contrastive_reloads(built: dict[str, Path], family: str) -> None:
    from transformers import AutoModel, AutoProcessor

    processor = AutoProcessor.from_pretrained(built[family])
    model = AutoModel.from_pretrained(built[family]).eval()
    padding = "max_length" if family == "siglip" else True
    inputs = processor(
        text=["a cat", "a red circle"], images=_images(), padding=padding, return_tensors="pt"
    )
    with torch.inference_mode():
        out = model(**inputs)
    assert tuple(out.logits_per_image.shape) == (2, 2)
    if family == "siglip":
        assert inputs["input_ids"].shape[1] == 64


def test_judge_chat(built: dict[str, Path]) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(built["qwen2_judge"], padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(built["qwen2_judge"]).eval()
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    messages = [
        {"role": "system", "content": "You are a strict judge."},
        {"role": "user", "content": "Is a tabby cat a cat? Answer yes or no."},
    ]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert prompt.startswith("<|im_start|>system\nYou are a strict judge.<|im_end|>\n")
    assert prompt.endswith("<|im_start|>assistant\n")
    inputs = tokenizer([prompt], return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=6)
    text = tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert isinstance(text, str)
    # Untied embeddings: a random model should not collapse onto a single repeated token.
    assert len(set(out[0, inputs["input_ids"].shape[1] :].tolist())) > 1
