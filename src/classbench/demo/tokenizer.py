"""The tiny models' tokenizer: a byte-level BPE trained offline on a fixed corpus.

Training is deterministic, so one family always gets the same vocabulary, and ``special`` tokens
take ids 0..n-1 in the order given, as in the real checkpoints' tokenizers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


def train_tokenizer(
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


def token_ids(tok: Any, *tokens: str) -> list[int]:
    return [tok.convert_tokens_to_ids(t) for t in tokens]


def special_token_ids(tok: Any) -> dict[str, Any]:
    """bos/eos/pad ids for configs (so no default id falls outside the tiny vocabulary)."""
    return {
        "bos_token_id": tok.bos_token_id if tok.bos_token_id is not None else tok.pad_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
    }
