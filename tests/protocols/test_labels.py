"""Label lists, answer mapping, answer modes, the open-world variants and importing predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from classbench.backends.base import BackendError, Generation
from classbench.config import ConfigError, load_study
from classbench.data import load_manifest, prepare_dataset
from classbench.inference.job import PREDICTION_COLUMNS, best_choice, build_requests, evaluate
from classbench.protocols import answer_mode_problem, labels, mcq, protocol_module
from classbench.protocols.common import fill
from classbench.report.tables import open_world_table
from classbench.scoring.label_mapping import embedding_choices, map_answers, nli_choices
from classbench.scoring.score import score_predictions
from classbench.seeding import rng_for
from classbench.summary.aggregate import summarise_scores

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "workflow" / "schemas"
CLASSES = [f"class {i:02d}" for i in range(30)]
SHAPES = ["circle", "ring", "square", "triangle", "star", "cross"]
SHAPES_SPEC = {
    "source": {
        "kind": "synthetic",
        "generator": "shapes",
        "images_per_class": 2,
        "seed": 0,
        "size": 16,
    },
    "classes": SHAPES,
    "group": "prototypical",
    "noun": "shape",
    "nouns": "shapes",
    "expected": {"classes": 6, "images": 12},
}
LABELS_TASK = {
    "protocol": "labels",
    "k": 5,
    "wording": "vlmclassifier",
    "fallback": "none",
    "max_new_tokens": 64,
    "metrics": ["accuracy", "textual_inclusion", "macro_prf", "parse_failure"],
}


def make_manifest(classes: list[str], per_class: int) -> pd.DataFrame:
    rows = [
        (f"{label.replace(' ', '_')}_{i}", f"images/{label.replace(' ', '_')}_{i}.png", label, idx)
        for idx, label in enumerate(classes)
        for i in range(per_class)
    ]
    return pd.DataFrame(rows, columns=["sample_id", "image", "label", "label_idx"])


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("datasets") / "shapes"
    prepare_dataset("shapes", SHAPES_SPEC, root)
    return root


@pytest.fixture(scope="module")
def tiny_bart(tmp_path_factory) -> Path:
    from classbench.demo import build_tiny_model

    return build_tiny_model("bart_nli", tmp_path_factory.mktemp("models") / "bart")


@pytest.fixture(scope="module")
def minilm():
    from classbench.scoring.metrics import load_sentence_encoder

    return load_sentence_encoder(device="cpu")


# --- label-list prompts ---------------------------------------------------------------------------


def test_vlmclassifier_prompt_exactly():
    prompt = labels.format_prompt({"wording": "vlmclassifier"}, {}, ["dog", "cat", "car"])
    assert prompt == 'What type of object is in this photo? Choose one from "dog, cat, car".'


def test_thesis_prompt_exactly():
    prompt = labels.format_prompt({"wording": "thesis"}, {}, ["dog", "cat", "car"])
    assert prompt == (
        "This image represents an object that belongs to one of the following classes: "
        "dog, cat, car. What is the most probable class that the object in the image belongs "
        "to, given the provided classes?"
    )


def test_wording_keys_are_filled_from_the_dataset():
    task = {"wording": "vlmclassifier", "query": "What type of {noun} is in this photo?"}
    prompt = labels.format_prompt(task, {"noun": "flower"}, ["rose", "tulip"])
    assert prompt == 'What type of flower is in this photo? Choose one from "rose, tulip".'
    with pytest.raises(ValueError, match="wording"):
        labels.format_prompt({"wording": "haiku"}, {}, ["a", "b"])


def test_requests_show_their_own_candidates():
    manifest = make_manifest(CLASSES, 2)
    requests = labels.build_requests(manifest, CLASSES, LABELS_TASK, {}, dataset_name="d", seed=3)
    for prompt, options in zip(requests["prompt"], requests["options"], strict=True):
        assert prompt == labels.format_prompt(LABELS_TASK, {}, list(options))


# --- seeded candidate lists -----------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 5, 20])
def test_candidates_hold_the_ground_truth_and_k_distinct_classes(k):
    manifest = make_manifest(CLASSES, 3)
    task = {**LABELS_TASK, "k": k}
    requests = labels.build_requests(manifest, CLASSES, task, {}, dataset_name="d", seed=1)
    for options, label in zip(requests["options"], requests["label"], strict=True):
        assert len(options) == k == len(set(options))
        assert label in options and set(options) <= set(CLASSES)
    # The ground truth is not always in the same place.
    positions = {
        list(o).index(lab) for o, lab in zip(requests["options"], requests["label"], strict=True)
    }
    assert len(positions) > 1


def test_candidates_are_deterministic_and_independent_of_other_samples():
    manifest = make_manifest(CLASSES, 2)
    full = labels.build_requests(manifest, CLASSES, LABELS_TASK, {}, dataset_name="d", seed=5)
    again = labels.build_requests(manifest, CLASSES, LABELS_TASK, {}, dataset_name="d", seed=5)
    assert full["prompt"].tolist() == again["prompt"].tolist()
    part = manifest.iloc[::-1].iloc[:7]
    subset = labels.build_requests(part, CLASSES, LABELS_TASK, {}, dataset_name="d", seed=5)
    by_id = dict(zip(full["sample_id"], full["options"], strict=True))
    for sid, options in zip(subset["sample_id"], subset["options"], strict=True):
        assert list(options) == list(by_id[sid])
    other_seed = labels.build_requests(manifest, CLASSES, LABELS_TASK, {}, dataset_name="d", seed=6)
    assert other_seed["prompt"].tolist() != full["prompt"].tolist()


def test_candidates_come_from_the_documented_generator():
    sid, idx = "class_07_0", 7
    rng = rng_for(1234, "labels", "d", sid, 5)
    others = [i for i in range(30) if i != idx]
    picked = rng.choice(others, size=4, replace=False)
    chosen = [idx, *picked]
    expected = [CLASSES[chosen[i]] for i in rng.permutation(5)]
    assert labels.candidate_labels(CLASSES, idx, 5, 1234, "d", sid) == expected


@pytest.mark.parametrize("k", [30, 100, "all"])
def test_k_at_least_the_classes_lists_every_class(k):
    manifest = make_manifest(CLASSES, 1)
    task = {**LABELS_TASK, "k": k}
    requests = labels.build_requests(manifest, CLASSES, task, {}, dataset_name="d", seed=2)
    orders = {tuple(o) for o in requests["options"]}
    assert all(sorted(o) == sorted(CLASSES) for o in orders)
    assert len(orders) > 1  # shuffled per sample
    assert labels.candidate_count(k, 30) == 30


# --- string mapping -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Dog.", ("dog", "exact")),
        ('  "Golden Retriever."  ', ("golden retriever", "exact")),
        ("**cat**", ("cat", "exact")),
        ("It is a sea lion.", ("sea lion", "inclusion")),
        ('The most probable class is "golden retriever."', ("golden retriever", "inclusion")),
        ("A dog or a cat", (None, "ambiguous")),
        ('Choose one from "dog, cat, sea lion"', (None, "ambiguous")),
        ("a category of animals", (None, "no_match")),
        ("   ", (None, "empty")),
    ],
)
def test_string_rules(raw, expected):
    options = ["dog", "cat", "sea lion", "lion", "golden retriever"]
    assert labels.match_label(raw, options) == expected


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ('"Dog."', "dog"),
        ("**dog**.", "dog"),
        ("  Golden \n Retriever ", "golden retriever"),
        ("`Cat`", "cat"),
        ("'Sea Lion.'", "sea lion"),
        ('"**Dog.**".', "dog"),
        ('*"Dog.".*.', "dog"),  # three layers, each closed by a full stop
        ("X-Ray", "x-ray"),
    ],
)
def test_normalise_lowercases_and_unwraps(text, normalised):
    assert labels.normalise(text) == normalised


def test_parse_without_candidates_or_without_output():
    with pytest.raises(
        ValueError, match=r"^label-list parsing needs the candidate labels as presented$"
    ):
        labels.parse("dog", None, LABELS_TASK)
    assert labels.parse(None, ["dog", "cat"], LABELS_TASK) == {
        "answer": None,
        "mapping": "none",
        "parse_status": "no_output",
    }


def test_parse_records_the_mapping():
    options = ["dog", "cat"]
    assert labels.parse("dog", options, LABELS_TASK) == {
        "answer": "dog",
        "mapping": "exact",
        "parse_status": "exact",
    }
    assert labels.parse("a dog and a cat", options, LABELS_TASK)["mapping"] == "none"
    assert labels.parse(None, options, LABELS_TASK)["parse_status"] == "no_output"


def test_no_fallback_leaves_ambiguous_answers_unmapped():
    mapped = map_answers(
        ["dog", "It shows a cat.", "dog or cat", None], [["dog", "cat"]] * 4, fallback="none"
    )
    assert mapped["answer"].tolist()[:2] == ["dog", "cat"]
    assert mapped["mapping"].tolist() == ["exact", "inclusion", "none", "none"]
    assert pd.isna(mapped["answer"].iloc[2])


def test_fallback_needs_its_model():
    with pytest.raises(ValueError, match="NLI model"):
        map_answers(["a puppy"], [["dog", "car"]], fallback="nli")
    # Nothing reaches the fallback: the model is never asked for.
    mapped = map_answers(["dog"], [["dog", "car"]], fallback="nli")
    assert mapped["mapping"].tolist() == ["exact"]


# --- model fallbacks ------------------------------------------------------------------------------


class CountingClassifier:
    """A zero-shot pipeline stand-in: picks the alphabetically last label, records each call."""

    def __init__(self):
        self.calls: list[tuple[list[str], list[str]]] = []

    def __call__(self, texts, candidate_labels):
        self.calls.append((list(texts), list(candidate_labels)))
        ranked = sorted(candidate_labels, reverse=True)
        results = [{"sequence": t, "labels": ranked, "scores": [1.0] * len(ranked)} for t in texts]
        return results[0] if len(results) == 1 else results


def test_nli_sees_each_unique_answer_and_candidate_set_once():
    classifier = CountingClassifier()
    pairs = [
        ("a puppy", ("dog", "car", "plane")),
        ("a puppy", ("plane", "dog", "car")),  # the same set in another order
        ("a jet", ("car", "plane", "dog")),
        ("a puppy", ("dog", "cat")),
    ]
    chosen = nli_choices(pairs, classifier)
    assert chosen == ["plane", "plane", "plane", "dog"]
    assert sorted(map(str, classifier.calls)) == sorted(
        map(
            str,
            [
                (["a puppy", "a jet"], ["car", "dog", "plane"]),
                (["a puppy"], ["cat", "dog"]),
            ],
        )
    )


def test_mapping_without_a_fallback_by_default_and_its_refusals():
    """No fallback unless one is named: an unmatched answer stays unmapped. A fallback it does
    not know, or answers and candidate lists of different lengths, are refused with the reason."""
    mapped = map_answers(["dog", "a kind of cat"], [["dog", "car"], ["dog", "car"]])
    assert mapped["mapping"].tolist() == ["exact", "none"]
    assert mapped["answer"][0] == "dog" and pd.isna(mapped["answer"][1])
    with pytest.raises(ValueError, match=r"^unknown label-mapping fallback 'knn' \(known: "):
        map_answers(["dog"], [["dog"]], fallback="knn")
    with pytest.raises(ValueError, match=r"^2 answers but 1 candidate lists$"):
        map_answers(["dog", "cat"], [["dog"]])
    with pytest.raises(ValueError, match=r"^the 'nli' label-mapping fallback needs an NLI model$"):
        map_answers(["a puppy"], [["dog", "car"]], fallback="nli")
    with pytest.raises(
        ValueError, match=r"^the 'embedding' label-mapping fallback needs a sentence encoder$"
    ):
        map_answers(["a puppy"], [["dog", "car"]], fallback="embedding")
    # A failed request is skipped, not the end: the answers after it are still mapped.
    mapped = map_answers([None, "dog"], [["dog"], ["dog"]])
    assert mapped["mapping"].tolist() == ["none", "exact"]


def test_nli_results_that_do_not_match_the_answers_are_refused():
    """A classifier answering more (or fewer) sequences than it was given is refused, not read
    pairwise as far as the shorter list goes."""

    def one_too_many(texts, candidate_labels):
        return [{"sequence": t, "labels": list(candidate_labels)} for t in [*texts, "extra"]]

    with pytest.raises(ValueError):
        nli_choices([("a puppy", ("dog", "car")), ("a jet", ("car", "dog"))], one_too_many)


def test_nli_fallback_with_the_tiny_bart(tiny_bart):
    from classbench.backends.nli import load_nli_classifier

    classifier = load_nli_classifier({"checkpoint": str(tiny_bart), "batch_size": 4}, device=-1)
    raws = ["a small puppy on the grass", "dog", "a dog or a car", "a small puppy on the grass"]
    options = [
        ["dog", "car", "airplane"],
        ["dog", "car"],
        ["dog", "car"],
        ["airplane", "car", "dog"],
    ]
    mapped = map_answers(raws, options, fallback="nli", nli_loader=lambda: classifier)
    assert mapped["mapping"].tolist() == ["nli", "exact", "nli", "nli"]
    for answer, candidates in zip(mapped["answer"], options, strict=True):
        assert answer in candidates
    # The same answer and candidate set, listed in another order, maps the same way.
    assert mapped["answer"].iloc[0] == mapped["answer"].iloc[3]


def test_embedding_fallback_picks_the_closest_candidate(minilm):
    assert embedding_choices([("puppy", ("car", "dog", "airplane"))], minilm) == ["dog"]
    mapped = map_answers(
        ["a puppy", "a jet plane in the sky"],
        [["dog", "car", "airplane"], ["dog", "car", "airplane"]],
        fallback="embedding",
        encoder_loader=lambda: minilm,
    )
    assert mapped["answer"].tolist() == ["dog", "airplane"]
    assert mapped["mapping"].tolist() == ["embedding", "embedding"]


# --- scoring label lists --------------------------------------------------------------------------


def _label_predictions() -> pd.DataFrame:
    options = [["dog", "cat"], ["dog", "cat"], ["cat", "dog"], ["dog", "cat"], ["cat", "dog"]]
    return pd.DataFrame(
        {
            "sample_id": ["a", "b", "c", "d", "e"],
            "label": ["dog", "cat", "dog", "cat", "dog"],
            "options": options,
            "raw": ["Dog.", "It is a dog, I think.", "dog or cat?", "hmm", None],
            "answer": ["dog", "dog", None, None, None],
            "error": [None, None, None, None, "TimeoutError: x"],
        }
    )


def test_scoring_maps_then_scores_closed_and_text_metrics():
    scores = score_predictions(_label_predictions(), LABELS_TASK)
    assert scores["mapping"].tolist() == ["exact", "inclusion", "none", "none", "none"]
    assert scores["accuracy"].tolist()[:4] == [1.0, 0.0, 0.0, 0.0]
    assert scores["parse_failure"].tolist()[:4] == [0.0, 0.0, 1.0, 1.0]
    # VLMClassifier's substring rule on the raw answer: "dog or cat?" contains the label dog.
    assert scores["textual_inclusion"].tolist()[:4] == [1.0, 0.0, 1.0, 0.0]
    assert pd.isna(scores["accuracy"].iloc[4]) and not scores["valid"].iloc[4]
    rows = summarise_scores(
        scores,
        dataset="d",
        group="g",
        task="t",
        model="m",
        task_metrics=LABELS_TASK["metrics"],
        n_resamples=20,
    )
    metrics = {row["metric"] for row in rows}
    assert {
        "accuracy",
        "textual_inclusion",
        "parse_failure",
        "macro_precision",
        "macro_recall",
        "macro_f1",
    } == metrics
    assert all(row["n_invalid"] == 1 for row in rows)


def test_scoring_with_the_embedding_fallback(minilm):
    task = {**LABELS_TASK, "fallback": "embedding"}
    scores = score_predictions(_label_predictions(), task, encoder_loader=lambda: minilm)
    assert scores["mapping"].tolist()[:4] == ["exact", "inclusion", "embedding", "embedding"]
    assert scores["answer"].iloc[2] in ("dog", "cat")


def test_reasoning_answers_are_scored_whole_and_final():
    predictions = pd.DataFrame(
        {
            "sample_id": ["a", "b"],
            "label": ["dog", "cat"],
            "raw": ["A furry pet... Answer: dog", "It could be a cat or a dog. Final answer: fox"],
            "error": [None, None],
        }
    )
    task = {
        "protocol": "open",
        "prompt": "q",
        "max_new_tokens": 256,
        "answer_extraction": "final",
        "metrics": ["textual_inclusion", "exact_match"],
    }
    parsed = pd.DataFrame([open_parse(raw, task) for raw in predictions["raw"]])
    predictions = pd.concat([predictions, parsed], axis=1)
    scores = score_predictions(predictions, task)
    assert scores["textual_inclusion"].tolist() == [1.0, 1.0]
    assert scores["textual_inclusion_final"].tolist() == [1.0, 0.0]
    assert scores["exact_match_final"].tolist() == [1.0, 0.0]
    rows = pd.DataFrame(
        summarise_scores(
            scores, dataset="d", group="prototypical", task="owc-cot", model="m", n_resamples=20
        )
    )
    assert {"textual_inclusion", "textual_inclusion_final"} <= set(rows["metric"])
    _, numeric = open_world_table(rows, {"owc-cot": "open"})
    assert list(numeric.index.get_level_values("task")) == ["owc-cot", "owc-cot (final answer)"]


def open_parse(raw, task):
    return protocol_module("open").parse(raw, None, task)


# --- multiple choice with 26 options --------------------------------------------------------------


def test_mcq26_on_thirty_classes():
    manifest = make_manifest(CLASSES, 2)
    task = {"protocol": "mcq", "k": 26, "distractors": "random", "parser": "robust"}
    requests = mcq.build_requests(manifest, CLASSES, task, {}, dataset_name="d", seed=1)
    for prompt, options, label in zip(
        requests["prompt"], requests["options"], requests["label"], strict=True
    ):
        assert len(options) == 26 == len(set(options)) and label in options
        assert "\nA. " in prompt and f"\nZ. {options[25]}\n" in prompt
    options = list(requests["options"].iloc[0])
    assert mcq.parse("Z", options, task)["answer"] == options[25]
    assert mcq.parse("(M)", options, task)["answer"] == options[12]


def _study(tmp_path: Path, **config) -> None:
    base = {
        "registries": {
            "datasets": str(REPO / "config" / "datasets.yaml"),
            "models": [str(REPO / "config" / name) for name in ("models.yaml", "demo-models.yaml")],
            "tasks": str(REPO / "config" / "tasks.yaml"),
        },
        "datasets": ["shapes"],
        "models": ["qwen2-vl-tiny"],
        "option_miner": "clip-tiny",
    }
    load_study({**base, **config}, SCHEMAS)


def test_config_refuses_mcq26_on_six_classes(tmp_path):
    with pytest.raises(ConfigError, match=r"mcq26.k: 26 options .* 6 classes; exclude"):
        _study(tmp_path, tasks=["mcq26"])
    # Excluded, the pair is skipped; mcq26 still runs on a dataset with enough classes.
    _study(tmp_path, datasets=["shapes", "caltech101"], tasks=["mcq26"],
           exclude=[{"task": "mcq26", "dataset": "shapes"}])  # fmt: skip


def test_config_refuses_constrained_decoding_on_hf(tmp_path):
    with pytest.raises(ConfigError, match="constrained decoding, which the hf backend"):
        _study(tmp_path, tasks=["mcq4-constrained"])


def test_config_needs_an_nli_model_for_the_nli_fallback(tmp_path):
    with pytest.raises(ConfigError, match="nli_model"):
        _study(tmp_path, tasks=["labels-k5"])
    with pytest.raises(ConfigError, match="is not an nli model"):
        _study(tmp_path, tasks=["labels-k5"], nli_model="clip-tiny")
    _study(tmp_path, tasks=["labels-k5"], nli_model="bart-nli-tiny")


def test_answer_mode_problems():
    mcq_task = {"protocol": "mcq", "k": 4}
    assert answer_mode_problem(mcq_task, {"backend": "hf"}) is None
    assert "hf backend" in answer_mode_problem(
        {**mcq_task, "answer_mode": "loglik"}, {"backend": "vllm"}
    )
    assert answer_mode_problem({**mcq_task, "answer_mode": "loglik"}, {"backend": "hf"}) is None
    constrained = {**mcq_task, "answer_mode": "constrained"}
    assert answer_mode_problem(constrained, {"backend": "vllm"}) is None
    assert "constrained_choice" in answer_mode_problem(constrained, {"backend": "openai"})
    assert (
        answer_mode_problem(
            constrained, {"backend": "openai", "constrained_choice": "structured_outputs"}
        )
        is None
    )
    assert "closed protocol" in answer_mode_problem(
        {"protocol": "open", "answer_mode": "loglik"}, {"backend": "hf"}
    )


# --- answer modes in the evaluation job -----------------------------------------------------------


class ChoosingFake:
    """A constrained backend stand-in: answers each sample with its last allowed choice."""

    name = "fake-vllm"

    def __init__(self):
        self.choices: list = []

    def generate(self, images, prompts, *, max_new_tokens, choices=None):
        self.choices.append(choices)
        return [Generation(text=c[-1], tokens_in=1, tokens_out=1, latency_s=0.1) for c in choices]

    def info(self):
        return {"name": self.name}

    def close(self):
        pass


@pytest.mark.parametrize("protocol", ["mcq", "labels"])
def test_constrained_choices_reach_the_backend(shapes, tmp_path, monkeypatch, protocol):
    backend = ChoosingFake()
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: backend)
    task = {
        "protocol": protocol,
        "k": 4,
        "distractors": "random",
        "parser": "foci",
        "answer_mode": "constrained",
        "max_new_tokens": 10,
        "metrics": ["accuracy"],
    }
    frame = evaluate(
        dataset_root=shapes,
        dataset_name="shapes",
        dataset_spec=SHAPES_SPEC,
        task_name="t",
        task=task,
        model_name="m",
        model_spec={"backend": "vllm", "checkpoint": "x"},
        output=tmp_path / "p.parquet",
        seed=1,
    )
    sent = [c for call in backend.choices for c in call]
    assert len(sent) == len(frame) == 12
    if protocol == "mcq":
        assert all(c == ["A", "B", "C", "D"] for c in sent)
        assert set(frame["answer_letter"]) == {"D"}
    else:
        by_id = dict(zip(frame["sample_id"], frame["options"], strict=True))
        requests = build_requests(shapes, "shapes", SHAPES_SPEC, task, seed=1)
        assert sent == [list(by_id[sid]) for sid in requests["sample_id"]]
        assert set(frame["mapping"]) == {"exact"}
    assert [list(o)[-1] for o in frame["options"]] == frame["answer"].tolist()
    assert set(frame["answer_mode"]) == {"constrained"}
    assert list(frame.columns[: len(PREDICTION_COLUMNS)]) == PREDICTION_COLUMNS


def test_constrained_on_hf_is_a_clear_job_error(shapes, tmp_path):
    task = {
        "protocol": "mcq",
        "k": 4,
        "distractors": "random",
        "answer_mode": "constrained",
        "max_new_tokens": 10,
        "metrics": ["accuracy"],
    }
    with pytest.raises(BackendError, match="hf backend does not have"):
        evaluate(
            dataset_root=shapes,
            dataset_name="shapes",
            dataset_spec=SHAPES_SPEC,
            task_name="t",
            task=task,
            model_name="m",
            model_spec={"backend": "hf", "checkpoint": "x"},
            output=tmp_path / "p.parquet",
            seed=1,
        )


def test_best_choice_takes_the_first_maximum():
    assert best_choice(json.dumps({"A": -3.0, "B": -1.0, "C": -1.0})) == 1


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory) -> Path:
    from classbench.demo import build_tiny_model

    return build_tiny_model("qwen2_vl", tmp_path_factory.mktemp("models") / "qwen2-vl")


@pytest.mark.parametrize(
    ("protocol", "target"), [("mcq", "letter"), ("mcq", "text"), ("labels", None)]
)
def test_loglik_picks_the_argmax_of_score_options(shapes, tiny_vlm, tmp_path, protocol, target):
    from classbench.backends.hf import HFBackend
    from classbench.images import load_image

    task = {
        "protocol": protocol,
        "k": 4,
        "distractors": "random",
        "parser": "foci",
        "answer_mode": "loglik",
        "metrics": ["accuracy"],
    }
    if target:
        task["loglik_target"] = target
    spec = {"backend": "hf", "checkpoint": str(tiny_vlm), "batch_size": 4, "max_pixels": 3136}
    frame = evaluate(
        dataset_root=shapes,
        dataset_name="shapes",
        dataset_spec=SHAPES_SPEC,
        task_name="t",
        task=task,
        model_name="m",
        model_spec=spec,
        output=tmp_path / "p.parquet",
        seed=1,
        limit=6,
    )
    assert set(frame["answer_mode"]) == {"loglik"} and frame["error"].isna().all()
    backend = HFBackend(spec)
    module = protocol_module(protocol)
    choices = [module.answer_choices(list(o), task) for o in frame["options"]]
    images = [
        load_image(shapes / image, 3136)
        for image in load_manifest(shapes).set_index("sample_id").loc[frame["sample_id"], "image"]
    ]
    scores = backend.score_options(images, frame["prompt"].tolist(), choices)
    backend.close()
    for raw, sample_scores, sample_choices, options, answer in zip(
        frame["raw"], scores, choices, frame["options"], frame["answer"], strict=True
    ):
        recorded = json.loads(raw)
        assert list(recorded) == sample_choices
        assert list(recorded.values()) == pytest.approx(sample_scores, abs=1e-4)
        best = max(range(len(sample_scores)), key=lambda i: (sample_scores[i], -i))
        assert answer == list(options)[best]
    if protocol == "mcq":
        expected = ["A", "B", "C", "D"] if target == "letter" else None
        assert expected is None or all(c == expected for c in choices)


# --- open-world variants --------------------------------------------------------------------------


def test_open_world_variants_verbatim():
    tasks = yaml.safe_load((REPO / "config" / "tasks.yaml").read_text())
    expected = {
        "owc-base": ("What type of object is in this photo?", 64),
        "owc-generic": ("What type of object is in this photo? Be generic.", 64),
        "owc-specific": ("What type of object is in this photo? Be specific.", 64),
        "owc-tailored": ("What type of {noun} is in this photo?", 64),
        "owc-cot": ("What type of object is in this photo? Think step by step.", 256),
    }
    for name, (prompt, budget) in expected.items():
        assert (tasks[name]["prompt"], tasks[name]["max_new_tokens"]) == (prompt, budget), name
    assert tasks["owc-cot"]["answer_extraction"] == "final"
    datasets = yaml.safe_load((REPO / "config" / "datasets.yaml").read_text())
    nouns = {name: spec.get("noun") for name, spec in datasets.items()}
    tailored = tasks["owc-tailored"]["prompt"]
    for dataset, noun in [
        ("dtd", "texture"),
        ("fgvc_aircraft", "aircraft"),
        ("flowers102", "flower"),
        ("food101", "food"),
        ("oxford_pets", "pet"),
        ("stanford_cars", "car"),
    ]:
        if dataset in datasets:
            assert nouns[dataset] == noun
            assert fill(tailored, datasets[dataset]) == f"What type of {noun} is in this photo?"


def test_label_tasks_registered():
    tasks = yaml.safe_load((REPO / "config" / "tasks.yaml").read_text())
    assert [tasks[f"labels-k{k}"]["k"] for k in (2, 5, 20, 100)] == [2, 5, 20, 100]
    assert tasks["labels-all"]["k"] == "all"
    assert tasks["mcq26"]["k"] == 26 and tasks["mcq4-loglik"]["answer_mode"] == "loglik"


def test_loglik_label_answers_are_scored_as_chosen_not_remapped():
    """In log-likelihood mode the raw answer is the scores' JSON: scoring must take the chosen
    candidate, not map (or substring-match) the JSON, which names every candidate."""
    import pandas as pd

    from classbench.scoring.score import score_predictions

    predictions = pd.DataFrame(
        {
            "sample_id": ["a", "b"],
            "label": ["rose", "tulip"],
            "options": [["rose", "tulip"], ["rose", "tulip"]],
            "raw": ['{"rose": -1.0, "tulip": -3.0}', '{"rose": -0.5, "tulip": -2.0}'],
            "answer": ["rose", "rose"],
            "error": [None, None],
        }
    )
    task = {"protocol": "labels", "answer_mode": "loglik", "fallback": "nli",
            "metrics": ["accuracy", "textual_inclusion", "parse_failure"]}  # fmt: skip
    scores = score_predictions(predictions, task)
    assert scores["mapping"].tolist() == ["loglik", "loglik"]
    assert scores["accuracy"].tolist() == [1.0, 0.0]
    assert scores["textual_inclusion"].tolist() == [1.0, 0.0]
