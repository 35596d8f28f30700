"""Random-weight Qwen2-VL checkpoints of any size, built through the real transformers classes.

The benchmarks need models larger than the test suite's tiny ones (CPU batching) and the
published sizes (GPU throughput) without downloading weights. The architecture and the
image processor settings are the published ones; the tokenizer is classbench's small offline BPE
(``classbench.demo``), and the embedding table keeps the published vocabulary size so that the
parameter count and the FLOPs are those of the real model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# Published configurations (config.json of Qwen/Qwen2-VL-2B-Instruct and -7B-Instruct).
QWEN2_VL_SIZES: dict[str, dict[str, Any]] = {
    "qwen2-vl-2b": {
        "text": {
            "hidden_size": 1536,
            "intermediate_size": 8960,
            "num_hidden_layers": 28,
            "num_attention_heads": 12,
            "num_key_value_heads": 2,
            "head_dim": 128,
            "vocab_size": 151936,
            "tie_word_embeddings": True,
            "max_position_embeddings": 32768,
            "rms_norm_eps": 1e-6,
            "mrope_section": [16, 24, 24],
        },
        "vision": {
            "depth": 32,
            "embed_dim": 1280,
            "hidden_size": 1536,
            "mlp_ratio": 4,
            "num_heads": 16,
        },
    },
    "qwen2-vl-7b": {
        "text": {
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "head_dim": 128,
            "vocab_size": 152064,
            "tie_word_embeddings": False,
            "max_position_embeddings": 32768,
            "rms_norm_eps": 1e-6,
            "mrope_section": [16, 24, 24],
        },
        "vision": {
            "depth": 32,
            "embed_dim": 1280,
            "hidden_size": 3584,
            "mlp_ratio": 4,
            "num_heads": 16,
        },
    },
    # A small model for CPU benchmarks: 4 x 256 decoder, 4 x 128 vision tower (~5M parameters).
    "qwen2-vl-small": {
        "text": {
            "hidden_size": 256,
            "intermediate_size": 1024,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 64,
            "vocab_size": None,  # the tokenizer's
            "tie_word_embeddings": False,
            "max_position_embeddings": 4096,
            "rms_norm_eps": 1e-6,
            "mrope_section": [8, 12, 12],
        },
        "vision": {
            "depth": 4,
            "embed_dim": 128,
            "hidden_size": 256,
            "mlp_ratio": 2,
            "num_heads": 4,
        },
    },
    # The architecture at toy scale with the 2B model's vocabulary: checks the whole path on CPU.
    "qwen2-vl-dryrun": {
        "text": {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "vocab_size": 151936,
            "tie_word_embeddings": True,
            "max_position_embeddings": 4096,
            "rms_norm_eps": 1e-6,
            "mrope_section": [2, 3, 3],
        },
        "vision": {"depth": 2, "embed_dim": 32, "hidden_size": 64, "mlp_ratio": 2, "num_heads": 2},
    },
}

# The pixel budget of published Qwen2-VL classifier deployments: 4..256 tokens of 28x28 px.
MIN_PIXELS = 4 * 28 * 28
MAX_PIXELS = 256 * 28 * 28


def qwen2_vl_config(size: str | dict[str, Any], tokenizer: Any) -> Any:
    """A ``Qwen2VLConfig`` of a named size (or a dict like :data:`QWEN2_VL_SIZES` values)."""
    import transformers as tf

    from classbench.demo import special_token_ids

    sizes = QWEN2_VL_SIZES[size] if isinstance(size, str) else size
    text = dict(sizes["text"])
    mrope = text.pop("mrope_section")
    if 2 * sum(mrope) != text["head_dim"]:
        raise ValueError(f"mrope_section {mrope} must sum to head_dim / 2")
    if text.get("vocab_size") is None:
        text["vocab_size"] = len(tokenizer)
    ids = special_token_ids(tokenizer)
    start, end, image, video = tokenizer.convert_tokens_to_ids(
        ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    )
    text_config = {
        "model_type": "qwen2_vl_text",
        **text,
        **ids,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 1_000_000.0,
            "mrope_section": mrope,
        },
    }
    vision = {"patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2}
    vision.update(sizes["vision"])
    return tf.Qwen2VLConfig(
        text_config=text_config,
        vision_config=vision,
        image_token_id=image,
        video_token_id=video,
        vision_start_token_id=start,
        vision_end_token_id=end,
        tie_word_embeddings=text["tie_word_embeddings"],
        **ids,
    )


def qwen2_vl_processor(
    tokenizer: Any, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS
) -> Any:
    """The Qwen2-VL processor (patch 14, merge 2) with the given pixel budget."""
    import transformers as tf

    from classbench.demo import QWEN_TEMPLATE

    pixels = {"min_pixels": min_pixels, "max_pixels": max_pixels}
    return tf.Qwen2VLProcessor(
        image_processor=tf.Qwen2VLImageProcessor(**pixels),
        tokenizer=tokenizer,
        video_processor=tf.Qwen2VLVideoProcessor(**pixels),
        chat_template=QWEN_TEMPLATE,
    )


def qwen2_vl_tokenizer() -> Any:
    """classbench's offline byte-level BPE with the Qwen special tokens and chat template."""
    from classbench.demo import qwen_tokenizer

    return qwen_tokenizer()


