"""What the tiny families share: their sizes, their text config and their generation config."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from classbench.demo.tokenizer import special_token_ids

Built = tuple[Any, Any]  # (model, processor or tokenizer)

# Tiny sizes shared by the families: a 2-layer 64-wide decoder and a 2-layer 32-wide vision
# tower working on 56 px images in 14 px patches (a 4x4 patch grid).
TINY_TEXT: dict[str, Any] = {
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
TINY_VISION: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": 56,
    "patch_size": 14,
}
IMAGE_SIZE = 56


def text_config(model_type: str, tok: Any, **extra: Any) -> dict[str, Any]:
    """A tiny decoder's config sized to this tokenizer, with its special ids."""
    return {
        "model_type": model_type,
        "vocab_size": len(tok),
        **TINY_TEXT,
        **special_token_ids(tok),
        **extra,
    }


def configure_generation(model: Any, tok: Any, eos: Sequence[int] | None = None) -> Any:
    """Greedy generation config with this tokenizer's ids, also mirrored on the top config."""
    ids = special_token_ids(tok)
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
