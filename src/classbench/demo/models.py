"""Tiny, randomly initialised models built offline through the real transformers classes.

Tests and smoke runs need models of every family the pipeline supports, without downloading
weights. Each builder here trains a small byte-level BPE tokenizer on a fixed corpus, configures
the real config / processor / model classes with tiny sizes, and saves everything with
``save_pretrained`` so the result reloads through the Auto classes exactly like a hub checkpoint:

- VLMs: ``AutoProcessor`` + ``AutoModelForImageTextToText``
- CLIP / SigLIP: ``AutoProcessor`` + ``AutoModel``
- the judge: ``AutoTokenizer`` + ``AutoModelForCausalLM``
- the NLI label mapper: ``AutoTokenizer`` + ``AutoModelForSequenceClassification``
- supervised image classifiers (ViT, ResNet): ``AutoImageProcessor`` +
  ``AutoModelForImageClassification``, with an ``id2label`` of ``num_labels`` classes

The same family and seed always give the same tokenizer and the same weights. Outputs are
gibberish by design; what matters is that the whole code path (chat template, image placeholder
expansion, batching, generation) is the real one.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

VLM_FAMILIES: tuple[str, ...] = (
    "qwen2_vl",
    "qwen2_5_vl",
    "llava",
    "llava_next",
    "llava_onevision",
    "idefics3",
    "smolvlm",
    "internvl",
    "gemma3",
)
CONTRASTIVE_FAMILIES: tuple[str, ...] = ("clip", "siglip")
TEXT_FAMILIES: tuple[str, ...] = ("qwen2_judge",)
NLI_FAMILIES: tuple[str, ...] = ("bart_nli",)
CLASSIFIER_FAMILIES: tuple[str, ...] = ("vit_classifier", "resnet_classifier")
FAMILIES: tuple[str, ...] = (
    VLM_FAMILIES + CONTRASTIVE_FAMILIES + TEXT_FAMILIES + NLI_FAMILIES + CLASSIFIER_FAMILIES
)
# A tiny classifier's outputs unless told otherwise: ImageNet-1k's, so output i is ImageNet class
# i exactly as for microsoft/resnet-50 or google/vit-large-patch16-224.
CLASSIFIER_LABELS = 1000

# Fixed training text: class-name-like words (shapes, colours, animals, objects), option letters
# and digits, so that decoding random ids gives varied, readable-ish fragments.
_CORPUS: tuple[str, ...] = (
    "A photo of a red circle on a white background.",
    "A blue square next to a green triangle.",
    "The yellow star is above the purple hexagon.",
    "An orange rectangle and a black oval.",
    "A brown dog is sleeping on the grass.",
    "A grey cat sits on the wooden chair.",
    "The horse runs across the field near the cow.",
    "A small bird, a fish and a frog by the river.",
    "An elephant, a tiger and a zebra at the zoo.",
    "A sheep and a goat stand beside the barn.",
    "A car, a bus, a truck and a bicycle on the street.",
    "The airplane flies over the boat and the train.",
    "A cup of coffee on the table next to a book.",
    "A laptop, a phone and a clock on the desk.",
    "A banana, an apple and an orange in a bowl.",
    "A pizza, a sandwich and a cake for lunch.",
    "An umbrella, a bottle and a backpack by the door.",
    "The answer is A. The answer is B. The answer is C. The answer is D.",
    "Options: A) cat B) dog C) bird D) fish.",
    "Choose one letter: A, B, C or D.",
    "Answer with the option's letter from the given choices directly.",
    "What is shown in this image? Answer with one word.",
    "Which class best describes the image?",
    "This image shows a picture of an animal.",
    "The label is: golden retriever. The label is: tabby cat.",
    "Class names: airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck.",
    "Digits: 0 1 2 3 4 5 6 7 8 9 10 11 12 100.",
    "There are 3 circles, 2 squares and 1 triangle.",
    "Rate the answer from 1 to 10. Score: 7.",
    "Yes, the prediction matches the label. No, it does not.",
    "The model predicted tulip but the true class is rose.",
    "A sunflower, a daisy and a dandelion in the garden.",
    "A mountain, a lake, a forest and a beach at sunset.",
    "A close-up of a leaf, a mushroom and a pine cone.",
    "The image is blurry, dark and low resolution.",
    "Describe the object in the center of the picture.",
    "It looks like a bear, a lion or a wolf.",
    "A pink flamingo and a white swan on the water.",
    "A teapot, a spoon, a fork and a knife on a plate.",
    "Is it a sports car or a pickup truck? It is a sports car.",
)

# Tiny sizes shared by the families: a 2-layer 64-wide decoder and a 2-layer 32-wide vision
# tower working on 56 px images in 14 px patches (a 4x4 patch grid).
_TEXT: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "max_position_embeddings": 2048,
    # Untied: a tiny random model with tied embeddings tends to repeat one token forever.
    "tie_word_embeddings": False,
}
_VISION: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": 56,
    "patch_size": 14,
}
_IMAGE = 56

# -- chat templates ---------------------------------------------------------------------------
# Templates are written without literal newlines (the transformers Jinja environment trims the
# newline after a block tag); newlines are emitted as '\n' string expressions instead.


def _content(image: str, var: str = "m") -> str:
    """Jinja rendering ``{var}.content`` (a string or a list of parts), ``image`` at image parts."""
    return (
        f"{{% if {var}.content is string %}}{{{{ {var}.content }}}}"
        f"{{% else %}}{{% for p in {var}.content %}}"
        f"{{% if p.type == 'image' %}}{{{{ '{image}' }}}}"
        f"{{% elif p.type == 'text' %}}{{{{ p.text }}}}{{% endif %}}"
        f"{{% endfor %}}{{% endif %}}"
    )


def _chatml(image: str, default_system: str | None = None) -> str:
    """ChatML (Qwen, LLaVA-OneVision, InternVL): ``<|im_start|>role\\n...<|im_end|>\\n``."""
    system = ""
    if default_system:
        system = (
            "{% if messages[0].role != 'system' %}"
            f"{{{{ '<|im_start|>system\\n{default_system}<|im_end|>\\n' }}}}{{% endif %}}"
        )
    return (
        system
        + "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' }}"
        + _content(image)
        + "{{ '<|im_end|>\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    )


_QWEN_TEMPLATE = _chatml(
    "<|vision_start|><|image_pad|><|vision_end|>", "You are a helpful assistant."
)

# LLaVA-1.5 (Vicuna): "USER: <image>\nWhat is this? ASSISTANT:"
_LLAVA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m.role == 'system' %}" + _content("") + "{{ ' ' }}"
    "{% elif m.role == 'user' %}{{ 'USER: ' }}" + _content("<image>\\n") + "{{ ' ' }}"
    "{% else %}{{ 'ASSISTANT: ' }}" + _content("") + "{{ eos_token }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

# LLaVA-NeXT (Mistral): "[INST] <image>\nWhat is this? [/INST]"; a system prompt opens the
# first [INST] block.
_LLAVA_NEXT_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(open=false) %}{% for m in messages %}"
    "{% if m.role == 'system' %}{{ '[INST] ' }}" + _content("") + "{{ '\\n\\n' }}"
    "{% set ns.open = true %}"
    "{% elif m.role == 'user' %}{% if not ns.open %}{{ '[INST] ' }}{% endif %}"
    + _content("<image>\\n")
    + "{{ ' [/INST]' }}{% set ns.open = false %}"
    "{% else %}{{ ' ' }}" + _content("") + "{{ eos_token }}"
    "{% endif %}{% endfor %}"
)

_ONEVISION_TEMPLATE = _chatml("<image>\\n")
_INTERNVL_TEMPLATE = _chatml("<IMG_CONTEXT>\\n")


def _idefics_template(prefix: str) -> str:
    """Idefics3 / SmolVLM: "User:<image>What is this?<end_of_utterance>\\nAssistant:"."""
    return (
        f"{{{{ '{prefix}' }}}}{{% for m in messages %}}{{{{ m.role | capitalize }}}}"
        "{% if m.content is not string and m.content and m.content[0].type == 'image' %}"
        "{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
        + _content("<image>")
        + "{{ '<end_of_utterance>\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
    )


# Gemma 3: turns "<start_of_turn>user\n...<end_of_turn>\n", the assistant is "model", a system
# prompt is folded into the first user turn.
_GEMMA3_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(open=false) %}{% for m in messages %}"
    "{% if m.role == 'system' %}{{ '<start_of_turn>user\\n' }}" + _content("") + "{{ '\\n\\n' }}"
    "{% set ns.open = true %}"
    "{% else %}{% if not ns.open %}"
    "{{ '<start_of_turn>' + ('model' if m.role == 'assistant' else m.role) + '\\n' }}{% endif %}"
    + _content("<start_of_image>")
    + "{{ '<end_of_turn>\\n' }}{% set ns.open = false %}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
)

_JUDGE_TEMPLATE = _chatml("")

# -- tokenizer --------------------------------------------------------------------------------


def _tokenizer(
    special: Sequence[str],
    *,
    bos: str | None,
    eos: str,
    pad: str,
    unk: str = "<unk>",
    named: dict[str, str] | None = None,
    chat_template: str | None = None,
    post_template: tuple[str | None, str | None] = (None, None),
    model_max_length: int = 2048,
) -> Any:
    """A byte-level BPE tokenizer trained on the fixed corpus, with ``special`` at ids 0..n-1.

    The base alphabet is printable ASCII plus whitespace (other bytes encode as ``unk``), and
    training runs until every corpus word is one token: random ids then decode to word-like
    text instead of stray bytes. ``named`` become tokenizer attributes (``tok.image_token`` /
    ``tok.image_token_id``), which several processors read. ``post_template`` = (prefix, suffix)
    special tokens added around every encoded text (CLIP / SigLIP); chat models get their BOS
    from the chat template instead.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if unk not in special:
        special = (*special, unk)
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    alphabet = [byte_level.pre_tokenize_str(chr(b))[0][0] for b in (9, 10, 13, *range(32, 127))]
    tok = Tokenizer(models.BPE(unk_token=unk, fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=4096,  # more than the corpus can fill: all merges are learnt
        special_tokens=list(special),
        initial_alphabet=alphabet,
        limit_alphabet=len(alphabet),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS, trainer=trainer)
    prefix, suffix = post_template
    if prefix or suffix:
        parts = [p for p in (prefix, "$A", suffix) if p]
        tok.post_processor = processors.TemplateProcessing(
            single=" ".join(parts),
            special_tokens=[(t, tok.token_to_id(t)) for t in (prefix, suffix) if t],
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    kwargs: dict[str, Any] = {"eos_token": eos, "pad_token": pad, "unk_token": unk}
    if bos is not None:
        kwargs["bos_token"] = bos
    if named:
        kwargs["extra_special_tokens"] = dict(named)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, model_max_length=model_max_length, **kwargs
    )
    if chat_template is not None:
        fast.chat_template = chat_template
    return fast


def _ids(tok: Any, *tokens: str) -> list[int]:
    return [tok.convert_tokens_to_ids(t) for t in tokens]


def _special_ids(tok: Any) -> dict[str, Any]:
    """bos/eos/pad ids for configs (so no default id falls outside the tiny vocabulary)."""
    return {
        "bos_token_id": tok.bos_token_id if tok.bos_token_id is not None else tok.pad_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
    }


def _text_config(model_type: str, tok: Any, **extra: Any) -> dict[str, Any]:
    return {"model_type": model_type, "vocab_size": len(tok), **_TEXT, **_special_ids(tok), **extra}


def _finish(model: Any, tok: Any, eos: Sequence[int] | None = None) -> Any:
    """Greedy generation config with this tokenizer's ids, also mirrored on the top config."""
    ids = _special_ids(tok)
    if eos is not None:
        ids["eos_token_id"] = list(eos)
    for key, value in ids.items():
        # Idefics3 / SmolVLM keep a deprecated top-level pad_token_id property: leave it be.
        if not isinstance(getattr(type(model.config), key, None), property):
            setattr(model.config, key, value)
        setattr(model.generation_config, key, value)
    model.generation_config.do_sample = False
    model.generation_config.temperature = None
    model.generation_config.top_p = None
    model.generation_config.top_k = None
    return model


# -- families ---------------------------------------------------------------------------------

_Built = tuple[Any, Any]  # (model, processor or tokenizer)

_QWEN_SPECIAL = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)


