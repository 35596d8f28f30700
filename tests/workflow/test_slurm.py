"""The Slurm profile, as users run it: a dry run anywhere, and the demo on a real Slurm cluster.

The dry run (no Slurm needed) checks what the profile and the model registry request: GPUs
only for the GPU rules, and memory, runtime and GPU count that grow with the model's size.

The cluster tests start a real single-node Slurm (Debian's ``slurm-wlm`` and ``munge``, installed
when missing and running as root) with one fake GPU, run the demo DAG through
``--profile profiles/slurm`` with the flags of a cluster without accounting, cancel an inference
job half way with ``scancel``, and check that every inference job went through ``sbatch`` with a
GPU request, that the cancelled job resumed from its checkpoint chunks, and that a second run
submits nothing. Every daemon is stopped at the end.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from workflow_helpers import make_workdir, write_config

from classbench.config import DEFAULT_RESOURCES, Study
from classbench.io import read_metadata, read_parquet

SLURM_BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel",
                  "srun", "sinfo")  # fmt: skip
GPU_RULES = {"infer", "judge", "embed", "elo_judge_games"}
# Rules that must never reach Slurm: downloads, model builds, tables and figures.
LOCAL_RULES = {"prepare_dataset", "build_tiny_model", "table", "figure"}
# The flags a user of a cluster without accounting adds; the rest (partition) is site-specific.
NO_ACCOUNTING = ("--slurm-no-account", "--slurm-status-command", "squeue")
# Test-only speed-ups: poll Slurm every second instead of every 40 s at first.
FAST_POLLING = ("--slurm-init-seconds-before-status-checks", "1",
                "--seconds-between-status-checks", "1", "--latency-wait", "5")  # fmt: skip
SLOW_MODEL = "qwen2-vl-tiny"
SLOW_TARGET = f"results/predictions/shapes/owc-base/{SLOW_MODEL}.parquet"
SAMPLES = 48  # images of the demo's `shapes` set


# --- a single-node Slurm cluster -----------------------------------------------------------------
@dataclass
class LocalSlurm:
    """A running single-node cluster: its config, the environment to reach it, its daemons."""

    root: Path
    host: str
    env: dict[str, str]
    daemons: list[subprocess.Popen] = field(default_factory=list)

    def run(self, *command: str, check: bool = True) -> str:
        result = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=60, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed: {result.stderr}")
        return result.stdout

    def jobs(self) -> dict[str, dict[str, str]]:
        """Every job the controller remembers (MinJobAge keeps finished ones), by job id."""
        output = self.run("scontrol", "show", "job", "--oneliner", check=False)
        jobs = {}
        for line in output.splitlines():
            fields = dict(re.findall(r"(\w+)=(\S*)", line))
            if "JobId" in fields:
                jobs[fields["JobId"]] = fields
        return jobs

    def stop(self) -> None:
        """Cancel what is left, then stop every daemon by its process id."""
        if self.daemons:
            subprocess.run(["scancel", "--full", "--user", "root"], env=self.env,
                           capture_output=True, timeout=30, check=False)  # fmt: skip
        for process in reversed(self.daemons):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.daemons):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.daemons.clear()


def _missing_binaries() -> list[str]:
    return [name for name in SLURM_BINARIES if shutil.which(name, path=_sbin_path()) is None]


def _sbin_path() -> str:
    # The daemons live in /usr/sbin, which a non-login PATH may lack.
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


def _install_slurm() -> str | None:
    """Install Debian's Slurm and munge if they are missing; the reason to skip, else None."""
    if not sys.platform.startswith("linux"):
        return "a local Slurm cluster needs Linux"
    if os.geteuid() != 0:
        return "starting slurmd needs root"
    if not _missing_binaries():
        return None
    if shutil.which("apt-get") is None:
        return f"Slurm is not installed ({', '.join(_missing_binaries())}) and there is no apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = (
        ["apt-get", "-o", "DPkg::Lock::Timeout=120", "update", "-qq"],
        ["apt-get", "-o", "DPkg::Lock::Timeout=120", "install", "-y", "-qq",
         "--no-install-recommends", "slurm-wlm", "munge"],
    )  # fmt: skip
    for command in steps:
        try:
            result = subprocess.run(
                command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=600, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return f"{' '.join(command[:4])} timed out"
        if result.returncode != 0:
            return f"{' '.join(command)} failed: {result.stderr.strip()[-500:]}"
    missing = _missing_binaries()
    return f"Slurm installed but {', '.join(missing)} missing" if missing else None


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _real_memory_mb() -> int:
    with open("/proc/meminfo") as handle:
        total_kb = int(next(line for line in handle if line.startswith("MemTotal")).split()[1])
    # Without cgroups Slurm only books memory, it does not enforce it, and `config_overrides`
    # lets the node claim more than it has: enough for two 8 GB scoring jobs on a small machine.
    return max(int(total_kb / 1024 * 0.8), 16_384)


def _slurm_conf(root: Path, host: str, ports: list[int]) -> str:
    return "\n".join([
        "ClusterName=classbench-test",
        f"SlurmctldHost={host}(127.0.0.1)",
        f"SlurmctldPort={ports[0]}",
        f"SlurmdPort={ports[1]}",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={root}/munge-run/munge.socket",
        f"StateSaveLocation={root}/state",
        f"SlurmdSpoolDir={root}/spool",
        f"SlurmctldPidFile={root}/slurmctld.pid",
        f"SlurmdPidFile={root}/slurmd.pid",
        f"SlurmctldLogFile={root}/log/slurmctld.log",
        f"SlurmdLogFile={root}/log/slurmd.log",
        # cgroups are unreliable in containers; track processes by /proc instead.
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        # No slurmdbd: `sacct` knows nothing, so the profile is run with the squeue status
        # command, which needs finished jobs to stay visible for a while (MinJobAge).
        "AccountingStorageType=accounting_storage/none",
        "JobAcctGatherType=jobacct_gather/none",
        "JobCompType=jobcomp/none",
        "MinJobAge=900",
        "MpiDefault=none",
        "ReturnToService=2",
        "KillWait=5",
        "SchedulerType=sched/backfill",
        "SchedulerParameters=bf_interval=2",
        "SlurmdParameters=config_overrides",
        "GresTypes=gpu",
        f"NodeName={host} NodeAddr=127.0.0.1 CPUs={min(2, os.cpu_count() or 1)} "
        f"RealMemory={_real_memory_mb()} Gres=gpu:fake:1 State=UNKNOWN",
        f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP",
        "",
    ])  # fmt: skip


def _start(cluster: LocalSlurm, *command: str) -> None:
    log = open(cluster.root / "log" / f"{Path(command[0]).name}.out", "w")  # noqa: SIM115
    process = subprocess.Popen(command, env=cluster.env, stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    log.close()
    cluster.daemons.append(process)


def _wait_until(condition, timeout: float, what: str, cluster: LocalSlurm) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        for process in cluster.daemons:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args[0]} exited while waiting for {what}")
        time.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


def start_cluster(root: Path) -> LocalSlurm:
    """Write the config under ``root`` and start munged, slurmctld and slurmd in the foreground
    (no systemd), each as a child process; wait until the node is idle."""
    host = socket.gethostname().split(".")[0]
    bin_dir = root / "bin"
    for name in ("munge-key", "munge-run", "state", "spool", "log", "bin"):
        (root / name).mkdir()
    # munged checks the permissions of its key and socket directories.
    (root / "munge-key").chmod(0o700)
    (root / "munge-run").chmod(0o755)
    key = root / "munge-key" / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o600)
    conf = root / "slurm.conf"
    conf.write_text(_slurm_conf(root, host, _free_ports(2)))
    # A fake GPU: slurmd needs a device file per GPU; /dev/null stands in for /dev/nvidia0.
    (root / "gres.conf").write_text(f"NodeName={host} Name=gpu Type=fake File=/dev/null\n")
    # The jobstep plugin strips SLURM_* variables (SLURM_CONF included) before the `srun` it
    # runs inside each job. A real cluster's clients find /etc/slurm/slurm.conf; this private
    # cluster's config is found through a wrapper instead of overwriting a system file.
    srun = bin_dir / "srun"
    srun.write_text(f'#!/bin/sh\nSLURM_CONF={conf} exec {shutil.which("srun")} "$@"\n')
    srun.chmod(0o755)
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLURM_")}
    env.update(SLURM_CONF=str(conf), PATH=os.pathsep.join([str(bin_dir), _sbin_path()]))
    cluster = LocalSlurm(root=root, host=host, env=env)
    try:
        socket_path = root / "munge-run" / "munge.socket"
        _start(cluster, shutil.which("munged", path=_sbin_path()), "--foreground",
               f"--key-file={key}", f"--socket={socket_path}",
               f"--pid-file={root}/munge-run/munged.pid", f"--log-file={root}/log/munged.log",
               f"--seed-file={root}/munge-run/munged.seed")  # fmt: skip
        _wait_until(socket_path.exists, 30, "munged", cluster)
        _start(cluster, shutil.which("slurmctld", path=_sbin_path()), "-D", "-f", str(conf))
        _wait_until(lambda: cluster.run("scontrol", "ping", check=False).count("UP") > 0, 60,
                    "slurmctld", cluster)  # fmt: skip
        _start(cluster, shutil.which("slurmd", path=_sbin_path()), "-D", "-f", str(conf),
               "-N", host)  # fmt: skip

        def idle() -> bool:
            state = cluster.run("sinfo", "--noheader", "--format=%T", check=False).strip()
            if state.startswith(("down", "drain")):
                cluster.run("scontrol", "update", f"nodename={host}", "state=resume",
                            check=False)  # fmt: skip
            return state == "idle"

        _wait_until(idle, 90, "the node to become idle", cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture(scope="session")
def slurm() -> Iterator[LocalSlurm]:
    reason = _install_slurm()
    if reason:
        pytest.skip(f"no local Slurm cluster: {reason}")
    # Not under pytest's tmp dir: munged wants every directory above its socket to be
    # world-searchable, and pytest's base temp dir is private.
    root = Path(tempfile.mkdtemp(prefix="classbench-slurm-"))
    root.chmod(0o755)
    try:
        cluster = start_cluster(root)
    except RuntimeError as error:
        logs = "\n".join(p.read_text()[-2000:] for p in (root / "log").glob("*") if p.is_file())
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"the local Slurm cluster did not start: {error}\n{logs}")
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


