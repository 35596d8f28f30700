"""Tiny contrastive encoders (CLIP, SigLIP), loaded by ``AutoProcessor`` + ``AutoModel``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from classbench.demo.common import IMAGE_SIZE, TINY_VISION, Built
from classbench.demo.tokenizer import special_token_ids, train_tokenizer


def _contrastive_tower() -> dict[str, Any]:
    return {k: v for k, v in TINY_VISION.items() if k not in ("image_size", "patch_size")}


def _clip() -> Built:
    import transformers as tf

    tok = train_tokenizer(
        ("<|startoftext|>", "<|endoftext|>"),
        bos="<|startoftext|>",
        eos="<|endoftext|>",
        pad="<|endoftext|>",
        post_template=("<|startoftext|>", "<|endoftext|>"),
        model_max_length=77,
    )
    text = {**_contrastive_tower(), "vocab_size": len(tok), "max_position_embeddings": 77}
    # CLIP pools at eos_token_id; it must be the real id (2 selects a legacy argmax path).
    text.update(special_token_ids(tok))
    config = tf.CLIPConfig(
        text_config=text,
        vision_config={**TINY_VISION},
        projection_dim=16,
    )
    processor = tf.CLIPProcessor(
        image_processor=tf.CLIPImageProcessor(
            size={"shortest_edge": IMAGE_SIZE},
            crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        ),
        tokenizer=tok,
    )
    return tf.CLIPModel(config), processor


def _siglip() -> Built:
    import transformers as tf

    tok = train_tokenizer(
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
    text.update(special_token_ids(tok))
    config = tf.SiglipConfig(text_config=text, vision_config={**TINY_VISION})
    processor = tf.SiglipProcessor(
        image_processor=tf.SiglipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}),
        tokenizer=tok,
    )
    return tf.SiglipModel(config), processor


BUILDERS: dict[str, Callable[[], Built]] = {"clip": _clip, "siglip": _siglip}
CONTRASTIVE_FAMILIES: tuple[str, ...] = tuple(BUILDERS)
