"""The repository stays lint-clean: ruff, snakefmt and Snakemake's own linter."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)


def test_ruff_clean():
    result = run(str(BIN / "ruff"), "check", "src", "tests", "workflow/scripts", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakefmt_formatted():
    result = run(str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/rules")
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakemake_lint_clean():
    result = run(sys.executable, "-m", "snakemake", "--configfile", "config/demo.yaml", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


def test_rules_name_every_file_through_the_paths_module():
    """A path pattern is written once, in classbench.paths: no rule file spells one out, and
    the rule files hold no lambdas (their functions are named, beside each rule)."""
    spelled = re.compile(r"""["'](?:results|resources|logs|benchmarks)/""")
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        text = path.read_text()
        assert not spelled.search(text), f"{path.name}: {spelled.search(text).group()}"
        assert "lambda" not in text, path.name
    assert len((REPO / "workflow" / "rules" / "common.smk").read_text().splitlines()) <= 250