# --- the demo through the Slurm profile ----------------------------------------------------------
def _slurm_snakemake(configfile: str, *args: str) -> list[str]:
    """The user's command on a cluster without accounting, plus test-only polling settings."""
    return [
        sys.executable, "-m", "snakemake", "--configfile", configfile,
        "--profile", "profiles/slurm", *NO_ACCOUNTING,
        "--default-resources", "slurm_partition=debug",
        *FAST_POLLING, "--slurm-keep-successful-logs", *args,
    ]  # fmt: skip


def _workflow_env(cluster: LocalSlurm) -> dict[str, str]:
    return {**cluster.env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}  # fmt: skip


@dataclass
class SlurmRun:
    """What the first run through the Slurm profile left behind."""

    workdir: Path
    configfile: str
    cancelled: str
    output: str
    jobs: dict[str, dict[str, str]]


def _demo_on_slurm(workdir: Path) -> str:
    """One dataset, two generative models, the open-world task (with its judge): the demo's
    tiny models, except that inference requests the fake GPU and one model is made slow."""
    path = workdir / "config" / "demo-models.yaml"
    models = yaml.safe_load(path.read_text())
    for name in (SLOW_MODEL, "llava-tiny"):
        models[name]["resources"] = {"gpus": 1, "cpus_per_gpu": 1, "mem_mb": 3000, "runtime": 15}
    # One image per batch and two per chunk: slow enough to cancel half way.
    models[SLOW_MODEL]["batch_size"] = 1
    path.write_text(yaml.safe_dump(models, sort_keys=False))
    return write_config(workdir, "slurm.yaml", {
        "datasets": ["shapes"], "models": [SLOW_MODEL, "llava-tiny"], "tasks": ["owc-base"],
        "inference": {"chunk_size": 2}, "elo": {"scopes": ["all"]},
    })  # fmt: skip


