"""The metric registry: the schemas agree with it; scoring and summary follow its declarations."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from classbench.scoring import metrics as M
from classbench.scoring.registry import (
    METRICS,
    Metric,
    ScoreColumn,
    correctness_columns,
    describe_column,
)
from classbench.scoring.score import score_predictions
from classbench.summary.aggregate import summarise_scores

SCHEMAS = Path(__file__).resolve().parents[2] / "workflow" / "schemas"


def _schema(name: str) -> dict:
    return yaml.safe_load((SCHEMAS / name).read_text())


def test_tasks_schema_enum_is_the_registry():
    items = _schema("tasks.schema.yaml")["additionalProperties"]["properties"]["metrics"]["items"]
    assert items["enum"] == list(METRICS)


def test_config_schema_thresholds_default_is_the_metric_default():
    scoring = _schema("config.schema.yaml")["properties"]["scoring"]["properties"]
    assert tuple(scoring["similarity_thresholds"]["default"]) == M.SS_THRESHOLDS


def test_the_gallery_decides_correctness_in_declared_order():
    assert correctness_columns() == [
        "accuracy",
        "textual_inclusion",
        "llm_inclusion",
        "exact_match",
        "mapped_accuracy",
    ]


def test_column_names_resolve_to_their_declaration():
    assert describe_column("semantic_similarity@0.7").short == "SS@0.7"
    assert describe_column("semantic_similarity@avg").long == "semantic similarity ≥ t, mean over t"
    final = describe_column("textual_inclusion_final")
    assert (final.short, final.long) == ("TI (final)", "textual inclusion (final answer)")
    # the judge is never asked about the extracted final answer
    assert describe_column("llm_inclusion_final") is None
    assert describe_column("sample_id") is None and describe_column("mapping") is None
    assert describe_column("semantic_similarity").value_range == (-1.0, 1.0)
    assert describe_column("macro_f1").value_range == (0.0, 1.0)


def test_a_metric_is_per_sample_or_an_aggregate():
    column = (ScoreColumn("x", "X", "x"),)
    with pytest.raises(ValueError, match="exactly one"):
        Metric(name="x", columns=column)
    with pytest.raises(ValueError, match="exactly one"):
        Metric(name="x", columns=column, per_sample=lambda *a: a, aggregate=lambda *a: a)


class HashEncoder:
    """A sentence encoder stand-in: a fixed random unit vector per distinct text."""

    def encode(self, texts, **_):
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).normal(size=8)
            rows.append(vector / np.linalg.norm(vector))
        return np.array(rows, dtype=np.float32)


class NoConcepts:
    """A spaCy stand-in with no noun chunks or entities: CS reduces to SS of the whole answer."""

    class Doc:
        noun_chunks: tuple = ()
        ents: tuple = ()

    def pipe(self, texts, batch_size=256):
        return (self.Doc() for _ in texts)


def _predictions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sample_id": ["a", "b", "c", "d"],
            "label": ["dog", "cat", "owl", "fox"],
            "raw": ["a dog", "Cat", "bird", None],
            "answer": ["a dog", "Cat", "bird", None],
            "answer_final": ["dog", "cat", None, None],
            "error": [None, None, None, "TimeoutError"],
        }
    )


def test_every_declared_column_is_written_and_summarised():
    per_sample = [name for name, metric in METRICS.items() if metric.per_sample is not None]
    per_sample.remove("accuracy_options")  # zero-shot only: needs the options' answer
    task = {"protocol": "open", "metrics": [*per_sample, "macro_prf"]}
    judge = pd.DataFrame({"sample_id": ["a", "b", "c", "d"], "llm_inclusion": [1.0, 1.0, 0.0, 0.0]})
    encoder = HashEncoder()
    loads = []
    scores = score_predictions(
        _predictions(),
        task,
        settings={"similarity_thresholds": [0.5, 0.9]},
        encoder_loader=lambda: loads.append("encoder") or encoder,
        nlp_loader=lambda: loads.append("spacy") or NoConcepts(),
        judge=judge,
        classes=["dog", "cat", "owl", "fox"],
        mapping_encoder_loader=lambda: loads.append("mapping") or encoder,
    )
    # each model loads once for both answers
    assert sorted(loads) == ["encoder", "mapping", "spacy"]
    written = [c for c in scores.columns if describe_column(c) is not None]
    expected = [
        "textual_inclusion", "exact_match", "semantic_similarity", "semantic_similarity@0.5",
        "semantic_similarity@0.9", "semantic_similarity@avg", "concept_similarity",
        "llm_inclusion", "accuracy", "parse_failure", "mapped_accuracy", "out_of_list",
    ]  # fmt: skip
    final = [f"{c}_final" for c in expected if c not in ("llm_inclusion", "out_of_list")]
    assert written == expected + final
    assert scores["textual_inclusion"].tolist()[:3] == [1.0, 1.0, 0.0]
    # no final answer found: scored as an empty answer, wrong
    assert scores["textual_inclusion_final"].tolist()[:3] == [1.0, 1.0, 0.0]
    assert scores["llm_inclusion"].tolist()[:3] == [1.0, 1.0, 0.0]
    # CS without concepts is the similarity of the whole answer
    np.testing.assert_allclose(scores["concept_similarity"], scores["semantic_similarity"])
    assert scores.loc[~scores["valid"], written].isna().all(axis=None)

    rows = pd.DataFrame(
        summarise_scores(
            scores,
            dataset="d",
            group="g",
            task="t",
            model="m",
            task_metrics=task["metrics"],
            n_resamples=20,
        )
    )
    assert rows["metric"].tolist() == [*written, "macro_precision", "macro_recall", "macro_f1"]
    assert (rows["n_invalid"] == 1).all()


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("encoder_loader", "needs a sentence encoder"),
        ("nlp_loader", "needs a spaCy pipeline"),
        ("judge", "needs the judge's verdicts"),
    ],
)
def test_a_missing_need_is_an_error(missing, message):
    needs = {"encoder_loader": "semantic_similarity", "nlp_loader": "concept_similarity",
             "judge": "llm_inclusion"}  # fmt: skip
    given = {
        "encoder_loader": HashEncoder,
        "nlp_loader": NoConcepts,
        "judge": pd.DataFrame({"sample_id": ["a"], "llm_inclusion": [1.0]}),
    }
    given.pop(missing)
    task = {"protocol": "open", "metrics": [needs[missing]]}
    with pytest.raises(ValueError, match=f"'{needs[missing]}' {message}"):
        score_predictions(_predictions(), task, **given)
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        score_predictions(_predictions(), {"protocol": "open", "metrics": ["nope"]})


def test_a_new_declaration_is_scored_and_summarised(monkeypatch):
    def answer_words(texts, labels, context):
        return np.array([len(text.split()) for text in texts], dtype=np.float64)

    metric = Metric(
        name="answer_words",
        columns=(ScoreColumn("answer_words", "words", "words per answer", proportion=False),),
        per_sample=answer_words,
    )
    monkeypatch.setitem(METRICS, metric.name, metric)
    task = {"protocol": "open", "metrics": ["answer_words"]}
    scores = score_predictions(_predictions(), task)
    assert scores["answer_words"].tolist()[:3] == [2.0, 1.0, 1.0]
    assert scores["answer_words_final"].tolist()[:2] == [1.0, 1.0]
    rows = summarise_scores(scores, dataset="d", group="g", task="t", model="m", n_resamples=20)
    assert [row["metric"] for row in rows] == ["answer_words", "answer_words_final"]
    assert rows[0]["value"] == pytest.approx(4 / 3)
