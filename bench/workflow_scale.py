"""Snakemake on the full study: DAG construction time for a dry run and for a no-op re-run.

Everything runs in scratch copies of the workflow (``Snakefile``, ``workflow``, ``config``,
``profiles``, ``envs``); nothing in the checkout is touched.

1. Dry run: ``snakemake --configfile config/study.yaml -n --quiet --cores 2`` with nothing
   built yet (~20,000 jobs).
2. No-op re-run: every output of the DAG present. The outputs are listed with ``--summary``
   and created as empty placeholders (directories for ``directory()`` outputs) with modification
   times that follow the rule graph (``--rulegraph`` depth), then the same dry run must find
   nothing to do.
3. Scaling: the dry run of sub-studies (the first datasets and models of the config, the three
   contrastive baselines always kept) with ``--quiet rules``, which also prints the job count;
   the per-job cost is the slope of time over jobs.
4. ``--profile``: one dry run under cProfile, summarised into Snakemake's own stages and the
   workflow's (the rule files' functions: ``common.smk`` and each ``*.functions.smk``;
   ``classbench``).
5. ``--baseline-ref REV``: the dry run of the workflow and library at git revision REV (its
   ``src`` first on ``PYTHONPATH``), timed in the same session.

Run: ``.venv/bin/python bench/workflow_scale.py`` (add ``--profile``, ``--baseline-ref REV``).
"""

from __future__ import annotations

import argparse
import os
import pstats
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import yaml
from _common import REPO, header, table, verdict

from classbench import paths

GOAL_S = 30.0
COPIED = ("Snakefile", "workflow", "config", "profiles", "envs")
CONTRASTIVE = ("laion-clip-vit-l-14", "clip-vit-l-14-336", "siglip-so400m")