def _infer_job(cluster: LocalSlurm) -> str | None:
    for job_id, job in cluster.jobs().items():
        if job.get("JobState") == "RUNNING" and job.get("Comment", "").startswith(
            f"rule_infer_wildcards_shapes_owc-base_{SLOW_MODEL}"
        ):
            return job_id
    return None


@pytest.fixture(scope="module")
def slurm_run(slurm: LocalSlurm, tmp_path_factory) -> SlurmRun:
    """Run the demo through the profile; `scancel` the slow inference job after 3 chunks."""
    workdir = make_workdir(tmp_path_factory.mktemp("slurm"))
    configfile = _demo_on_slurm(workdir)
    log = workdir / "run1.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(
            _slurm_snakemake(configfile), cwd=workdir, env=_workflow_env(slurm),
            stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    chunks = workdir / f"{SLOW_TARGET}.chunks"
    cancelled = None
    try:
        deadline = time.monotonic() + 300
        while cancelled is None and time.monotonic() < deadline and process.poll() is None:
            if len(list(chunks.glob("*/chunk-*.parquet"))) >= 3:
                cancelled = _infer_job(slurm)
                if cancelled:
                    # What a time limit or a preemption does to the job.
                    slurm.run("scancel", cancelled)
                    break
            time.sleep(0.05)
        assert cancelled, f"the slow inference job was not caught running:\n{log.read_text()}"
        process.wait(timeout=420)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
    output = log.read_text()
    assert process.returncode == 0, f"the Slurm run failed:\n{output[-6000:]}"
    return SlurmRun(workdir, configfile, cancelled, output, slurm.jobs())


