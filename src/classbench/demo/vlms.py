"""Tiny vision-language models, loaded by ``AutoProcessor`` + ``AutoModelForImageTextToText``.

Each family has its real checkpoint's special tokens, chat template, image placeholder expansion
and processor, at tiny sizes (56 px tiles, 4 to 16 image tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from classbench.demo.chat_templates import (
    GEMMA3_TEMPLATE,
    INTERNVL_TEMPLATE,
    LLAVA_NEXT_TEMPLATE,
    LLAVA_TEMPLATE,
    ONEVISION_TEMPLATE,
    QWEN_TEMPLATE,
    idefics_template,
)
from classbench.demo.common import (
    IMAGE_SIZE,
    TINY_VISION,
    Built,
    configure_generation,
    text_config,
)
from classbench.demo.tokenizer import special_token_ids, token_ids, train_tokenizer

_QWEN_SPECIAL = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)


def qwen_tokenizer() -> Any:
    """The Qwen VLMs' tokenizer: the Qwen special tokens and chat template on the tiny BPE."""
    return train_tokenizer(
        _QWEN_SPECIAL,
        bos=None,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        named={"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"},
        chat_template=QWEN_TEMPLATE,
    )


_QWEN_VISION = {"patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "depth": 2}
# 56x56 .. 112x112 pixels -> 4 .. 16 image tokens after the 2x2 merge.
_QWEN_MIN_PIXELS, _QWEN_MAX_PIXELS = IMAGE_SIZE * IMAGE_SIZE, 2 * IMAGE_SIZE * 2 * IMAGE_SIZE


def _qwen_config(tok: Any, version: str, vision: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of a Qwen2-VL / Qwen2.5-VL config, given its vision tower."""
    start, end, image, video = token_ids(
        tok, "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"
    )
    # mrope sections (temporal, height, width) must sum to head_dim / 2.
    rope = {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": [2, 3, 3]}
    text = text_config(version, tok, rope_parameters=rope)
    text["model_type"] = f"{version}_text"
    return {
        "text_config": text,
        "vision_config": {**_QWEN_VISION, **vision},
        "image_token_id": image,
        "video_token_id": video,
        "vision_start_token_id": start,
        "vision_end_token_id": end,
        "tie_word_embeddings": False,
        **special_token_ids(tok),
    }


def _qwen_processor(processor_class: Any, tok: Any) -> Any:
    """A Qwen2-VL-family processor at the demo's image budget."""
    import transformers as tf

    pixels: dict[str, Any] = {"min_pixels": _QWEN_MIN_PIXELS, "max_pixels": _QWEN_MAX_PIXELS}
    return processor_class(
        image_processor=tf.Qwen2VLImageProcessor(**pixels),
        tokenizer=tok,
        video_processor=tf.Qwen2VLVideoProcessor(**pixels),
        chat_template=QWEN_TEMPLATE,
    )


def _qwen2_vl() -> Built:
    import transformers as tf

    tok = qwen_tokenizer()
    vision = {"embed_dim": 32, "hidden_size": 64, "mlp_ratio": 2, "num_heads": 2}
    config = tf.Qwen2VLConfig(**_qwen_config(tok, "qwen2_vl", vision))
    processor = _qwen_processor(tf.Qwen2VLProcessor, tok)
    return configure_generation(tf.Qwen2VLForConditionalGeneration(config), tok), processor


def _qwen2_5_vl() -> Built:
    import transformers as tf

    tok = qwen_tokenizer()
    vision = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "out_hidden_size": 64,
        "window_size": 56,
        "fullatt_block_indexes": [1],
    }
    config = tf.Qwen2_5_VLConfig(**_qwen_config(tok, "qwen2_5_vl", vision))
    processor = _qwen_processor(tf.Qwen2_5_VLProcessor, tok)
    return configure_generation(tf.Qwen2_5_VLForConditionalGeneration(config), tok), processor


_LLAVA_SPECIAL = ("<unk>", "<s>", "</s>", "<pad>", "<image>", "[INST]", "[/INST]")


def _llava_tokenizer(template: str) -> Any:
    return train_tokenizer(
        _LLAVA_SPECIAL,
        bos="<s>",
        eos="</s>",
        pad="<pad>",
        unk="<unk>",
        named={"image_token": "<image>"},
        chat_template=template,
    )


def _clip_vision() -> dict[str, Any]:
    return {"model_type": "clip_vision_model", **TINY_VISION}


def _llava_parts(template: str) -> tuple[Any, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The tokenizer and the config, processor and image-processor keywords LLaVA-1.5 and
    LLaVA-NeXT share (a CLIP vision tower, a Llama text model, 56 px crops)."""
    tok = _llava_tokenizer(template)
    config = {
        "vision_config": _clip_vision(),
        "text_config": text_config("llama", tok),
        "image_token_index": tok.convert_tokens_to_ids("<image>"),
        "vision_feature_layer": -2,
        "vision_feature_select_strategy": "default",
        "tie_word_embeddings": False,
        **special_token_ids(tok),
    }
    processor = {
        "tokenizer": tok,
        "patch_size": 14,
        "vision_feature_select_strategy": "default",
        "num_additional_image_tokens": 1,
        "chat_template": template,
    }
    images = {
        "size": {"shortest_edge": IMAGE_SIZE},
        "crop_size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
    }
    return tok, config, processor, images


def _llava() -> Built:
    import transformers as tf

    tok, config, processor, images = _llava_parts(LLAVA_TEMPLATE)
    # (56 / 14)^2 = 16 patch tokens; the CLS token is dropped ("default" strategy).
    model = tf.LlavaForConditionalGeneration(tf.LlavaConfig(**config, image_seq_length=16))
    return configure_generation(model, tok), tf.LlavaProcessor(
        image_processor=tf.CLIPImageProcessor(**images), **processor
    )


def _llava_next() -> Built:
    import transformers as tf

    tok, config, processor, images = _llava_parts(LLAVA_NEXT_TEMPLATE)
    pinpoints = [[IMAGE_SIZE * a, IMAGE_SIZE * b] for a in (1, 2) for b in (1, 2)]
    model = tf.LlavaNextForConditionalGeneration(
        tf.LlavaNextConfig(**config, image_grid_pinpoints=pinpoints)
    )
    return configure_generation(model, tok), tf.LlavaNextProcessor(
        image_processor=tf.LlavaNextImageProcessor(**images, image_grid_pinpoints=pinpoints),
        **processor,
    )


def _llava_onevision() -> Built:
    import transformers as tf

    tok = train_tokenizer(
        ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"),
        bos=None,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        named={"image_token": "<image>", "video_token": "<video>"},
        chat_template=ONEVISION_TEMPLATE,
    )
    pinpoints = [[IMAGE_SIZE * a, IMAGE_SIZE * b] for a in (1, 2) for b in (1, 2)]
    vision = {"model_type": "siglip_vision_model", **TINY_VISION, "vision_use_head": False}
    config = tf.LlavaOnevisionConfig(
        vision_config=vision,
        text_config=text_config("qwen2", tok),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        video_token_index=tok.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_layer=-1,
        vision_feature_select_strategy="full",
        tie_word_embeddings=False,
        **special_token_ids(tok),
    )
    size = {"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    processor = tf.LlavaOnevisionProcessor(
        image_processor=tf.LlavaOnevisionImageProcessor(size=size, image_grid_pinpoints=pinpoints),
        tokenizer=tok,
        video_processor=tf.LlavaOnevisionVideoProcessor(size=size),
        num_image_tokens=16,
        vision_feature_select_strategy="full",
        vision_aspect_ratio="anyres_max_9",
        chat_template=ONEVISION_TEMPLATE,
    )
    return configure_generation(tf.LlavaOnevisionForConditionalGeneration(config), tok), processor


_ROW_COL = tuple(f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7))


def _idefics_parts(smol: bool) -> tuple[Any, str, dict[str, Any]]:
    """The tokenizer, chat template and config keywords Idefics3 and SmolVLM share."""
    special: tuple[str, ...]
    if smol:
        special = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<video>")
        bos, pad, prefix = "<|im_start|>", "<|im_end|>", "<|im_start|>"
    else:
        special = ("<|begin_of_text|>", "<|end_of_text|>")
        bos, pad, prefix = "<|begin_of_text|>", "<|end_of_text|>", "<|begin_of_text|>"
    special += ("<end_of_utterance>", "<fake_token_around_image>", "<image>", "<global-img>")
    template = idefics_template(prefix)
    named = {"image_token": "<image>"}
    if smol:
        named["video_token"] = "<video>"
    tok = train_tokenizer(
        special + _ROW_COL,
        bos=bos,
        eos="<end_of_utterance>",
        pad=pad,
        named=named,
        chat_template=template,
    )
    # image_seq_len = (56 / 14)^2 / scale_factor^2 = 4 tokens per 56 px tile.
    config = {
        "vision_config": {
            **TINY_VISION,
            "model_type": "smolvlm_vision" if smol else "idefics3_vision",
        },
        "text_config": text_config("llama", tok),
        "image_token_id": tok.convert_tokens_to_ids("<image>"),
        "scale_factor": 2,
        "tie_word_embeddings": False,
        **special_token_ids(tok),
    }
    return tok, template, config


# Images are resized to at most 112 px and split into 56 px tiles plus a global view.
_IDEFICS_IMAGES: dict[str, Any] = {
    "size": {"longest_edge": 2 * IMAGE_SIZE},
    "max_image_size": {"longest_edge": IMAGE_SIZE},
    "do_image_splitting": True,
}


def _idefics3() -> Built:
    import transformers as tf

    tok, template, config = _idefics_parts(smol=False)
    processor = tf.Idefics3Processor(
        image_processor=tf.Idefics3ImageProcessor(**_IDEFICS_IMAGES),
        tokenizer=tok,
        image_seq_len=4,
        chat_template=template,
    )
    model = tf.Idefics3ForConditionalGeneration(tf.Idefics3Config(**config))
    return configure_generation(model, tok), processor


def _smolvlm() -> Built:
    import transformers as tf

    tok, template, config = _idefics_parts(smol=True)
    processor = tf.SmolVLMProcessor(
        image_processor=tf.SmolVLMImageProcessor(**_IDEFICS_IMAGES),
        tokenizer=tok,
        video_processor=tf.SmolVLMVideoProcessor(
            size={"longest_edge": IMAGE_SIZE}, max_image_size={"longest_edge": IMAGE_SIZE}
        ),
        image_seq_len=4,
        chat_template=template,
    )
    model = tf.SmolVLMForConditionalGeneration(tf.SmolVLMConfig(**config))
    return configure_generation(model, tok), processor


def _internvl() -> Built:
    import transformers as tf

    tok = train_tokenizer(
        (
            "<|endoftext|>",
            "<|im_start|>",
            "<|im_end|>",
            "<img>",
            "</img>",
            "<IMG_CONTEXT>",
            "<video>",
        ),
        bos=None,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        named={
            "start_image_token": "<img>",
            "end_image_token": "</img>",
            "context_image_token": "<IMG_CONTEXT>",
            "video_token": "<video>",
        },
        chat_template=INTERNVL_TEMPLATE,
    )
    vision = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": [IMAGE_SIZE, IMAGE_SIZE],
        "patch_size": [14, 14],
    }
    # 16 patches per tile, pixel-shuffled by 0.5 -> 4 tokens per tile.
    config = tf.InternVLConfig(
        vision_config=vision,
        text_config=text_config("qwen2", tok),
        image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"),
        image_seq_length=4,
        downsample_ratio=0.5,
        tie_word_embeddings=False,
        **special_token_ids(tok),
    )
    size = {"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    processor = tf.InternVLProcessor(
        image_processor=tf.GotOcr2ImageProcessor(
            size=size, crop_to_patches=True, min_patches=1, max_patches=4
        ),
        tokenizer=tok,
        video_processor=tf.InternVLVideoProcessor(size=size),
        image_seq_length=4,
        chat_template=INTERNVL_TEMPLATE,
    )
    return configure_generation(tf.InternVLForConditionalGeneration(config), tok), processor


def _gemma3() -> Built:
    import transformers as tf

    tok = train_tokenizer(
        (
            "<pad>",
            "<eos>",
            "<bos>",
            "<unk>",
            "<start_of_turn>",
            "<end_of_turn>",
            "<start_of_image>",
            "<end_of_image>",
            "<image_soft_token>",
        ),
        bos="<bos>",
        eos="<eos>",
        pad="<pad>",
        unk="<unk>",
        named={
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": "<image_soft_token>",
        },
        chat_template=GEMMA3_TEMPLATE,
    )
    boi, eoi, image, end_of_turn = token_ids(
        tok, "<start_of_image>", "<end_of_image>", "<image_soft_token>", "<end_of_turn>"
    )
    # A sliding window longer than any prompt, so left padding cannot change what a token sees.
    text = text_config("gemma3_text", tok, sliding_window=4096)
    vision = {"model_type": "siglip_vision_model", **TINY_VISION}
    eos = [tok.eos_token_id, end_of_turn]
    config = tf.Gemma3Config(
        vision_config=vision,
        text_config=text,
        mm_tokens_per_image=4,  # a square number dividing the 4x4 patch grid
        boi_token_index=boi,
        eoi_token_index=eoi,
        image_token_index=image,
        tie_word_embeddings=False,
        **{**special_token_ids(tok), "eos_token_id": eos},
    )
    processor = tf.Gemma3Processor(
        image_processor=tf.Gemma3ImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}),
        tokenizer=tok,
        image_seq_length=4,
        chat_template=GEMMA3_TEMPLATE,
    )
    return configure_generation(tf.Gemma3ForConditionalGeneration(config), tok, eos=eos), processor


BUILDERS: dict[str, Callable[[], Built]] = {
    "qwen2_vl": _qwen2_vl,
    "qwen2_5_vl": _qwen2_5_vl,
    "llava": _llava,
    "llava_next": _llava_next,
    "llava_onevision": _llava_onevision,
    "idefics3": _idefics3,
    "smolvlm": _smolvlm,
    "internvl": _internvl,
    "gemma3": _gemma3,
}
VLM_FAMILIES: tuple[str, ...] = tuple(BUILDERS)