def _qwen_vl(version: str) -> _Built:
    import transformers as tf

    tok = _tokenizer(
        _QWEN_SPECIAL,
        bos=None,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        named={"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"},
        chat_template=_QWEN_TEMPLATE,
    )
    start, end, image, video = _ids(
        tok, "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"
    )
    # mrope sections (temporal, height, width) must sum to head_dim / 2.
    rope = {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": [2, 3, 3]}
    text = _text_config(version, tok, rope_parameters=rope)
    text["model_type"] = f"{version}_text"
    common = {"patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "depth": 2}
    if version == "qwen2_vl":
        vision = {**common, "embed_dim": 32, "hidden_size": 64, "mlp_ratio": 2, "num_heads": 2}
        config_cls, model_cls, proc_cls = (
            tf.Qwen2VLConfig,
            tf.Qwen2VLForConditionalGeneration,
            tf.Qwen2VLProcessor,
        )
    else:
        vision = {
            **common,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 64,
            "window_size": 56,
            "fullatt_block_indexes": [1],
        }
        config_cls, model_cls, proc_cls = (
            tf.Qwen2_5_VLConfig,
            tf.Qwen2_5_VLForConditionalGeneration,
            tf.Qwen2_5_VLProcessor,
        )
    config = config_cls(
        text_config=text,
        vision_config=vision,
        image_token_id=image,
        video_token_id=video,
        vision_start_token_id=start,
        vision_end_token_id=end,
        tie_word_embeddings=False,
        **_special_ids(tok),
    )
    # 56x56 .. 112x112 pixels -> 4 .. 16 image tokens after the 2x2 merge.
    pixels = {"min_pixels": _IMAGE * _IMAGE, "max_pixels": 2 * _IMAGE * 2 * _IMAGE}
    processor = proc_cls(
        image_processor=tf.Qwen2VLImageProcessor(**pixels),
        tokenizer=tok,
        video_processor=tf.Qwen2VLVideoProcessor(**pixels),
        chat_template=_QWEN_TEMPLATE,
    )
    return _finish(model_cls(config), tok), processor


_LLAVA_SPECIAL = ("<unk>", "<s>", "</s>", "<pad>", "<image>", "[INST]", "[/INST]")


def _llava_tokenizer(template: str) -> Any:
    return _tokenizer(
        _LLAVA_SPECIAL,
        bos="<s>",
        eos="</s>",
        pad="<pad>",
        unk="<unk>",
        named={"image_token": "<image>"},
        chat_template=template,
    )


def _clip_vision() -> dict[str, Any]:
    return {"model_type": "clip_vision_model", **_VISION}


def _llava() -> _Built:
    import transformers as tf

    tok = _llava_tokenizer(_LLAVA_TEMPLATE)
    # (56 / 14)^2 = 16 patch tokens; the CLS token is dropped ("default" strategy).
    config = tf.LlavaConfig(
        vision_config=_clip_vision(),
        text_config=_text_config("llama", tok),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        image_seq_length=16,
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
        tie_word_embeddings=False,
        **_special_ids(tok),
    )
    processor = tf.LlavaProcessor(
        image_processor=tf.CLIPImageProcessor(
            size={"shortest_edge": _IMAGE}, crop_size={"height": _IMAGE, "width": _IMAGE}
        ),
        tokenizer=tok,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=_LLAVA_TEMPLATE,
    )
    return _finish(tf.LlavaForConditionalGeneration(config), tok), processor


def _llava_next() -> _Built:
    import transformers as tf

    tok = _llava_tokenizer(_LLAVA_NEXT_TEMPLATE)
    pinpoints = [[_IMAGE * a, _IMAGE * b] for a in (1, 2) for b in (1, 2)]
    config = tf.LlavaNextConfig(
        vision_config=_clip_vision(),
        text_config=_text_config("llama", tok),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
        tie_word_embeddings=False,
        **_special_ids(tok),
    )
    processor = tf.LlavaNextProcessor(
        image_processor=tf.LlavaNextImageProcessor(
            size={"shortest_edge": _IMAGE},
            crop_size={"height": _IMAGE, "width": _IMAGE},
            image_grid_pinpoints=pinpoints,
        ),
        tokenizer=tok,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=_LLAVA_NEXT_TEMPLATE,
    )
    return _finish(tf.LlavaNextForConditionalGeneration(config), tok), processor


def _llava_onevision() -> _Built:
    import transformers as tf

    tok = _tokenizer(
        ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"),
        bos=None,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        named={"image_token": "<image>", "video_token": "<video>"},
        chat_template=_ONEVISION_TEMPLATE,
    )
    pinpoints = [[_IMAGE * a, _IMAGE * b] for a in (1, 2) for b in (1, 2)]
    vision = {"model_type": "siglip_vision_model", **_VISION, "vision_use_head": False}
    config = tf.LlavaOnevisionConfig(
        vision_config=vision,
        text_config=_text_config("qwen2", tok),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        video_token_id=tok.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_layer=-1,
        vision_feature_select_strategy="full",
        tie_word_embeddings=False,
        **_special_ids(tok),
    )
    size = {"height": _IMAGE, "width": _IMAGE}
    processor = tf.LlavaOnevisionProcessor(
        image_processor=tf.LlavaOnevisionImageProcessor(size=size, image_grid_pinpoints=pinpoints),
        tokenizer=tok,
        video_processor=tf.LlavaOnevisionVideoProcessor(size=size),
        num_image_tokens=16,
        vision_feature_select_strategy="full",
        vision_aspect_ratio="anyres_max_9",
        chat_template=_ONEVISION_TEMPLATE,
    )
    return _finish(tf.LlavaOnevisionForConditionalGeneration(config), tok), processor


_ROW_COL = tuple(f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7))


def _idefics(smol: bool) -> _Built:
    import transformers as tf

    if smol:
        special = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<video>")
        bos, pad, prefix = "<|im_start|>", "<|im_end|>", "<|im_start|>"
    else:
        special = ("<|begin_of_text|>", "<|end_of_text|>")
        bos, pad, prefix = "<|begin_of_text|>", "<|end_of_text|>", "<|begin_of_text|>"
    special += ("<end_of_utterance>", "<fake_token_around_image>", "<image>", "<global-img>")
    template = _idefics_template(prefix)
    named = {"image_token": "<image>"}
    if smol:
        named["video_token"] = "<video>"
    tok = _tokenizer(
        special + _ROW_COL,
        bos=bos,
        eos="<end_of_utterance>",
        pad=pad,
        named=named,
        chat_template=template,
    )
    vision = {**_VISION, "model_type": "smolvlm_vision" if smol else "idefics3_vision"}
    config_cls = tf.SmolVLMConfig if smol else tf.Idefics3Config
    # image_seq_len = (56 / 14)^2 / scale_factor^2 = 4 tokens per 56 px tile.
    config = config_cls(
        vision_config=vision,
        text_config=_text_config("llama", tok),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        scale_factor=2,
        tie_word_embeddings=False,
        **_special_ids(tok),
    )
    # Images are resized to at most 112 px and split into 56 px tiles plus a global view.
    image_kwargs = {
        "size": {"longest_edge": 2 * _IMAGE},
        "max_image_size": {"longest_edge": _IMAGE},
        "do_image_splitting": True,
    }
    if smol:
        processor = tf.SmolVLMProcessor(
            image_processor=tf.SmolVLMImageProcessor(**image_kwargs),
            tokenizer=tok,
            video_processor=tf.SmolVLMVideoProcessor(
                size={"longest_edge": _IMAGE}, max_image_size={"longest_edge": _IMAGE}
            ),
            image_seq_len=4,
            chat_template=template,
        )
        model = tf.SmolVLMForConditionalGeneration(config)
    else:
        processor = tf.Idefics3Processor(
            image_processor=tf.Idefics3ImageProcessor(**image_kwargs),
            tokenizer=tok,
            image_seq_len=4,
            chat_template=template,
        )
        model = tf.Idefics3ForConditionalGeneration(config)
    return _finish(model, tok), processor


def _internvl() -> _Built:
    import transformers as tf

    tok = _tokenizer(
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
        chat_template=_INTERNVL_TEMPLATE,
    )
    vision = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": [_IMAGE, _IMAGE],
        "patch_size": [14, 14],
    }
    # 16 patches per tile, pixel-shuffled by 0.5 -> 4 tokens per tile.
    config = tf.InternVLConfig(
        vision_config=vision,
        text_config=_text_config("qwen2", tok),
        image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"),
        image_seq_length=4,
        downsample_ratio=0.5,
        tie_word_embeddings=False,
        **_special_ids(tok),
    )
    size = {"height": _IMAGE, "width": _IMAGE}
    processor = tf.InternVLProcessor(
        image_processor=tf.GotOcr2ImageProcessor(
            size=size, crop_to_patches=True, min_patches=1, max_patches=4
        ),
        tokenizer=tok,
        video_processor=tf.InternVLVideoProcessor(size=size),
        image_seq_length=4,
        chat_template=_INTERNVL_TEMPLATE,
    )
    return _finish(tf.InternVLForConditionalGeneration(config), tok), processor