def _rule(job: dict[str, str]) -> str:
    match = re.match(r"rule_(\w+?)(?:_wildcards_|$)", job.get("Comment", ""))
    return match.group(1) if match else ""


@pytest.mark.slow
@pytest.mark.slurm
def test_inference_jobs_request_the_gpu_and_succeed(slurm, slurm_run):
    by_rule: dict[str, list[dict[str, str]]] = {}
    for job in slurm_run.jobs.values():
        by_rule.setdefault(_rule(job), []).append(job)
    infer = by_rule.pop("infer")
    assert {job["Comment"] for job in infer if job["JobState"] == "COMPLETED"} == {
        f"rule_infer_wildcards_shapes_owc-base_{model}" for model in (SLOW_MODEL, "llava-tiny")
    }
    for job in infer:
        # --gpus=1 --cpus-per-gpu=1 from the registry, in the partition from the command line.
        assert job["TresPerJob"] == "gres:gpu:1", job
        assert job["CpusPerTres"] == "gres:gpu:1", job
        assert job["Partition"] == "debug"
    # The judge's, scoring's and ranking's jobs request no GPU (the tiny judge asks for none).
    assert {"judge", "score", "summary", "elo"} <= set(by_rule)
    for rule, jobs in by_rule.items():
        for job in jobs:
            assert "gpu" not in job.get("TresPerJob", ""), (rule, job)
            assert job["JobState"] == "COMPLETED", (rule, job)
    assert not LOCAL_RULES & set(by_rule), "a local rule was submitted to Slurm"
    for rule in LOCAL_RULES:
        assert f"localrule {rule}:" in slurm_run.output

    # The job saw what Slurm granted: the node, its job id and the fake GPU as device 0.
    completed = {job_id for job_id, job in slurm_run.jobs.items()
                 if job["JobState"] == "COMPLETED"}  # fmt: skip
    for model in (SLOW_MODEL, "llava-tiny"):
        path = slurm_run.workdir / "results" / "predictions" / "shapes" / "owc-base"
        provenance = read_metadata(path / f"{model}.parquet")["provenance"]
        assert provenance["slurm_job_id"] in completed
        assert provenance["cuda_visible_devices"] == "0"
        assert provenance["host"].split(".")[0] == slurm.host
    assert (slurm_run.workdir / "results" / "summary.parquet").is_file()


