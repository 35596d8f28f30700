"""The offline demo: tiny randomly initialised models and synthetic image sets.

``build_tiny_model(family, out_dir, seed)`` writes a tiny model of one of :data:`FAMILIES`
(grouped in :data:`VLM_FAMILIES`, :data:`CONTRASTIVE_FAMILIES`, :data:`TEXT_FAMILIES`,
:data:`NLI_FAMILIES` and :data:`CLASSIFIER_FAMILIES`) that reloads through the transformers Auto
classes. The pieces the benchmarks reuse to build larger random models of a real architecture
are public too: the Qwen tokenizer and chat template, the special token ids a config needs
and the greedy generation settings. :mod:`classbench.demo.images` draws the synthetic image sets.
"""

from classbench.demo.build import FAMILIES, build_tiny_model
from classbench.demo.chat_templates import QWEN_TEMPLATE
from classbench.demo.classifiers import CLASSIFIER_FAMILIES, CLASSIFIER_LABELS
from classbench.demo.common import configure_generation
from classbench.demo.encoders import CONTRASTIVE_FAMILIES
from classbench.demo.text import NLI_FAMILIES, TEXT_FAMILIES
from classbench.demo.tokenizer import special_token_ids
from classbench.demo.vlms import VLM_FAMILIES, qwen_tokenizer

__all__ = [
    "CLASSIFIER_FAMILIES",
    "CLASSIFIER_LABELS",
    "CONTRASTIVE_FAMILIES",
    "FAMILIES",
    "NLI_FAMILIES",
    "QWEN_TEMPLATE",
    "TEXT_FAMILIES",
    "VLM_FAMILIES",
    "build_tiny_model",
    "configure_generation",
    "qwen_tokenizer",
    "special_token_ids",
]
