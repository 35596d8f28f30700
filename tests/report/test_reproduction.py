"""The reproduction table and figure against a published fixture written here (not real
numbers), and the ``classbench compare`` command."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from classbench.cli import main
from classbench.report.reproduction import (
    NO_MATCH,
    TABLE_COLUMNS,
    PublishedError,
    load_published,
    reproduction_figure,
    reproduction_table,
    unmatched_count,
    write_reproduction,
)

HEADER = "paper,source,model,dataset,task,metric,value,scale\n"
# Invented for the test: a percent paper and a proportion paper.
FIXTURE = HEADER + (
    'alpha,"Table 1, left",llava-tiny,shapes,owc-base,textual_inclusion,22.8,100\n'
    'alpha,"Table 1, left",llava-tiny,patterns,owc-base,textual_inclusion,40.0,100\n'
    "alpha,Table 2,big-model,shapes,owc-base,textual_inclusion,50.0,100\n"
    "beta,Sec. 4,qwen2-vl-tiny,shapes,labels-k5,macro_precision,0.85,1\n"
)


def _summary() -> pd.DataFrame:
    rows = [
        # 22.8 lies in [21.0, 25.0]: reproduced
        ("shapes", "owc-base", "llava-tiny", "textual_inclusion", 0.228, 0.21, 0.25),
        # 40.0 is above [30.0, 39.0]: not reproduced
        ("patterns", "owc-base", "llava-tiny", "textual_inclusion", 0.35, 0.30, 0.39),
        # a variant of the published qwen2-vl-tiny; no interval: no verdict
        ("shapes", "labels-k5", "qwen2-tiny-8bit", "macro_precision", 0.80, np.nan, np.nan),
        # measured but never published
        ("shapes", "owc-base", "llava-tiny", "semantic_similarity", 0.5, 0.4, 0.6),
    ]
    frame = pd.DataFrame(
        rows, columns=["dataset", "task", "model", "metric", "value", "ci_low", "ci_high"]
    )
    return frame.assign(group="prototypical", n=48, n_invalid=0)


@pytest.fixture
def published(tmp_path) -> Path:
    path = tmp_path / "published.csv"
    path.write_text(FIXTURE)
    return path


def test_join_converts_to_the_papers_scale_and_checks_the_interval(published):
    rows = load_published([published])
    assert rows["digits"].tolist() == [1, 1, 1, 2]
    table = reproduction_table(_summary(), rows, variants={"qwen2-tiny-8bit": "qwen2-vl-tiny"})
    assert list(table.columns[: len(TABLE_COLUMNS)]) == TABLE_COLUMNS
    assert len(table) == 3  # big-model was not run; semantic similarity was not published
    by = table.set_index(["dataset", "model"])
    hit = by.loc[("shapes", "llava-tiny")]
    assert (hit["ours"], hit["ci_low"], hit["ci_high"]) == pytest.approx((22.8, 21.0, 25.0))
    assert hit["difference"] == pytest.approx(0.0) and bool(hit["in_interval"]) is True
    miss = by.loc[("patterns", "llava-tiny")]
    assert miss["difference"] == pytest.approx(-5.0) and bool(miss["in_interval"]) is False
    variant = by.loc[("shapes", "qwen2-tiny-8bit")]
    assert variant["published_model"] == "qwen2-vl-tiny" and variant["scale"] == 1
    assert variant["ours"] == pytest.approx(0.80) and variant["difference"] == pytest.approx(-0.05)
    assert pd.isna(variant["in_interval"])
    assert unmatched_count(rows, table) == 1


def test_written_table_says_number_by_number_whether_we_got_there(published, tmp_path):
    rows = load_published([published])
    table = reproduction_table(_summary(), rows, variants={"qwen2-tiny-8bit": "qwen2-vl-tiny"})
    csv, md, tex = write_reproduction(table, tmp_path / "reproduction", caption="Repro.",
                                      unmatched=unmatched_count(rows, table))  # fmt: skip
    back = pd.read_csv(csv)
    assert list(back.columns) == TABLE_COLUMNS and len(back) == 3
    text = md.read_text()
    assert "| alpha   | 1     | llava-tiny" in text
    assert "22.8 [21.0, 25.0]" in text and "+0.0" in text and "yes" in text
    assert "35.0 [30.0, 39.0]" in text and "-5.0" in text and "| no " in text
    assert "qwen2-tiny-8bit (qwen2-vl-tiny)" in text and "0.80" in text
    assert "- [1] Table 1, left" in text and "- [2] Sec. 4" in text
    assert "1 published number(s)" in text
    latex = tex.read_text()
    assert "\\toprule" in latex and "22.8 [21.0, 25.0]" in latex
    assert "textual\\_inclusion" in latex


def test_no_matching_row_is_an_empty_table_that_says_so(published, tmp_path):
    rows = load_published([published])
    table = reproduction_table(_summary().assign(model="other"), rows)
    assert table.empty
    csv, md, tex = write_reproduction(table, tmp_path / "empty", caption="Repro.", unmatched=4)
    assert list(pd.read_csv(csv).columns) == TABLE_COLUMNS
    assert NO_MATCH in md.read_text() and "4 published number(s)" in md.read_text()
    assert NO_MATCH in tex.read_text()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("paper,model\nx,y\n", "missing column"),
        (HEADER + "a,s,m,d,t,accuracy,high,100\n", ":2: value 'high'"),
        (HEADER + "a,s,m,d,t,accuracy,0.5,10\n", "scale must be 1 or 100"),
    ],
)
def test_malformed_published_files_are_refused_with_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(PublishedError, match=message):
        load_published([path])


def test_compare_command_writes_the_table_and_the_figure(published, tmp_path):
    summary = tmp_path / "summary.parquet"
    _summary().to_parquet(summary)
    models = tmp_path / "models.yaml"
    models.write_text("qwen2-tiny-8bit: {backend: hf, variant_of: qwen2-vl-tiny}\n")
    out = tmp_path / "out"
    status = main(["compare", "--summary", str(summary), "--published", str(published),
                   "--models", str(models), "--out", str(out)])  # fmt: skip
    assert status == 0
    table = pd.read_csv(out / "reproduction.csv")
    assert len(table) == 3 and table["in_interval"].tolist()[:2] == [False, True]
    image = mpimg.imread(out / "reproduction.png")
    assert image.shape[0] > 400 and image.shape[1] > 400 and np.std(image) > 0.01
    assert (out / "reproduction.pdf").stat().st_size > 1000


def test_the_figure_draws_the_diagonal_and_every_number_in_percent(published):
    rows = load_published([published])
    table = reproduction_table(_summary(), rows, variants={"qwen2-tiny-8bit": "qwen2-vl-tiny"})
    ax = reproduction_figure(table).axes[0]
    diagonal = ax.lines[0]
    assert list(diagonal.get_xdata()) == [0, 100] and list(diagonal.get_ydata()) == [0, 100]
    points = sorted(
        (float(x), float(y))
        for container in ax.containers  # one error-bar series per paper
        for x, y in zip(*container.lines[0].get_data(), strict=True)
    )
    # both papers in %: the proportion paper's 0.85 / 0.80 as 85 / 80
    expected = [(22.8, 22.8), (40.0, 35.0), (85.0, 80.0)]
    np.testing.assert_allclose(np.array(points), np.array(expected))
    assert ax.get_xlim() == ax.get_ylim() == (0, 100)
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"y = x", "alpha", "beta"}
    empty = reproduction_figure(table.iloc[:0]).axes[0]
    assert any("No published number" in t.get_text() for t in empty.texts)


def test_compare_command_reports_a_bad_file_instead_of_a_traceback(tmp_path, capsys):
    summary = tmp_path / "summary.parquet"
    _summary().to_parquet(summary)
    bad = tmp_path / "bad.csv"
    bad.write_text("paper\n")
    status = main(["compare", "--summary", str(summary), "--published", str(bad),
                   "--out", str(tmp_path / "out")])  # fmt: skip
    assert status == 2 and "missing column" in capsys.readouterr().err
