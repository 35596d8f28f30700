"""Mutation testing of the modules that decide a number, one module at a time (``make mutation``).

Each module is mutated by mutmut in its own scratch copy of the project (``.mutation/<module>/``)
with only the tests that exercise it selected, so a run stays small. Every run starts afresh
(mutmut would keep a verdict reached with older tests). Prints each module's score and its
survivors; ``docs/testing.md`` records the scores and why each remaining survivor is equivalent.

    python tests/mutation.py                      # every module of MODULES
    python tests/mutation.py summary/bootstrap.py # one module
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"

# Module (under src/classbench/) -> the tests that exercise it.
MODULES: dict[str, list[str]] = {
    "summary/bootstrap.py": ["tests/summary"],
    "summary/aggregate.py": ["tests/summary", "tests/scoring/test_registry.py"],
    "ranking/ratings.py": [
        "tests/ranking/test_ratings.py",
        "tests/ranking/test_rating_laws.py",
        "tests/ranking/test_rating_inputs.py",
        "tests/ranking/test_rating_bootstrap.py",
    ],
    "protocols/mcq.py": [
        "tests/protocols/test_protocols.py",
        "tests/protocols/test_parsers.py",
        "tests/protocols/test_mcq_presentation.py",
    ],
    "scoring/metrics.py": ["tests/scoring/test_metrics.py", "tests/scoring/test_metric_laws.py"],
    "scoring/label_mapping.py": ["tests/protocols/test_labels.py"],
    "embeddings/options.py": ["tests/embeddings/test_options.py"],
    "inference/chunks.py": ["tests/inference"],
    "inference/job.py": ["tests/inference"],
    "backends/retry.py": ["tests/backends/test_openai.py"],
}


def _config(module: str, tests: list[str]) -> str:
    selection = ", ".join(json.dumps(path) for path in tests)
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f'only_mutate = ["src/classbench/{module}"]\n'
        f"pytest_add_cli_args_test_selection = [{selection}]\n"
        'pytest_add_cli_args = ["-q", "-p", "no:cacheprovider", "-m", "not slow and not slurm"]\n'
    )


def _prepare(module: str, tests: list[str]) -> Path:
    """A scratch copy of src/, tests/ and pyproject.toml with mutmut set to this module."""
    work = WORK / module.replace("/", "-").removesuffix(".py")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for folder in ("src", "tests"):
        shutil.copytree(
            ROOT / folder,
            work / folder,
            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
        )
    pyproject = (ROOT / "pyproject.toml").read_text()
    (work / "pyproject.toml").write_text(pyproject + _config(module, tests))
    return work


def run(module: str) -> dict[str, int]:
    """Mutate one module; returns mutmut's counts (killed, survived, ...)."""
    work = _prepare(module, MODULES[module])
    mutmut = [sys.executable, "-m", "mutmut"]
    subprocess.run([*mutmut, "run", "--max-children", "1"], cwd=work, check=True)
    subprocess.run([*mutmut, "export-cicd-stats"], cwd=work, check=True)
    stats = json.loads((work / "mutants" / "mutmut-cicd-stats.json").read_text())
    results = subprocess.run(
        [*mutmut, "results"], cwd=work, check=True, capture_output=True, text=True
    ).stdout
    survivors = [line.split(":")[0].strip() for line in results.splitlines() if "survived" in line]
    for name in survivors:
        shown = subprocess.run(
            [*mutmut, "show", name], cwd=work, check=True, capture_output=True, text=True
        ).stdout
        changed = [line for line in shown.splitlines() if line[:2] in ("- ", "+ ")]
        print(f"survived {name}\n" + "\n".join(changed), flush=True)
    tested = stats["total"] - stats.get("skipped", 0) - stats.get("no_tests", 0)
    killed = stats["killed"] + stats.get("timeout", 0)
    score = 100.0 * killed / tested if tested else float("nan")
    print(f"{module}: {killed}/{tested} killed ({score:.1f}%), {len(survivors)} survived",
          flush=True)  # fmt: skip
    return stats


def main(argv: list[str]) -> int:
    modules = argv or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        print(f"unknown module(s) {unknown}; choose from {list(MODULES)}", file=sys.stderr)
        return 2
    for module in modules:
        run(module)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
