"""Every metric, declared once: how it scores, what it needs, and how its columns are shown.

A task lists metrics by name (``config/tasks.yaml``, enum in ``tasks.schema.yaml``). Each name
maps to a :class:`Metric` in :data:`METRICS`, and everything downstream reads that declaration:
scoring (:mod:`classbench.scoring.score`) calls its per-sample function, the summary
(:mod:`classbench.summary.aggregate`) averages its columns or computes its set statistic, and the
tables, figures and error gallery take their labels, percent scaling, value ranges and the
"correct or wrong" verdict from its columns. Adding a metric is one entry here, plus its name
in the schema's enum (a test keeps the two in step).

A per-sample function gets the answers (the answer as text, or the parsed answer: see
:attr:`Metric.reads`), the reference labels and a :class:`ScoringContext`, and returns one float64
array per column (an array alone for a single column), plus the per-sample records it declares
(:attr:`Metric.records`, e.g. the class an answer was mapped to). Models load lazily, through the
context, and only for the metrics that declare them in :attr:`Metric.needs`.

A metric declared :attr:`Metric.multi_label` is also scored against each image's set of correct
labels (a dataset's ``label_sets``): the columns get :data:`MULTI_SUFFIX`, the score is the best
over the set (any label for a 0/1 verdict, the highest similarity), and an image whose set is
empty is left out of them (and counted by the summary in ``n_no_label``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from classbench.io import as_objects
from classbench.scoring import metrics as M

# Scores of the extracted final answer (``answer_extraction: final``) carry this suffix.
FINAL_SUFFIX = "_final"
# Scores against the label set (multi-label ground truth) carry this one, before ``_final``.
MULTI_SUFFIX = "_multi"

# What a metric may need, and how a missing one is reported.
NEEDS: dict[str, str] = {
    "encoder": "a sentence encoder",
    "spacy": "a spaCy pipeline",
    "judge": "the judge's verdicts",
    "mapping_encoder": "a text encoder for mapping answers to class names",
    "classes": "the dataset's class names",
}
Need = Literal["encoder", "spacy", "judge", "mapping_encoder", "classes"]

# Parse statuses of an answer that names none of the offered candidates (label lists:
# :func:`classbench.protocols.labels.match_label`; multiple choice: the parsers of
# :mod:`classbench.protocols.mcq`). "ambiguous" names several offered ones and is not counted.
OUT_OF_LIST_STATUSES = frozenset({"no_match", "empty", "failed", "letter_out_of_range"})


@dataclass(frozen=True)
class ScoreColumn:
    """One column a metric writes: a per-sample score, or a row of the summary for an aggregate.

    ``name`` may hold placeholders for numbers (``semantic_similarity@{t}``): the column then
    stands for every name of that shape, and its labels are filled with the matched numbers.
    """

    name: str
    short: str
    """Table headers and the gallery's score chips (``TI``)."""
    long: str
    """Axis labels and captions (``textual inclusion``)."""
    proportion: bool = True
    """A share of samples in [0, 1] (a mean of 0/1 verdicts)."""
    bounds: tuple[float, float] | None = None
    """The range of a value that is not a proportion (a cosine: [-1, 1]); ``None``: unbounded."""
    percent: bool = True
    """Tables and figures show the value x100 (lmms-owc reports similarities so too)."""
    correctness_rank: int | None = None
    """Where this 0/1 column decides "correct or wrong" in the gallery: the lowest rank scored
    wins (accuracy, else textual inclusion, ...); ``None``: it decides nothing."""
    in_gallery: bool = True
    """Shown on the gallery's cards (threshold indicators restate a similarity and are not)."""

    @property
    def value_range(self) -> tuple[float, float]:
        """Where the value, and so any confidence bound, can lie."""
        if self.proportion:
            return 0.0, 1.0
        return self.bounds if self.bounds is not None else (-math.inf, math.inf)

    def match(self, name: str) -> ScoreColumn | None:
        """This column resolved for ``name`` (placeholders filled), or ``None`` if it is not it."""
        if "{" not in self.name:
            return self if name == self.name else None
        parts = re.split(r"\{(\w+)\}", self.name)
        number = "[-+.0-9eE]+"
        regex = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>{number})"
            for i, part in enumerate(parts)
        )
        found = re.fullmatch(regex, name)
        if found is None:
            return None
        values = found.groupdict()
        return replace(
            self, name=name, short=self.short.format(**values), long=self.long.format(**values)
        )