def build_qwen2_vl(
    size: str | dict[str, Any],
    out_dir: str | os.PathLike,
    *,
    min_pixels: int = MIN_PIXELS,
    max_pixels: int = MAX_PIXELS,
    dtype: Any = None,
    device: str = "cpu",
    seed: int = 0,
) -> Path:
    """Build a random-weight Qwen2-VL of ``size`` and save model + processor to ``out_dir``.

    ``device="cuda"`` initialises the weights on the GPU (a 7B model in seconds instead of
    minutes on the CPU); ``dtype`` (a torch dtype) is the dtype the weights are saved in.
    """
    import torch
    import transformers as tf
    from transformers.utils import logging as hf_logging

    from classbench.demo import configure_generation

    tokenizer = qwen2_vl_tokenizer()
    config = qwen2_vl_config(size, tokenizer)
    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    try:
        if dtype is not None:
            torch.set_default_dtype(dtype)
        with torch.device(device):
            model = tf.Qwen2VLForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    configure_generation(model, tokenizer)
    model.eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model.save_pretrained(out)
        qwen2_vl_processor(tokenizer, min_pixels, max_pixels).save_pretrained(out)
    finally:
        hf_logging.set_verbosity(verbosity)
    del model
    return out


def count_parameters(size: str | dict[str, Any], vocab_size: int | None = None) -> dict[str, int]:
    """Parameters of the vision tower, the decoder (without embeddings) and the embeddings,
    computed from the configuration (no model is built); ``vocab_size`` where the size leaves
    it to the tokenizer."""
    sizes = QWEN2_VL_SIZES[size] if isinstance(size, str) else size
    t, v = sizes["text"], sizes["vision"]
    h, inter, layers = t["hidden_size"], t["intermediate_size"], t["num_hidden_layers"]
    head, kv = t["head_dim"], t["num_key_value_heads"]
    q_dim, kv_dim = t["num_attention_heads"] * head, kv * head
    attention = h * q_dim + q_dim + 2 * (h * kv_dim + kv_dim) + q_dim * h  # q,k,v with bias; o
    mlp = 3 * h * inter
    decoder = layers * (attention + mlp + 2 * h) + h
    vocab = t["vocab_size"] or vocab_size or 0
    embeddings = vocab * h * (1 if t["tie_word_embeddings"] else 2)
    e, depth, ratio = v["embed_dim"], v["depth"], v["mlp_ratio"]
    block = (3 * e * e + 3 * e) + (e * e + e) + 2 * (e * e * ratio) + e * ratio + e + 4 * e
    merged = e * 4  # 2x2 merge
    merger = 2 * e + merged * merged + merged + merged * v["hidden_size"] + v["hidden_size"]
    vision = 3 * 2 * 14 * 14 * e + depth * block + merger
    return {"vision": vision, "decoder": decoder, "embeddings": embeddings}