def _gemma3() -> _Built:
    import transformers as tf

    tok = _tokenizer(
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
        chat_template=_GEMMA3_TEMPLATE,
    )
    boi, eoi, image, end_of_turn = _ids(
        tok, "<start_of_image>", "<end_of_image>", "<image_soft_token>", "<end_of_turn>"
    )
    # A sliding window longer than any prompt, so left padding cannot change what a token sees.
    text = _text_config("gemma3_text", tok, sliding_window=4096)
    vision = {"model_type": "siglip_vision_model", **_VISION}
    eos = [tok.eos_token_id, end_of_turn]
    config = tf.Gemma3Config(
        vision_config=vision,
        text_config=text,
        mm_tokens_per_image=4,  # a square number dividing the 4x4 patch grid
        boi_token_id=boi,
        eoi_token_id=eoi,
        image_token_id=image,
        tie_word_embeddings=False,
        **{**_special_ids(tok), "eos_token_id": eos},
    )
    processor = tf.Gemma3Processor(
        image_processor=tf.Gemma3ImageProcessor(size={"height": _IMAGE, "width": _IMAGE}),
        tokenizer=tok,
        image_seq_length=4,
        chat_template=_GEMMA3_TEMPLATE,
    )
    return _finish(tf.Gemma3ForConditionalGeneration(config), tok, eos=eos), processor