@dataclass
class ScoringContext:
    """What a per-sample function may use besides the answers and labels, for one answer column.

    Models come from loaders and load once, on first use; ``memo`` shares work between the metrics
    of one answer column (semantic similarity feeds the thresholds), ``per_answer`` the work that
    does not depend on the label (the class an answer maps to), which scoring against label sets
    reuses. ``mapping`` is the label-list mapping of each answer (``None`` for other protocols).
    """

    predictions: pd.DataFrame
    settings: Mapping[str, Any]
    loaders: Mapping[str, Callable[[], Any] | None]
    judge: pd.DataFrame | None = None
    loaded: dict[str, Any] = field(default_factory=dict)
    memo: dict[str, np.ndarray] = field(default_factory=dict)
    classes: Sequence[str] | None = None
    mapping: np.ndarray | None = None
    per_answer: dict[str, np.ndarray] = field(default_factory=dict)

    def has(self, need: str) -> bool:
        """Whether ``need`` (a key of :data:`NEEDS`) can be provided."""
        if need == "judge":
            return self.judge is not None
        if need == "classes":
            return self.classes is not None
        return self.loaders.get(need) is not None

    def repeated(self, owner: np.ndarray) -> ScoringContext:
        """This context for the samples ``owner`` (one row per (sample, label of its set)):
        the same models, the label-independent work indexed alike, a fresh label memo."""
        return replace(
            self,
            predictions=self.predictions.iloc[owner].reset_index(drop=True),
            memo={},
            mapping=None if self.mapping is None else self.mapping[owner],
            per_answer={name: values[owner] for name, values in self.per_answer.items()},
        )

    def model(self, need: str) -> Any:
        """The model for ``need``, loaded on first use."""
        if need not in self.loaded:
            loader = self.loaders.get(need)
            if loader is None:
                raise ValueError(f"no loader for {NEEDS[need]}")
            self.loaded[need] = loader()
        return self.loaded[need]

    @property
    def batch_size(self) -> int:
        return int(self.settings.get("encode_batch_size", 256))

    def similarity(self, texts: Sequence[str], labels: Sequence[str]) -> np.ndarray:
        """Semantic similarity of each text to its label, computed once per answer column."""
        if "semantic_similarity" not in self.memo:
            self.memo["semantic_similarity"] = M.semantic_similarity(
                texts, labels, self.model("encoder"), batch_size=self.batch_size
            )
        return self.memo["semantic_similarity"]

    def mapped_classes(self, texts: Sequence[str]) -> np.ndarray:
        """The class nearest to each answer by the mapping encoder, computed once."""
        if "mapped_class" not in self.per_answer:
            if self.classes is None:
                raise ValueError(f"mapping answers to classes needs {NEEDS['classes']}")
            self.per_answer["mapped_class"] = nearest_classes(
                texts, self.classes, self.model("mapping_encoder"), batch_size=self.batch_size
            )
        return self.per_answer["mapped_class"]


PerSample = Callable[
    [Sequence[Any], Sequence[str], ScoringContext], np.ndarray | dict[str, np.ndarray]
]
# A set statistic: given the valid samples' labels and parsed answers, a function of a resample's
# indices (``np.arange(n)`` for the point estimate) returning one value per column.
SetStatistic = Callable[
    [Sequence[Hashable], Sequence[Any]], Callable[[np.ndarray], tuple[float, ...]]
]


