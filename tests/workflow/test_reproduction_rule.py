"""The ``reproduction`` rule on a small demo subset, against published numbers this test writes
(a fixture, never shipped as real numbers): the join, the interval check, the figure, the
report entry, and the empty table when nothing matches."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd
import pytest
from workflow_helpers import make_workdir, snakemake, write_config

from classbench.cli import main
from classbench.io import read_parquet
from classbench.report.reproduction import NO_MATCH

pytestmark = pytest.mark.slow

HEADER = "paper,source,model,dataset,task,metric,value,scale\n"
# The contrastive baseline alone: no generative model, no judge, a minute on two cores.
SUBSET = {"datasets": ["shapes"], "models": ["clip-tiny"], "tasks": ["zeroshot"]}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    workdir = make_workdir(tmp_path_factory.mktemp("reproduction"))
    configfile = write_config(workdir, "subset.yaml", SUBSET)
    snakemake(workdir, "results/summary.parquet", configfile=configfile)
    return workdir


def _ours(workdir: Path, metric: str) -> pd.Series:
    summary = read_parquet(workdir / "results" / "summary.parquet")
    return summary.set_index("metric").loc[metric]


def _publish(workdir: Path, name: str, rows: list[str]) -> str:
    path = workdir / "config" / "published" / f"{name}.csv"
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows))
    return f"config/published/{name}.csv"


def test_the_rule_sets_published_numbers_beside_ours(workdir):
    accuracy, options = _ours(workdir, "accuracy"), _ours(workdir, "accuracy_options")
    inside = 100 * (accuracy["ci_low"] + accuracy["ci_high"]) / 2
    outside = 100 * options["ci_high"] + 5 if options["ci_high"] <= 0.9 else 0.0
    assert outside < 100 * options["ci_low"] or outside > 100 * options["ci_high"]
    fixture = _publish(workdir, "fixture", [
        f"fixture,Table 1,clip-tiny,shapes,zeroshot,accuracy,{inside:.2f},100",
        f"fixture,Table 1,clip-tiny,shapes,zeroshot,accuracy_options,{outside:.2f},100",
        "fixture,Table 2,qwen2-vl-tiny,shapes,owc-base,textual_inclusion,10.0,100",
    ])  # fmt: skip
    configfile = write_config(
        workdir, "reproduce.yaml", {**SUBSET, "reproduction": {"published": [fixture]}}
    )
    snakemake(workdir, configfile=configfile)
    table = pd.read_csv(workdir / "results" / "tables" / "reproduction.csv")
    assert table["metric"].tolist() == ["accuracy", "accuracy_options"]
    assert table["ours"].tolist() == pytest.approx(
        [100 * accuracy["value"], 100 * options["value"]]
    )
    assert table["published"].tolist() == pytest.approx([round(inside, 2), round(outside, 2)])
    assert table["in_interval"].tolist() == [True, False]
    md = (workdir / "results" / "tables" / "reproduction.md").read_text()
    assert "1 published number(s)" in md  # the owc-base row: not run here
    image = mpimg.imread(workdir / "results" / "figures" / "reproduction.png")
    assert image.shape[0] > 400 and image.std() > 0.01
    assert (workdir / "results" / "figures" / "reproduction.pdf").stat().st_size > 1000

    # The same comparison outside the workflow gives the same table.
    status = main(["compare", "--summary", str(workdir / "results" / "summary.parquet"),
                   "--published", str(workdir / fixture), "--out", str(workdir / "compare"),
                   "--models", str(workdir / "config" / "models.yaml")])  # fmt: skip
    assert status == 0
    assert pd.read_csv(workdir / "compare" / "reproduction.csv").equals(table)

    snakemake(workdir, "--report", "results/report.html", configfile=configfile)
    report = (workdir / "results" / "report.html").read_text(errors="replace")
    assert "Reproduction" in report and "reproduction.csv" in report
    assert "reproduction.png" in report


def test_no_matching_row_writes_an_empty_table_that_says_so(workdir):
    elsewhere = _publish(workdir, "elsewhere", [
        "elsewhere,Table 9,qwen2-vl-tiny,shapes,owc-base,textual_inclusion,10.0,100",
    ])  # fmt: skip
    configfile = write_config(
        workdir, "elsewhere.yaml", {**SUBSET, "reproduction": {"published": [elsewhere]}}
    )
    snakemake(workdir, configfile=configfile)
    assert pd.read_csv(workdir / "results" / "tables" / "reproduction.csv").empty
    assert NO_MATCH in (workdir / "results" / "tables" / "reproduction.md").read_text()


def test_a_published_file_with_an_unknown_model_stops_the_dry_run(workdir):
    typo = _publish(workdir, "typo", [
        "typo,Table 1,clip-tinyy,shapes,zeroshot,accuracy,50.0,100",
    ])  # fmt: skip
    configfile = write_config(
        workdir, "typo.yaml", {**SUBSET, "reproduction": {"published": [typo]}}
    )
    result = snakemake(workdir, "-n", configfile=configfile, check=False)
    assert result.returncode != 0
    assert "unknown model 'clip-tinyy'" in result.stdout + result.stderr