@pytest.mark.slow
@pytest.mark.slurm
def test_cancelled_inference_resumes_from_chunks(slurm_run):
    """`scancel` half way; the profile's retry resumes from the finished chunks."""
    assert slurm_run.jobs[slurm_run.cancelled]["JobState"] == "CANCELLED"
    assert f"SLURM-job '{slurm_run.cancelled}' failed" in slurm_run.output
    metadata = read_metadata(slurm_run.workdir / SLOW_TARGET)
    assert metadata["provenance"]["slurm_job_id"] != slurm_run.cancelled
    resume = metadata["resume"]
    assert resume["reused"] > 0 and resume["computed"] > 0
    assert resume["reused"] + resume["computed"] == SAMPLES
    predictions = read_parquet(slurm_run.workdir / SLOW_TARGET)
    assert len(predictions) == SAMPLES and predictions["sample_id"].is_unique


@pytest.mark.slow
@pytest.mark.slurm
def test_second_run_submits_nothing(slurm, slurm_run):
    before = set(slurm.jobs())
    result = subprocess.run(
        _slurm_snakemake(slurm_run.configfile), cwd=slurm_run.workdir,
        env=_workflow_env(slurm), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Nothing to be done" in output
    assert "submitted with SLURM jobid" not in output
    assert set(slurm.jobs()) == before


# --- the profile's dry run, anywhere -------------------------------------------------------------
def sized_study(workdir: Path) -> tuple[str, str, str]:
    """The study's own config narrowed to one dataset, its smallest and largest generative model
    (real checkpoints with a size hint), its option miner and judge; a dry run downloads nothing.
    Returns the config file and the two models."""
    study = yaml.safe_load((workdir / "config" / "study.yaml").read_text())
    registry = yaml.safe_load((workdir / "config" / "models.yaml").read_text())
    sized = [
        name for name in study["models"]
        if registry[name]["backend"] in {"hf", "vllm"} and "params_b" in registry[name]
    ]  # fmt: skip
    small = min(sized, key=lambda name: registry[name]["params_b"])
    large = max(sized, key=lambda name: registry[name]["params_b"])
    tasks = [task for task in ("owc-base", "mcq4", "zeroshot") if task in study["tasks"]]
    study.update(datasets=study["datasets"][:1], models=[small, large, study["option_miner"]],
                 tasks=tasks, exclude=[])  # fmt: skip
    (workdir / "config" / "sized.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    return "config/sized.yaml", small, large


def dry_run_jobs(output: str) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """(rule, wildcards, resources) of every job a dry run prints."""
    jobs: list[tuple[str, dict[str, str], dict[str, str]]] = []
    for line in output.splitlines():
        header = re.match(r"(?:local)?rule (\w+):$", line)
        if header:
            jobs.append((header.group(1), {}, {}))
        elif jobs and (item := re.match(r"\s+(wildcards|resources): (.*)$", line)):
            target = jobs[-1][1] if item.group(1) == "wildcards" else jobs[-1][2]
            target.update(_pairs(item.group(2)))
    return jobs


def _pairs(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(", ") if "=" in item)


def test_dry_run_requests_gpus_for_gpu_rules_scaled_by_size(tmp_path):
    workdir = make_workdir(tmp_path / "dry")
    configfile, small, large = sized_study(workdir)
    # A machine without Slurm: no Slurm command on PATH, no SLURM_* variables.
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("sh", "which"):
        (bare / tool).symlink_to(shutil.which(tool))
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLURM_")}
    env["PATH"] = str(bare)
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--configfile", configfile,
         "--profile", "profiles/slurm", "--default-resources", "slurm_partition=gpu"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    jobs = dry_run_jobs(output)
    rules = {rule for rule, _, _ in jobs}
    assert {"infer", "judge", "embed", "score", "summary", "prepare_dataset"} <= rules, rules
    infer = {}
    for rule, wildcards, resources in jobs:
        assert "cpus_per_task" not in resources, (rule, resources)
        if rule == "all":
            continue
        assert resources["slurm_partition"] == "gpu", (rule, resources)
        if rule in GPU_RULES:
            assert int(resources["gpu"]) >= 1, (rule, resources)
            assert int(resources["cpus_per_gpu"]) >= 1, (rule, resources)
        else:
            assert "gpu" not in resources, (rule, resources)
        if rule == "infer":
            infer[wildcards["model"]] = {k: int(resources[k]) for k in ("gpu", "mem_mb", "runtime")}
    # The requests are the registry's, as Study.resources derives them from the size hints.
    registry = yaml.safe_load((workdir / "config" / "models.yaml").read_text())
    study = Study(config={}, datasets={}, models=registry, tasks={})
    for model in (small, large):
        expected = study.resources(model)
        assert infer[model] == {"gpu": expected["gpus"], "mem_mb": expected["mem_mb"],
                                "runtime": expected["runtime"]}, (model, infer)  # fmt: skip
    assert infer[small]["gpu"] == 1 and infer[large]["gpu"] >= infer[small]["gpu"], infer
    assert infer[large]["mem_mb"] > infer[small]["mem_mb"], infer
    assert infer[large]["runtime"] > infer[small]["runtime"], infer


def test_registry_size_hint_sets_the_request():
    """`params_b` scales GPUs, memory and runtime; explicit `resources` keys win."""
    hub = {"backend": "hf", "checkpoint": "org/model"}
    models = {
        "small": {**hub, "params_b": 2},
        "large": {**hub, "params_b": 72},
        "large-4bit": {**hub, "params_b": 72, "quantization": "4bit"},
        "pinned": {**hub, "params_b": 72, "resources": {"gpus": 8, "gpu_model": "a100"}},
        "sharded": {"backend": "vllm", "checkpoint": "org/model", "params_b": 72,
                    "tensor_parallel_size": 2},
        "one-engine": {"backend": "vllm", "checkpoint": "org/model", "params_b": 72},
        "served": {"backend": "openai", "checkpoint": "org/model", "params_b": 72},
        "unsized": dict(hub),
    }  # fmt: skip
    study = Study(config={}, datasets={}, models=models, tasks={})
    small, large = study.resources("small"), study.resources("large")
    assert (small["gpus"], large["gpus"]) == (1, 4)
    assert large["mem_mb"] > small["mem_mb"] >= 16000
    assert large["runtime"] > small["runtime"]
    assert small["cpus_per_gpu"] == large["cpus_per_gpu"] == DEFAULT_RESOURCES["cpus_per_gpu"]
    assert study.resources("large-4bit")["gpus"] == 1
    assert study.resources("large-4bit")["mem_mb"] < large["mem_mb"]
    pinned = study.resources("pinned")
    assert (pinned["gpus"], pinned["gpu_model"], pinned["mem_mb"]) == (8, "a100", large["mem_mb"])
    # vLLM uses exactly tensor_parallel_size GPUs; the size still sets memory and runtime.
    assert study.resources("sharded")["gpus"] == 2
    assert study.resources("one-engine")["gpus"] == 1
    assert study.resources("sharded")["mem_mb"] == large["mem_mb"]
    assert study.resources("served")["gpus"] == 0
    assert study.resources("unsized") == DEFAULT_RESOURCES
