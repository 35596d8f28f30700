"""Mutation testing of the modules that decide a number, one module at a time (``make mutation``).

Each module is mutated by mutmut in its own scratch copy of the project (``.mutation/<module>/``)
with only the tests that exercise it selected, so a run stays small. Every run starts afresh
(mutmut would keep a verdict reached with older tests). Prints each module's score and its
survivors; ``docs/testing.md`` records the scores and why each remaining survivor is equivalent.

    python tests/mutation.py                      # every module of MODULES
    python tests/mutation.py summary/bootstrap.py # one module
    python tests/mutation.py --recheck summary/bootstrap.py  # its survivors, with new tests

A module whose tests are slow for some functions is split into parts, ``module#part``, each
mutated in the functions ``SCOPE`` names and scored on its own.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
# Read by tests from the repository root (schemas, task and demo configs).
DATA = ("workflow", "config")

# Module (under src/classbench/) -> the tests that exercise it.
MODULES: dict[str, list[str]] = {
    "summary/bootstrap.py": ["tests/summary"],
    "summary/aggregate.py": [
        "tests/summary",
        "tests/scoring/test_registry.py",
        "tests/scoring/test_multi_label.py",
    ],
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
    # The label-list and open-world answer parsers (the mcq parser is in protocols/mcq.py).
    "protocols/labels.py": [
        "tests/protocols/test_labels.py",
        "tests/protocols/test_protocols.py",
    ],
    "protocols/open_world.py": ["tests/protocols/test_protocols.py"],
    "scoring/metrics.py": [
        "tests/scoring/test_metrics.py",
        "tests/scoring/test_metric_laws.py",
        "tests/scoring/test_metric_edges.py",
    ],
    # The sentence-encoder and spaCy metrics: each mutant loads both models (about 10 s).
    "scoring/metrics.py#encoders": [
        "tests/scoring/test_metrics.py",
        "tests/scoring/test_metric_laws.py",
        "tests/scoring/test_metric_edges.py",
        "tests/scoring/test_models.py",
    ],
    "scoring/label_mapping.py": ["tests/protocols/test_labels.py"],
    "embeddings/options.py": [
        "tests/embeddings/test_options.py",
        "tests/embeddings/test_option_edges.py",
    ],
    # The tests of resuming, chunk files and killed writes; the rest of tests/inference runs
    # jobs end to end and would take minutes per mutant.
    "inference/chunks.py": [
        "tests/inference/test_resume_key.py",
        "tests/inference/test_inference.py",
        "tests/inference/test_killed_writes.py",
    ],
    # Every test that runs a job: the resume key, the answer modes, parsing and failures.
    "inference/job.py": [
        "tests/inference",
        "tests/protocols/test_labels.py",
        "tests/backends/test_backend_registry.py",
    ],
    "backends/retry.py": ["tests/backends/test_openai.py"],
}
# Modules whose tests run torch: their workers fork from a process that has run no test, since
# torch's threads do not survive a fork and a worker forked after them crashes whatever the
# mutant. The others fork from the main process, which is quicker.
TORCH = {
    "protocols/labels.py",
    "scoring/label_mapping.py",
    "scoring/metrics.py",
    "scoring/metrics.py#encoders",
    "inference/chunks.py",
    "inference/job.py",
}
# Modules mutated only in some functions: the resume fingerprint and the chunk handling, not
# the image decoding, generation or timing code around them.
SCOPE: dict[str, list[str]] = {
    "inference/chunks.py": [
        "fingerprint", "chunk_dir", "answer_keys", "_image_hashes", "read_chunks", "_read_chunk",
        "pending_requests", "_chunks", "run_inference",
    ],
    # The parsers, not the prompt and request builders.
    "protocols/labels.py": ["parse", "normalise", "_mentions", "match_label"],
    "protocols/open_world.py": ["parse", "extract_final_answer"],
    # The string and set metrics and the two loaders; the encoder and spaCy metrics, whose
    # tests load a model, are the part below.
    "scoring/metrics.py": [
        "_check_lengths", "textual_inclusion", "exact_match", "load_sentence_encoder",
        "similarity_at_thresholds", "load_spacy", "accuracy", "macro_prf", "label_codes",
        "macro_prf_codes",
    ],
    "scoring/metrics.py#encoders": [
        "encoder_info", "encode_unique", "_row_cosines", "semantic_similarity", "spacy_info",
        "_normalise_concept", "_concepts_from_doc", "extract_concepts", "extract_concepts_batch",
        "concept_similarity_details", "concept_semantic_similarity",
    ],
}  # fmt: skip


def _source(target: str) -> str:
    """The module a target mutates: ``module`` or ``module#part``."""
    return target.split("#", 1)[0]