@dataclass(frozen=True)
class Metric:
    """A metric a task can list: its computation, its needs and the columns it writes."""

    name: str
    columns: tuple[ScoreColumn, ...]
    """Per-sample score columns, or for an aggregate the summary rows, in that order."""
    per_sample: PerSample | None = None
    """Scores every sample; ``None`` for an aggregate (see ``aggregate``)."""
    aggregate: SetStatistic | None = None
    """A statistic of the whole set (not a mean of samples) on the valid samples' labels and
    parsed answers, computed and bootstrapped over samples by the summary."""
    needs: frozenset[Need] = frozenset()
    reads: Literal["text", "answer"] = "text"
    """``text``: the answer as written (label lists: the raw output); ``answer``: the parsed
    answer, for label lists the candidate the label mapping chose (``None``: unparsed)."""
    on_final_answer: bool = True
    """Also scored on the extracted final answer (columns suffixed ``_final``)."""
    multi_label: bool = False
    """Also scored against each image's label set where the dataset has one (columns suffixed
    ``_multi``): the best score over the set; for an aggregate, on the resolved labels
    (:func:`resolve_label_sets`)."""
    records: tuple[str, ...] = ()
    """Per-sample columns that are not scores (text, e.g. ``mapped_class``), written beside
    them for the gallery; the per-sample function returns them in its dict."""

    def __post_init__(self) -> None:
        if (self.per_sample is None) == (self.aggregate is None):
            raise ValueError(f"metric '{self.name}': give exactly one of per_sample, aggregate")


# ------------------------------------------------------------------------- per-sample functions


def _textual_inclusion(texts: Sequence[str], labels: Sequence[str], _: ScoringContext):
    return M.textual_inclusion(texts, labels)


def _exact_match(texts: Sequence[str], labels: Sequence[str], _: ScoringContext):
    return M.exact_match(texts, labels)


def _semantic_similarity(texts: Sequence[str], labels: Sequence[str], context: ScoringContext):
    return context.similarity(texts, labels)


def _similarity_at_thresholds(
    texts: Sequence[str], labels: Sequence[str], context: ScoringContext
) -> dict[str, np.ndarray]:
    thresholds = tuple(context.settings.get("similarity_thresholds", M.SS_THRESHOLDS))
    return M.similarity_at_thresholds(context.similarity(texts, labels), thresholds)


def _concept_similarity(texts: Sequence[str], labels: Sequence[str], context: ScoringContext):
    return M.concept_semantic_similarity(
        texts, labels, context.model("encoder"), context.model("spacy"), context.batch_size
    )


def _llm_inclusion(_: Sequence[str], labels: Sequence[str], context: ScoringContext):
    if context.judge is None:
        raise ValueError(f"metric 'llm_inclusion' needs {NEEDS['judge']}")
    verdicts = context.judge.set_index("sample_id")["llm_inclusion"]
    return verdicts.reindex(context.predictions["sample_id"]).to_numpy(dtype=float)


def _accuracy(answers: Sequence[Any], labels: Sequence[str], _: ScoringContext):
    return M.accuracy(labels, list(answers))


def _parse_failure(answers: Sequence[Any], labels: Sequence[str], _: ScoringContext):
    return np.array([a is None for a in answers], dtype=np.float64)


def _accuracy_options(_: Sequence[Any], labels: Sequence[str], context: ScoringContext):
    return M.accuracy(labels, as_objects(context.predictions["answer_options"]))


def _mapped_accuracy(
    texts: Sequence[str], labels: Sequence[str], context: ScoringContext
) -> dict[str, np.ndarray]:
    mapped = context.mapped_classes(texts)
    return {"mapped_accuracy": M.accuracy(labels, list(mapped)), "mapped_class": mapped}


def _out_of_list(answers: Sequence[Any], _: Sequence[str], context: ScoringContext):
    # Log-likelihood answers are parsed from the chosen option, so they are never outside.
    predictions = context.predictions
    if "parse_status" in predictions.columns:
        statuses = as_objects(predictions["parse_status"])
        return np.array([s in OUT_OF_LIST_STATUSES for s in statuses], dtype=np.float64)
    # predictions without parse statuses (imported ones): an unread answer is outside the list
    return np.array([a is None for a in answers], dtype=np.float64)


def _macro_prf(
    labels: Sequence[Hashable], answers: Sequence[Any]
) -> Callable[[np.ndarray], tuple[float, ...]]:
    # The labels are encoded once; each bootstrap replica only indexes the code arrays.
    true, pred, n_labels = M.label_codes(labels, answers)
    return lambda idx: M.macro_prf_codes(true[idx], pred[idx], n_labels)