def copy_workflow(source: Path, target: Path) -> Path:
    """The workflow files of ``source`` (no results) copied to ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, target / name, dirs_exist_ok=True)
        elif path.exists():
            shutil.copy2(path, target / name)
    return target


def snakemake(
    workdir: Path, configfile: str, *args: str, pythonpath: Path | None = None
) -> tuple[float, subprocess.CompletedProcess]:
    """``python -m snakemake --configfile CONFIG --cores 2 ARGS`` in ``workdir``: (s, result)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if pythonpath is not None:
        env["PYTHONPATH"] = f"{pythonpath}{os.pathsep}{env.get('PYTHONPATH', '')}"
    command = [sys.executable, "-m", "snakemake", "--configfile", configfile, "--cores", "2"]
    start = time.perf_counter()
    result = subprocess.run(
        [*command, *args], cwd=workdir, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(
            f"snakemake {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}"
        )
    return seconds, result


def job_count(output: str) -> int:
    """The total of Snakemake's "Job stats" table."""
    found = re.findall(r"^total\s+(\d+)\s*$", output, flags=re.MULTILINE)
    if not found:
        raise ValueError("no job stats in the output")
    return int(found[-1])


def median_run(
    workdir: Path, configfile: str, args: list[str], repeat: int, **kwargs: Path | None
) -> tuple[float, list[float], subprocess.CompletedProcess]:
    times, result = [], None
    for _ in range(repeat):
        seconds, result = snakemake(workdir, configfile, *args, **kwargs)
        times.append(seconds)
    assert result is not None
    return sorted(times)[len(times) // 2], times, result


def rule_stages(workdir: Path, configfile: str) -> dict[str, int]:
    """Rule -> depth in Snakemake's rule graph (``--rulegraph``): 0 for rules with no producer
    upstream, else one more than the deepest rule feeding it."""
    _, result = snakemake(workdir, configfile, "--rulegraph")
    names = dict(re.findall(r'^\s*(\d+)\[label = "([^"]+)"', result.stdout, flags=re.MULTILINE))
    edges = re.findall(r"^\s*(\d+) -> (\d+)", result.stdout, flags=re.MULTILINE)
    feeds: dict[str, list[str]] = {node: [] for node in names}
    for source, target in edges:
        feeds[target].append(source)
    depth: dict[str, int] = {}

    def visit(node: str) -> int:
        if node not in depth:
            depth[node] = 1 + max((visit(up) for up in feeds[node]), default=-1)
        return depth[node]

    return {names[node]: visit(node) for node in names}


def create_outputs(workdir: Path, configfile: str) -> int:
    """Placeholders for every output of the DAG, newer stage by stage; returns how many."""
    stages = rule_stages(workdir, configfile)
    _, result = snakemake(workdir, configfile, "--summary")
    rows = [line.split("\t") for line in result.stdout.splitlines()[1:] if "\t" in line]
    directories = _directory_outputs(workdir)
    base = time.time() + 5
    for row in rows:
        path, rule = workdir / row[0], row[2]
        if any(re.fullmatch(pattern, row[0]) for pattern in directories):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        stamp = base + stages[rule]
        os.utime(path, (stamp, stamp))
    return len(rows)


def _directory_outputs(workdir: Path) -> list[str]:
    """Regexes of the ``directory(...)`` outputs declared in the rules: a pattern of
    ``classbench.paths`` (``directory(paths.MODEL_DIR)``) or, in older revisions, a literal."""
    patterns = []
    for rules in (workdir / "workflow" / "rules").glob("*.smk"):
        text = rules.read_text()
        found = re.findall(r'directory\(\s*"([^"]+)"', text)
        found += [getattr(paths, name) for name in re.findall(r"directory\(\s*paths\.(\w+)", text)]
        for pattern in found:
            patterns.append(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(pattern)))
    return patterns


def sub_config(workdir: Path, n_datasets: int, n_models: int) -> str:
    """The study restricted to its first datasets and generative models (contrastive kept)."""
    config = yaml.safe_load((workdir / "config" / "study.yaml").read_text())
    generative = [m for m in config["models"] if m not in CONTRASTIVE]
    config["datasets"] = config["datasets"][:n_datasets]
    config["models"] = generative[:n_models] + [m for m in config["models"] if m in CONTRASTIVE]
    name = f"scale-d{n_datasets}-m{n_models}.yaml"
    (workdir / "config" / name).write_text(yaml.safe_dump(config, sort_keys=False))
    return f"config/{name}"


def profile(workdir: Path, configfile: str, out: Path) -> list[list[str]]:
    """One dry run under cProfile; (stage, cumulative s) rows of the interesting functions."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "snakemake"]
    subprocess.run(
        [*command, "--configfile", configfile, "-n", "--quiet", "--cores", "2"],
        cwd=workdir,
        env=env,
        capture_output=True,
        check=True,
    )
    stats = pstats.Stats(str(out))
    entries = stats.stats  # type: ignore[attr-defined]
    total = max(v[3] for v in entries.values())

    def cumulative(file_part: str, name: str) -> float:
        return sum(
            v[3] for (file, _, func), v in entries.items() if file_part in file and func == name
        )

    def own(file_part: str) -> float:
        # Top-level functions of a file: cumulative time of the calls made from outside it.
        seconds = 0.0
        for (file, _, _), value in entries.items():
            if file_part in file:
                callers = value[4]
                seconds += sum(c[3] for (cf, _, _), c in callers.items() if file_part not in cf)
        return seconds

    rows = [
        ["whole dry run (profiled)", total],
        ["parse the Snakefile (include)", cumulative("snakemake/workflow.py", "include")],
        ["DAG: dag.init (total)", cumulative("snakemake/dag.py", "init")],
        ["  dependency resolution (dag.update)", cumulative("snakemake/dag.py", "update_")],
        ["  new_job (wildcards, input functions)", cumulative("snakemake/dag.py", "new_job")],
        ["  input functions (apply_input_function)", _one(entries, "apply_input_function")],
        [
            "  params of every job (expand_params)",
            cumulative("snakemake/rules.py", "expand_params"),
        ],
        [
            "  conda env specs (update_conda_envs)",
            cumulative("snakemake/dag.py", "update_conda_envs"),
        ],
        ["  needrun (update_needrun)", cumulative("snakemake/dag.py", "update_needrun")],
        ["  script sources per job (script.get_source)", _one(entries, "get_source")],
        ["workflow code: rule files' functions", own("workflow/rules/")],
        ["workflow code: classbench library", own("src/classbench")],
    ]
    return [[label, f"{seconds:.1f} s"] for label, seconds in rows]


def _runs(times: list[float]) -> str:
    return ", ".join(f"{t:.1f}" for t in times)


def _one(entries: dict, name: str) -> float:
    return sum(v[3] for (_, _, func), v in entries.items() if func == name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configfile", default="config/study.yaml")
    parser.add_argument("--repeat", type=int, default=2, help="timings per figure (median)")
    parser.add_argument(
        "--scale",
        default="4x10,10x20,20x20,20x39",
        help="sub-studies DATASETSxMODELS (generative models) for the scaling series; '' skips",
    )
    parser.add_argument("--profile", action="store_true", help="also profile one dry run")
    parser.add_argument("--baseline-ref", default=None, help="git revision to time as baseline")
    parser.add_argument("--skip-noop", action="store_true")
    args = parser.parse_args()
    header("Snakemake DAG construction on the full study")
    rows = []
    with tempfile.TemporaryDirectory(prefix="classbench-scale-") as tmp:
        workdir = copy_workflow(REPO, Path(tmp) / "dry")
        dry_s, dry_runs, _ = median_run(workdir, args.configfile, ["-n", "--quiet"], args.repeat)
        _, counted = snakemake(workdir, args.configfile, "-n", "--quiet", "rules")
        jobs = job_count(counted.stdout)
        print(f"dry run, {jobs:,} jobs: {dry_s:.1f} s (runs {_runs(dry_runs)})")
        base_cell = "-"
        if args.baseline_ref:
            base_dir = Path(tmp) / "baseline"
            archive = Path(tmp) / "baseline.tar"
            subprocess.run(
                ["git", "archive", "-o", str(archive), args.baseline_ref, *COPIED, "src"],
                cwd=REPO,
                check=True,
            )
            base_dir.mkdir()
            with tarfile.open(archive) as tar:
                tar.extractall(base_dir, filter="data")
            # Before config/study.yaml existed, config/config.yaml was the full study.
            base_config = args.configfile
            if not (base_dir / base_config).exists():
                base_config = "config/config.yaml"
            base_s, base_runs, _ = median_run(
                base_dir,
                base_config,
                ["-n", "--quiet"],
                args.repeat,
                pythonpath=base_dir / "src",
            )
            print(
                f"dry run at {args.baseline_ref}: {base_s:.1f} s "
                f"(runs {', '.join(f'{t:.1f}' for t in base_runs)}), {base_s / dry_s:.2f}x slower"
            )
            base_cell = f"{base_s:.0f} s at {args.baseline_ref}"
        rows.append(
            [
                f"dry run, full study ({jobs:,} jobs)",
                f"{dry_s:.0f} s",
                base_cell,
                f"< {GOAL_S:.0f} s",
                verdict(dry_s, GOAL_S, higher_is_better=False),
            ]
        )

        if not args.skip_noop:
            noop_dir = copy_workflow(REPO, Path(tmp) / "noop")
            created = create_outputs(noop_dir, args.configfile)
            noop_s, noop_runs, result = median_run(
                noop_dir, args.configfile, ["-n", "--quiet"], args.repeat
            )
            _, check = snakemake(noop_dir, args.configfile, "-n", "--quiet", "rules")
            nothing = "Nothing to be done" in check.stdout + check.stderr
            print(
                f"no-op re-run ({created:,} outputs present): {noop_s:.1f} s "
                f"(runs {', '.join(f'{t:.1f}' for t in noop_runs)}); nothing to do: {nothing}"
            )
            if not nothing:
                print(check.stdout[-3000:])
            rows.append(
                [
                    f"no-op re-run, {created:,} outputs present",
                    f"{noop_s:.0f} s",
                    "-",
                    f"< {GOAL_S:.0f} s",
                    verdict(noop_s, GOAL_S, higher_is_better=False),
                ]
            )

        if args.scale:
            series = []
            for spec in args.scale.split(","):
                n_datasets, n_models = (int(x) for x in spec.split("x"))
                configfile = sub_config(workdir, n_datasets, n_models)
                seconds, _, result = median_run(
                    workdir, configfile, ["-n", "--quiet", "rules"], args.repeat
                )
                series.append((job_count(result.stdout), seconds))
                print(f"scale {spec}: {series[-1][0]:,} jobs, {seconds:.1f} s")
            if len(series) >= 2:
                (j0, t0), (j1, t1) = min(series), max(series)
                per_job = (t1 - t0) / (j1 - j0)
                fixed = t0 - per_job * j0
                print(
                    f"per-job cost {per_job * 1000:.2f} ms, fixed cost {fixed:.1f} s; "
                    f"jobs within {GOAL_S:.0f} s: ~{(GOAL_S - fixed) / per_job:,.0f}"
                )
                print(
                    table(
                        [[f"{j:,}", f"{t:.1f} s", f"{t / j * 1000:.2f} ms"] for j, t in series],
                        ["jobs", "dry run", "per job"],
                    )
                )

        if args.profile:
            rows_profile = profile(workdir, args.configfile, Path(tmp) / "dry.prof")
            print(table(rows_profile, ["where the dry run spends its time", "cumulative"]))
    print(table(rows, ["figure", "classbench", "baseline", "goal", "met"]))


if __name__ == "__main__":
    main()