def _config(module: str, tests: list[str]) -> str:
    selection = ", ".join(json.dumps(path) for path in tests)
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f'process_isolation = "{"forkserver" if module in TORCH else "fork"}"\n'
        f"also_copy = [{', '.join(json.dumps(folder) for folder in DATA)}]\n"
        f'only_mutate = ["src/classbench/{_source(module)}"]\n'
        f"pytest_add_cli_args_test_selection = [{selection}]\n"
        'pytest_add_cli_args = ["-q", "-p", "no:cacheprovider", "-m", "not slow and not slurm"]\n'
    )


def _workdir(module: str) -> Path:
    return WORK / module.replace("/", "-").replace(".py", "").replace("#", "-")


def _copy(folder: str, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(
        ROOT / folder, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )


def _prepare(module: str, tests: list[str]) -> Path:
    """A scratch copy of src/, tests/, DATA and pyproject.toml, mutmut set to this module."""
    work = _workdir(module)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for folder in ("src", "tests", *DATA):
        _copy(folder, work / folder)
    pyproject = (ROOT / "pyproject.toml").read_text()
    (work / "pyproject.toml").write_text(pyproject + _config(module, tests))
    return work


def _mutmut(work: Path, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "mutmut", *args], cwd=work, check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip


def _verdicts(work: Path, module: str) -> dict[str, str]:
    """mutmut's verdict on every mutant in the module's scope."""
    results = _mutmut(work, "results", "--all", "true")
    verdicts = dict(
        (part.strip() for part in line.rsplit(":", 1))
        for line in results.splitlines()
        if ":" in line
    )
    patterns = _patterns(module)
    return {
        name: verdict
        for name, verdict in verdicts.items()
        if not patterns or any(fnmatch.fnmatch(name, pattern) for pattern in patterns)
    }


def _patterns(module: str) -> list[str]:
    dotted = "classbench." + _source(module).removesuffix(".py").replace("/", ".")
    return [f"{dotted}.x_{function}__mutmut_*" for function in SCOPE.get(module, [])]


def _refresh_sources(work: Path, module: str) -> None:
    """Bring every source file but the mutated module up to date in the scratch copy, so the
    current tests run against the current code; a changed module needs a fresh run."""
    source = Path("src/classbench") / _source(module)
    if (work / source).read_bytes() != (ROOT / source).read_bytes():
        raise SystemExit(f"{module} changed since its run: run it afresh, not --recheck")
    for target in (work / "src", work / "mutants" / "src"):
        for path in (ROOT / "src").rglob("*.py"):
            relative = path.relative_to(ROOT)
            if relative != source:
                (target.parent / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target.parent / relative)


def run(module: str, recheck: bool = False) -> dict[str, int]:
    """Mutate one module; returns how many mutants got each verdict (killed, survived, ...).

    ``recheck`` keeps the last run's verdicts and runs only its survivors (and the mutants a
    time limit left unchecked) again, against the current tests: adding a test never revives a
    killed mutant, so the score stays exact. It sees new tests in the files already selected
    (a new test file needs a fresh run) and the current code of every other module."""
    mutmut = [sys.executable, "-m", "mutmut", "run", "--max-children", "1"]
    if recheck:
        work = _workdir(module)
        if not (work / "mutants").is_dir():
            raise SystemExit(f"{module}: no earlier run to recheck in {work}")
        again = [
            name
            for name, verdict in _verdicts(work, module).items()
            if verdict in ("survived", "not checked")
        ]
        for target in (work / "tests", work / "mutants" / "tests"):
            _copy("tests", target)
        _refresh_sources(work, module)
        if again:
            subprocess.run([*mutmut, *again], cwd=work, check=True)
    else:
        work = _prepare(module, MODULES[module])
        subprocess.run([*mutmut, *_patterns(module)], cwd=work, check=True)
    verdicts = _verdicts(work, module)
    survivors = [name for name, verdict in verdicts.items() if verdict == "survived"]
    for name in survivors:
        changed = [
            line for line in _mutmut(work, "show", name).splitlines() if line[:2] in ("- ", "+ ")
        ]
        print(f"survived {name}\n" + "\n".join(changed), flush=True)
    counts = Counter(verdicts.values())
    killed = counts["killed"] + counts["timeout"]
    tested = killed + counts["survived"] + counts["suspicious"] + counts["segfault"]
    score = 100.0 * killed / tested if tested else float("nan")
    print(f"{module}: {killed}/{tested} killed ({score:.1f}%), {len(survivors)} survived; "
          f"verdicts {dict(counts)}", flush=True)  # fmt: skip
    return dict(counts)


def main(argv: list[str]) -> int:
    recheck = "--recheck" in argv
    modules = [arg for arg in argv if arg != "--recheck"] or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        print(f"unknown module(s) {unknown}; choose from {list(MODULES)}", file=sys.stderr)
        return 2
    for module in modules:
        run(module, recheck)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