def nearest_classes(
    texts: Sequence[str], classes: Sequence[str], encoder: Any, *, batch_size: int = 256
) -> np.ndarray:
    """The class name nearest (cosine) to each text; an empty text maps to ``None``.

    Every distinct text and class name is encoded once, both as written (no prompt template);
    ties go to the first class in the dataset's order.
    """
    names = [str(name) for name in classes]
    embeddings, index = M.encode_unique([*names, *texts], encoder, batch_size)
    out = np.full(len(texts), None, dtype=object)
    if not len(texts) or not names:
        return out
    class_vectors = embeddings[index[: len(names)]].astype(np.float64)
    text_index = index[len(names) :]
    distinct, inverse = np.unique(text_index, return_inverse=True)
    best = np.argmax(embeddings[distinct].astype(np.float64) @ class_vectors.T, axis=1)
    chosen = best[inverse]
    for i, text in enumerate(texts):
        if text.strip():
            out[i] = names[chosen[i]]
    return out


def resolve_label_sets(
    labels: Sequence[Hashable], answers: Sequence[Any], label_sets: Sequence[Sequence[Hashable]]
) -> list[Hashable]:
    """One reference label per sample for set statistics against label sets (non-empty sets):
    the answer when it is in the set (credited as correct), else the original label when it
    is in the set, else the set's first label (the one counted as missed)."""
    resolved = []
    for label, answer, label_set in zip(labels, answers, label_sets, strict=True):
        members = list(label_set)
        if not members:
            raise ValueError("an empty label set has no reference label")
        if answer is not None and answer in members:
            resolved.append(answer)
        elif label in members:
            resolved.append(label)
        else:
            resolved.append(members[0])
    return resolved


# ------------------------------------------------------------------------------- declarations


def _cosine(name: str, short: str, long: str) -> ScoreColumn:
    """A cosine similarity, in [-1, 1]."""
    return ScoreColumn(name, short, long, proportion=False, bounds=(-1.0, 1.0))


def _by_name(*metrics: Metric) -> dict[str, Metric]:
    return {metric.name: metric for metric in metrics}


# In the order of the tasks schema's enum (a test pins the two together).
METRICS: dict[str, Metric] = _by_name(
    Metric(
        name="textual_inclusion",
        columns=(ScoreColumn("textual_inclusion", "TI", "textual inclusion", correctness_rank=1),),
        per_sample=_textual_inclusion,
        multi_label=True,
    ),
    Metric(
        name="exact_match",
        columns=(ScoreColumn("exact_match", "EM", "exact match", correctness_rank=3),),
        per_sample=_exact_match,
        multi_label=True,
    ),
    Metric(
        name="semantic_similarity",
        columns=(_cosine("semantic_similarity", "SS", "semantic similarity"),),
        per_sample=_semantic_similarity,
        needs=frozenset({"encoder"}),
        multi_label=True,
    ),
    Metric(
        name="similarity_at_thresholds",
        columns=(
            ScoreColumn(
                "semantic_similarity@{t}", "SS@{t}", "semantic similarity ≥ {t}", in_gallery=False
            ),
            ScoreColumn(
                "semantic_similarity@avg",
                "SS@avg",
                "semantic similarity ≥ t, mean over t",
                in_gallery=False,
            ),
        ),
        per_sample=_similarity_at_thresholds,
        needs=frozenset({"encoder"}),
        multi_label=True,
    ),
    Metric(
        name="concept_similarity",
        columns=(_cosine("concept_similarity", "CS", "concept similarity"),),
        per_sample=_concept_similarity,
        needs=frozenset({"encoder", "spacy"}),
        multi_label=True,
    ),
    Metric(
        name="llm_inclusion",
        columns=(ScoreColumn("llm_inclusion", "LI", "LLM inclusion", correctness_rank=2),),
        per_sample=_llm_inclusion,
        needs=frozenset({"judge"}),
        on_final_answer=False,  # the judge sees the whole answer only
    ),
    Metric(
        name="accuracy",
        columns=(ScoreColumn("accuracy", "Acc", "accuracy", correctness_rank=0),),
        per_sample=_accuracy,
        reads="answer",
        multi_label=True,
    ),
    Metric(
        name="parse_failure",
        columns=(ScoreColumn("parse_failure", "parse fail.", "parse failures"),),
        per_sample=_parse_failure,
        reads="answer",
    ),
    Metric(
        name="accuracy_options",
        columns=(ScoreColumn("accuracy_options", "Acc (options)", "accuracy over the options"),),
        per_sample=_accuracy_options,
        reads="answer",
    ),
    Metric(
        name="macro_prf",
        columns=(
            ScoreColumn("macro_precision", "P", "macro precision"),
            ScoreColumn("macro_recall", "R", "macro recall"),
            ScoreColumn("macro_f1", "F1", "macro F1"),
        ),
        aggregate=_macro_prf,
        reads="answer",
        multi_label=True,
    ),
    Metric(
        name="mapped_accuracy",
        columns=(
            ScoreColumn(
                "mapped_accuracy",
                "Acc (mapped)",
                "accuracy of the answer mapped to the nearest class",
                correctness_rank=4,
            ),
        ),
        per_sample=_mapped_accuracy,
        needs=frozenset({"mapping_encoder", "classes"}),
        multi_label=True,
        records=("mapped_class",),
    ),
    Metric(
        name="out_of_list",
        columns=(ScoreColumn("out_of_list", "out of list", "answers outside the offered list"),),
        per_sample=_out_of_list,
        reads="answer",
        on_final_answer=False,  # the offered list is judged on the answer as parsed
    ),
)


