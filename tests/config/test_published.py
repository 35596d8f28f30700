"""Every published number names a model, dataset, task and metric the registries know."""

from __future__ import annotations

from pathlib import Path

import pytest

from classbench.config import load_yaml
from classbench.report.reproduction import check_published, load_published, task_computes

REPO = Path(__file__).resolve().parents[2]
FILES = sorted((REPO / "config" / "published").glob("*.csv"))
REGISTRIES = {kind: load_yaml(REPO / "config" / f"{kind}.yaml") for kind in
              ("models", "datasets", "tasks")}  # fmt: skip


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_published_rows_name_what_the_registries_know(path):
    published = load_published([path])
    assert set(published["paper"]) <= {path.stem}
    assert check_published(published, **REGISTRIES) == []


def test_the_anchors_published_numbers_are_all_there():
    assert [p.stem for p in FILES] == [
        "foci", "label-list-thesis", "lmms-owc", "revisiting-mllms", "vlmclassifier",
    ]  # fmt: skip
    assert len(load_published(FILES)) > 0


def test_the_names_check_catches_what_the_registries_do_not_know(tmp_path):
    path = tmp_path / "typo.csv"
    path.write_text(
        "paper,source,model,dataset,task,metric,value,scale\n"
        "x,T1,llava-1.5-7b,imagenet,owc-base,accuracy,1.0,100\n"
        "x,T1,llava-1.5-7c,imagenet,labels-k2,macro_precision,1.0,100\n"
        "x,T1,llava-1.5-7b,imagenett,labels-k2,macro_f1,1.0,100\n"
    )
    problems = check_published(load_published([path]), **REGISTRIES)
    assert len(problems) == 3
    assert "task 'owc-base' computes no metric 'accuracy'" in problems[0]
    assert "unknown model 'llava-1.5-7c'" in problems[1]
    assert "unknown dataset 'imagenett'" in problems[2]


def test_a_task_computes_the_columns_its_metrics_declare():
    thesis = {"metrics": ["accuracy", "macro_prf"]}
    assert task_computes(thesis, "macro_precision") and task_computes(thesis, "macro_f1")
    assert not task_computes(thesis, "macro_prf")  # the metric's name is no summary row
    cot = {"metrics": ["textual_inclusion", "llm_inclusion", "similarity_at_thresholds"],
           "answer_extraction": "final"}  # fmt: skip
    assert task_computes(cot, "textual_inclusion_final")
    assert not task_computes(cot, "llm_inclusion_final")  # the judge sees the whole answer
    assert task_computes(cot, "semantic_similarity@0.7") and task_computes(
        cot, "semantic_similarity@avg"
    )
    assert not task_computes({"metrics": ["textual_inclusion"]}, "textual_inclusion_final")
