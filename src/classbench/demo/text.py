"""Tiny text models of the scoring stage: the LLM judge (``AutoModelForCausalLM``) and the
NLI label mapper (``AutoModelForSequenceClassification``)."""

from __future__ import annotations

from collections.abc import Callable

from classbench.demo.chat_templates import JUDGE_TEMPLATE
from classbench.demo.common import Built, configure_generation, text_config
from classbench.demo.tokenizer import train_tokenizer


def _qwen2_judge() -> Built:
    import transformers as tf

    tok = train_tokenizer(
        ("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
        bos=None,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        chat_template=JUDGE_TEMPLATE,
    )
    text = text_config("qwen2", tok)
    del text["model_type"]
    config = tf.Qwen2Config(**text)
    return configure_generation(tf.Qwen2ForCausalLM(config), tok), tok


def _bart_nli() -> Built:
    """A BART sequence classifier with MNLI's three labels, for the zero-shot NLI pipeline.

    The pair encoding is RoBERTa's ``<s> A </s></s> B </s>``, as facebook/bart-large-mnli's; the
    pipeline finds the entailment class by its label name, so ``id2label`` must name it.
    """
    import transformers as tf
    from tokenizers import processors

    tok = train_tokenizer(
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
        id2label=labels,
        label2id={name: i for i, name in labels.items()},
        pad_token_id=tok.pad_token_id,
        bos_token_id=bos,
        eos_token_id=eos,
        decoder_start_token_id=eos,
    )
    return tf.BartForSequenceClassification(config), tok


JUDGE_BUILDERS: dict[str, Callable[[], Built]] = {"qwen2_judge": _qwen2_judge}
NLI_BUILDERS: dict[str, Callable[[], Built]] = {"bart_nli": _bart_nli}
TEXT_FAMILIES: tuple[str, ...] = tuple(JUDGE_BUILDERS)
NLI_FAMILIES: tuple[str, ...] = tuple(NLI_BUILDERS)