# ------------------------------------------------------------------------------------ lookups


def describe_column(name: str) -> ScoreColumn | None:
    """The declaration of a score or summary column (``…_multi``, ``…_final`` included), or
    ``None``."""
    found = _lookup(name)
    if found is not None:
        return found[1]
    if name.endswith(FINAL_SUFFIX):
        found = _lookup_multi(name.removesuffix(FINAL_SUFFIX))
        if found is not None:
            metric, column = found
            if metric.on_final_answer and metric.per_sample is not None:
                return replace(column, name=name, short=f"{column.short} (final)",
                               long=f"{column.long} (final answer)")  # fmt: skip
        return None
    found = _lookup_multi(name)
    return found[1] if found is not None else None


def multi_label_column(name: str) -> bool:
    """Whether a score or summary column is scored against the label sets."""
    return (
        name.removesuffix(FINAL_SUFFIX).endswith(MULTI_SUFFIX) and describe_column(name) is not None
    )


def _lookup(name: str) -> tuple[Metric, ScoreColumn] | None:
    for metric in METRICS.values():
        for column in metric.columns:
            found = column.match(name)
            if found is not None:
                return metric, found
    return None


def _lookup_multi(name: str) -> tuple[Metric, ScoreColumn] | None:
    """A plain column, or one scored against the label sets (``…_multi``)."""
    found = _lookup(name)
    if found is not None or not name.endswith(MULTI_SUFFIX):
        return found
    found = _lookup(name.removesuffix(MULTI_SUFFIX))
    if found is None or not found[0].multi_label:
        return None
    metric, column = found
    return metric, replace(column, name=name, short=f"{column.short} (multi)",
                           long=f"{column.long} (multi-label)")  # fmt: skip


def short_label(name: str) -> str | None:
    """A column's short label (``TI``), or ``None`` when no metric declares it."""
    column = describe_column(name)
    return column.short if column is not None else None


def long_label(name: str) -> str:
    """A column's long label (``textual inclusion``); an undeclared name reads as its words."""
    column = describe_column(name)
    return column.long if column is not None else name.replace("_", " ")


def in_percent(name: str) -> bool:
    """Whether tables and figures show the column x100 (undeclared columns: yes)."""
    column = describe_column(name)
    return column.percent if column is not None else True


def correctness_columns() -> list[str]:
    """The per-sample columns that decide "correct or wrong", first one scored wins."""
    ranked = [
        (column.correctness_rank, column.name)
        for metric in METRICS.values()
        if metric.per_sample is not None
        for column in metric.columns
        if column.correctness_rank is not None
    ]
    return [name for _, name in sorted(ranked)]


def static_columns() -> dict[str, ScoreColumn]:
    """Every column with a fixed name (no placeholder), in declaration order."""
    return {
        column.name: column
        for metric in METRICS.values()
        for column in metric.columns
        if "{" not in column.name
    }