def _contrastive_tower() -> dict[str, Any]:
    return {k: v for k, v in _VISION.items() if k not in ("image_size", "patch_size")}


def _clip() -> _Built:
    import transformers as tf

    tok = _tokenizer(
        ("<|startoftext|>", "<|endoftext|>"),
        bos="<|startoftext|>",
        eos="<|endoftext|>",
        pad="<|endoftext|>",
        post_template=("<|startoftext|>", "<|endoftext|>"),
        model_max_length=77,
    )
    text = {**_contrastive_tower(), "vocab_size": len(tok), "max_position_embeddings": 77}
    # CLIP pools at eos_token_id; it must be the real id (2 selects a legacy argmax path).
    text.update(_special_ids(tok))
    config = tf.CLIPConfig(
        text_config=text,
        vision_config={**_VISION},
        projection_dim=16,
    )
    processor = tf.CLIPProcessor(
        image_processor=tf.CLIPImageProcessor(
            size={"shortest_edge": _IMAGE}, crop_size={"height": _IMAGE, "width": _IMAGE}
        ),
        tokenizer=tok,
    )
    return tf.CLIPModel(config), processor


def _siglip() -> _Built:
    import transformers as tf

    tok = _tokenizer(
        ("<pad>", "</s>", "<unk>"),
        bos=None,
        eos="</s>",
        pad="</s>",
        unk="<unk>",
        post_template=(None, "</s>"),
        model_max_length=64,
    )
    # Text is padded to max_length (pooling takes the last token); 64 is what the transformers
    # zero-shot pipeline uses for SigLIP.
    text = {**_contrastive_tower(), "vocab_size": len(tok), "max_position_embeddings": 64}
    text.update(_special_ids(tok))
    config = tf.SiglipConfig(text_config=text, vision_config={**_VISION})
    processor = tf.SiglipProcessor(
        image_processor=tf.SiglipImageProcessor(size={"height": _IMAGE, "width": _IMAGE}),
        tokenizer=tok,
    )
    return tf.SiglipModel(config), processor


def _qwen2_judge() -> _Built:
    import transformers as tf

    tok = _tokenizer(
        ("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
        bos=None,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        chat_template=_JUDGE_TEMPLATE,
    )
    text = _text_config("qwen2", tok)
    del text["model_type"]
    config = tf.Qwen2Config(**text)
    return _finish(tf.Qwen2ForCausalLM(config), tok), tok


def _bart_nli() -> _Built:
    """A BART sequence classifier with MNLI's three labels, for the zero-shot NLI pipeline.

    The pair encoding is RoBERTa's ``<s> A </s></s> B </s>``, as facebook/bart-large-mnli's; the
    pipeline finds the entailment class by its label name, so ``id2label`` must name it.
    """
    import transformers as tf
    from tokenizers import processors

    tok = _tokenizer(
        ("<s>", "<pad>", "</s>", "<unk>", "<mask>"),
        bos="<s>",
        eos="</s>",
        pad="<pad>",
        unk="<unk>",
        model_max_length=1024,
    )
    bos, eos = tok.bos_token_id, tok.eos_token_id
    # Positional arguments: the ``sep=`` / ``cls=`` keywords raise a TypeError.
    tok.backend_tokenizer.post_processor = processors.RobertaProcessing(
        ("</s>", eos), ("<s>", bos), trim_offsets=True, add_prefix_space=False
    )
    labels = {0: "contradiction", 1: "neutral", 2: "entailment"}
    config = tf.BartConfig(
        vocab_size=len(tok),
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=1024,
        num_labels=3,
        id2label=labels,
        label2id={name: i for i, name in labels.items()},
        pad_token_id=tok.pad_token_id,
        bos_token_id=bos,
        eos_token_id=eos,
        decoder_start_token_id=eos,
        forced_bos_token_id=None,
    )
    return tf.BartForSequenceClassification(config), tok


def _id2label(num_labels: int) -> dict[str, Any]:
    if num_labels < 1:
        raise ValueError(f"num_labels must be positive, got {num_labels}")
    names = {i: f"class {i}" for i in range(num_labels)}
    return {"id2label": names, "label2id": {name: i for i, name in names.items()}}


def _vit_classifier(num_labels: int) -> _Built:
    """A ViT image classifier (ViTForImageClassification, as google/vit-large-patch16-224)."""
    import transformers as tf

    config = tf.ViTConfig(**_VISION, **_id2label(num_labels))
    processor = tf.ViTImageProcessor(size={"height": _IMAGE, "width": _IMAGE})
    return tf.ViTForImageClassification(config), processor


def _resnet_classifier(num_labels: int) -> _Built:
    """A ResNet image classifier with the ConvNeXt image processor, as microsoft/resnet-50."""
    import transformers as tf

    config = tf.ResNetConfig(
        embedding_size=16,
        hidden_sizes=[16, 32],
        depths=[1, 1],
        layer_type="basic",
        **_id2label(num_labels),
    )
    # Resize the short side to 56 / 0.875 = 64 px and centre-crop 56 px (resnet-50: 256 -> 224).
    processor = tf.ConvNextImageProcessor(size={"shortest_edge": _IMAGE}, crop_pct=0.875)
    return tf.ResNetForImageClassification(config), processor


_CLASSIFIER_BUILDERS: dict[str, Callable[[int], _Built]] = {
    "vit_classifier": _vit_classifier,
    "resnet_classifier": _resnet_classifier,
}

_BUILDERS: dict[str, Callable[[], _Built]] = {
    "qwen2_vl": lambda: _qwen_vl("qwen2_vl"),
    "qwen2_5_vl": lambda: _qwen_vl("qwen2_5_vl"),
    "llava": _llava,
    "llava_next": _llava_next,
    "llava_onevision": _llava_onevision,
    "idefics3": lambda: _idefics(smol=False),
    "smolvlm": lambda: _idefics(smol=True),
    "internvl": _internvl,
    "gemma3": _gemma3,
    "clip": _clip,
    "siglip": _siglip,
    "qwen2_judge": _qwen2_judge,
    "bart_nli": _bart_nli,
}


def build_tiny_model(
    family: str, out_dir: str | os.PathLike, seed: int = 0, *, num_labels: int | None = None
) -> Path:
    """Build the tiny model of ``family`` into ``out_dir`` (replacing what is there); return it.

    The same family and seed give identical weights. The model is written into a temporary
    sibling directory and renamed into place, so an interrupted build never leaves half a model.
    ``num_labels`` is a classifier family's number of outputs (default
    :data:`CLASSIFIER_LABELS`); other families take none.
    """
    if family in _CLASSIFIER_BUILDERS:
        labels = CLASSIFIER_LABELS if num_labels is None else num_labels
        builder: Callable[[], _Built] = functools.partial(_CLASSIFIER_BUILDERS[family], labels)
    elif family in _BUILDERS:
        if num_labels is not None:
            raise ValueError(f"num_labels is for the classifier families, not {family!r}")
        builder = _BUILDERS[family]
    else:
        raise ValueError(f"unknown tiny model family {family!r}; expected one of {FAMILIES}")
    import torch
    from transformers.utils import logging as hf_logging

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Weight initialisation is the only randomness (tokenizer training is deterministic).
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model, processor = builder()
    model.eval()
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the model is an ordinary shared artefact
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    try:
        # Saving diffs each sub-config against its class defaults, and some default configs
        # (SigLIP text) warn about their own token ids: noise, not a problem with this model.
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            model.save_pretrained(tmp)
            processor.save_pretrained(tmp)
        finally:
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "model")
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
