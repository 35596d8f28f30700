"""`classbench preflight` against a fake hub on loopback: found, missing, gated, loading script,
wrong count, dead archives and Drive pages, the disk and the Slurm executor."""

from __future__ import annotations

import stat
from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_hub import TOKEN, card, fake_hub

from classbench.checks import OK, PROBLEM, WARNING
from classbench.cli import main
from classbench.config import load_study
from classbench.data import preflight_env
from classbench.data.hub_api import Hub
from classbench.data.preflight import check_dataset, run_preflight, skip_preflight
from classbench.data.preflight_env import SlurmSettings, check_model, check_slurm

REPO = Path(__file__).resolve().parents[2]
SHA = "0123456789abcdef0123456789abcdef01234567"
PARQUET = {
    "data/test-00000-of-00001.parquet": {"size": 4000},
    "data/train-00000-of-00001.parquet": {"size": 9000},
    "README.md": {"size": 10},
}
TASKS = {"plain": {"protocol": "open", "prompt": "What is this?", "max_new_tokens": 8,
                   "metrics": ["exact_match"]}}  # fmt: skip


def hub_entry(repo: str, images: int = 6, **source: Any) -> dict[str, Any]:
    return {
        "source": {"kind": "hub", "repo": repo, "revision": "main", "split": "test", **source},
        "group": "fine-grained",
        "description": "a fixture",
        "expected": {"classes": 3, "images": images},
    }


@pytest.fixture
def hub(monkeypatch):
    """The fake hub with two datasets and one model that all check out."""
    for variable in ("HF_HUB_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    with fake_hub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        server.repo(
            "dataset",
            "org/birds",
            SHA,
            files=PARQUET,
            info=card({"train": 30, "test": 6}, ["a", "b", "c"]),
        )
        server.repo(
            "dataset",
            "org/gated-set",
            SHA,
            gated="manual",
            files=PARQUET,
            info=card({"test": 6}, ["a", "b", "c"]),
        )
        server.repo("model", "org/tiny-vlm", SHA, files={"config.json": {"size": 10}})
        yield server  # fmt: skip


def write_study(tmp_path: Path, datasets: dict, models: dict | None = None) -> Path:
    models = models or {"tiny-vlm": {"backend": "hf", "checkpoint": "org/tiny-vlm",
                                     "revision": "main", "params_b": 0.001}}  # fmt: skip
    paths = {}
    for kind, content in (("datasets", datasets), ("models", models), ("tasks", TASKS)):
        paths[kind] = str(tmp_path / f"{kind}.yaml")
        Path(paths[kind]).write_text(yaml.safe_dump(content))
    config = {"registries": paths, "datasets": list(datasets), "models": list(models),
              "tasks": ["plain"]}  # fmt: skip
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path / "config.yaml"


def preflight(tmp_path: Path, capsys, *extra: str) -> tuple[int, str]:
    """Run the command; its exit status and printed table."""
    code = main(["preflight", "--configfile", str(tmp_path / "config.yaml"), "--schemas",
                 str(REPO / "workflow" / "schemas"), "--resources", str(tmp_path / "res"),
                 *extra])  # fmt: skip
    return code, capsys.readouterr().out


def rows(output: str, status: str) -> list[str]:
    return [line for line in output.splitlines() if f"  {status}  " in line]


TWO = {"birds": hub_entry("org/birds"), "gated": hub_entry("org/gated-set", gated=True)}


def test_everything_found_passes(tmp_path, capsys, hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    write_study(tmp_path, TWO)
    code, output = preflight(tmp_path, capsys)
    assert code == 0, output
    assert not rows(output, PROBLEM)
    assert TOKEN not in output
    checks = {(c.area, c.item): c for c in study_checks(tmp_path)}
    assert checks["dataset", "birds"].detail == "org/birds split 'test': 6 rows"
    assert checks["model", "tiny-vlm"].detail == "org/tiny-vlm@main"
    # The floating revisions are named, with the command that pins them.
    assert checks["pins", "datasets"].fix == "classbench datasets pin birds gated"
    auth_checks = {r for r in hub.requests if r[1].endswith("/auth-check")}
    assert auth_checks == {("GET", "/api/datasets/org/gated-set/auth-check", f"Bearer {TOKEN}")}


def study_checks(tmp_path: Path) -> list:
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    study = load_study(config, REPO / "workflow" / "schemas")
    return run_preflight(study, resources=tmp_path / "res")


@pytest.mark.parametrize(
    ("case", "detail", "fix"),
    [
        ("404", "org/birds is not a dataset on", "check the repository id"),
        ("gated without token", "org/gated-set is gated and no token is set",
         "accept its terms at"),
        ("loading script", "holds the loading script birds.py", "parquet files"),
        ("wrong count", "split 'test' has 5 rows (card); the registry expects 6",
         "check the split"),
        ("no revision", "org/birds has no revision 'v2'", "datasets pin"),
        ("model missing", "org/tiny-vlm is not a model on", "check the repository id"),
        ("model gated", "org/tiny-vlm is gated and no token is set", "export HF_TOKEN"),
    ],
)  # fmt: skip
def test_each_problem_is_named_with_its_fix(tmp_path, hub, case, detail, fix):
    datasets = {name: dict(entry) for name, entry in TWO.items()}
    if case == "404":
        hub.missing("dataset", "org/birds")
    elif case == "loading script":
        hub.repo("dataset", "org/birds", SHA, files={**PARQUET, "birds.py": {"size": 100}},
                 info=card({"test": 6}, ["a", "b", "c"]))  # fmt: skip
    elif case == "wrong count":
        hub.repo("dataset", "org/birds", SHA, files=PARQUET,
                 info=card({"test": 5}, ["a", "b", "c"]))  # fmt: skip
    elif case == "no revision":
        datasets["birds"] = hub_entry("org/birds", revision="v2")
        hub.route("/api/datasets/org/birds/revision/v2", 404, b"{}",
                  **{"X-Error-Code": "RevisionNotFound"})  # fmt: skip
    elif case == "model missing":
        hub.missing("model", "org/tiny-vlm")
    elif case == "model gated":
        hub.repo("model", "org/tiny-vlm", SHA, gated="auto")
    if case != "gated without token":
        datasets.pop("gated")
    write_study(tmp_path, datasets)
    problems = [check for check in study_checks(tmp_path) if check.status == PROBLEM]
    assert len(problems) == 1, problems
    assert detail in problems[0].detail and fix in problems[0].fix, problems[0]


def test_a_problem_fails_the_command_and_comes_first(tmp_path, capsys, hub):
    hub.missing("dataset", "org/birds")
    write_study(tmp_path, {"birds": TWO["birds"]})
    code, output = preflight(tmp_path, capsys)
    assert code == 1
    assert len(rows(output, PROBLEM)) == 1
    assert output.index("PROBLEM") < output.index("  ok  ")
    last = output.splitlines()[-1]
    assert last.startswith("preflight: ") and last.endswith(" 1 problems")


def test_models_without_the_hub(tmp_path, monkeypatch):
    local = tmp_path / "checkpoint"
    local.mkdir()
    specs = {
        "local": ({"backend": "hf", "checkpoint": str(local)}, OK),
        "gone": ({"backend": "hf", "checkpoint": str(tmp_path / "gone")}, PROBLEM),
        "none": ({"backend": "hf"}, PROBLEM),
        "served": ({"backend": "openai", "checkpoint": "org/served"}, OK),
        "tiny": ({"backend": "hf", "tiny": "llava"}, OK),
    }
    for name, (spec, status) in specs.items():
        assert [c.status for c in check_model(name, spec, None)] == [status], name
    monkeypatch.setattr(preflight_env, "find_spec", lambda package: None)
    checks = check_model("vllm-model", {"backend": "vllm", "tiny": "llava"}, None)
    assert [(c.status, c.fix) for c in checks] == [(PROBLEM, "pip install vllm (or run with "
                                                    "--sdm conda)")]  # fmt: skip
    assert check_model("vllm-model", specs["tiny"][0], None, check_packages=False)[0].status == OK


def test_gated_token_is_checked_with_the_hub(tmp_path, hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_someone_else_0000000000000000")
    write_study(tmp_path, {"gated": TWO["gated"]})
    problems = [c for c in study_checks(tmp_path) if c.status == PROBLEM]
    assert [c.detail for c in problems] == [
        "the token in the environment may not read org/gated-set (403)"
    ]
    # A gated repository whose entry does not say so: the token would not be handed to it.
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    write_study(tmp_path, {"gated": hub_entry("org/gated-set")})
    problems = [c for c in study_checks(tmp_path) if c.status == PROBLEM]
    assert len(problems) == 1 and "lacks `gated: true`" in problems[0].detail


def test_card_names_are_matched_to_the_label_order(tmp_path, hub):
    order = tmp_path / "order.txt"
    order.write_text("n02086240-Shih-Tzu\nn02106662-German_shepherd\nn02110958-pug\n")
    hub.repo("dataset", "org/dogs", SHA, files=PARQUET,
             info=card({"test": 6}, ["pug", "Shih_Tzu", "German_shepherd"]))  # fmt: skip
    spec = hub_entry("org/dogs")
    spec["label_order"] = {"file": str(order), "match": ["strip_wnid_prefix"]}
    report = check_dataset("dogs", spec, Hub(), tmp_path / "res")
    assert [check.status for check in report.checks] == [PROBLEM]
    assert "not in the file: 'Shih_Tzu'" in report.checks[0].detail
    order.write_text("n02086240-Shih_Tzu\nn02106662-German_shepherd\nn02110958-pug\n")
    assert [c.status for c in check_dataset("dogs", spec, Hub(), tmp_path / "res").checks] == [OK]


QUOTA = b"""<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head>
<body><p class="uc-error-subcaption">Too many users have viewed or downloaded this file
recently.</p></body></html>"""
VIRUS_SCAN = b"""<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title>
</head><body><form id="download-form" action="/download" method="get">
<input type="hidden" name="id" value="FILEID"><input type="hidden" name="confirm" value="t">
</form></body></html>"""


def archive_entry(url: str) -> dict[str, Any]:
    return {
        "source": {"kind": "midframes", "archive": {"url": url, "filename": "frames.zip"},
                   "split_file": {"url": url.rsplit("/", 1)[0] + "/split.json"}, "split": "test"},
        "group": "non-prototypical",
        "expected": {"classes": 2, "images": 4},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("page", "status", "detail"),
    [
        (None, 404, "answers 404"),
        (QUOTA, 200, "answers with its 'Quota exceeded' page instead of the file"),
        (VIRUS_SCAN, 200, None),
    ],
)
def test_archives_answer_a_head_request(tmp_path, hub, page, status, detail):
    hub.file("/split.json", 200, b"{}", **{"Content-Length": "2"})
    body = page or b""
    headers = {"Content-Type": "text/html; charset=utf-8"} if page else {}
    hub.file("/uc", status, body, **headers)
    report = check_dataset("ucf", archive_entry(f"{hub.url}/uc?id=FILEID"), Hub(), tmp_path)
    problems = [check for check in report.checks if check.status == PROBLEM]
    if detail is None:
        assert not problems and "asks to confirm 'Virus scan warning'" in report.checks[0].detail
    else:
        assert len(problems) == 1 and detail in problems[0].detail
        assert f"{{path: {tmp_path}/downloads/manual/frames.zip}}" in problems[0].fix
    if page is QUOTA:
        assert "gdown 'https://drive.google.com/uc?id=FILEID'" in problems[0].fix
    # No token travels to a file host.
    assert all(auth is None for method, path, auth in hub.requests if not path.startswith("/api"))


def test_a_prepared_dataset_only_warns(tmp_path, hub):
    hub.missing("dataset", "org/birds")
    folder = tmp_path / "res" / "datasets" / "birds"
    folder.mkdir(parents=True)
    (folder / "manifest.parquet").write_bytes(b"")
    report = check_dataset("birds", TWO["birds"], Hub(), tmp_path / "res")
    assert [check.status for check in report.checks] == [WARNING]
    assert "already prepared" in report.checks[0].detail


def test_offline_asks_nothing_and_the_demo_passes(tmp_path, hub, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    write_study(tmp_path, TWO)
    code, output = preflight(tmp_path, capsys)
    assert code == 0 and hub.requests == []
    assert len(rows(output, WARNING)) >= 3 and "HF_HUB_OFFLINE is set" in output
    # Local files are checked all the same.
    entry = archive_entry("http://127.0.0.1:9/uc")
    entry["source"]["archive"] = {"path": str(tmp_path / "missing.zip")}
    report = check_dataset("ucf", entry, None, tmp_path)
    assert [(c.status, c.detail) for c in report.checks] == [
        (PROBLEM, f"archive {tmp_path / 'missing.zip'} does not exist"),
        (WARNING, "split_file not checked: HF_HUB_OFFLINE is set"),
    ]
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.chdir(REPO)  # the demo names its registries relative to the repository
    study = load_study(yaml.safe_load(Path("config/demo.yaml").read_text()), "workflow/schemas")
    checks = run_preflight(study, resources=tmp_path / "demo-resources")
    assert [c for c in checks if c.status != OK] == []
    assert hub.requests == []  # synthetic sets and tiny models need no network


def test_disk_space_from_sizes_and_hints(tmp_path, hub, monkeypatch):
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(preflight_env.shutil, "disk_usage", lambda _: Usage(10**12, 0, 10**4))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    study_path = write_study(tmp_path, {"birds": TWO["birds"]})
    study = load_study(yaml.safe_load(study_path.read_text()), REPO / "workflow" / "schemas")
    checks = disk_checks(study, tmp_path)
    # The test split's parquet (4000 bytes, not the train split's) times the hub factor.
    assert checks["resources"].status == PROBLEM
    assert "0.0 GB needed" in checks["resources"].detail and checks["resources"].fix
    assert checks["model cache"].status == PROBLEM  # 1M parameters, 2 bytes each, 10 kB free
    hub.missing("dataset", "org/birds")  # no size from the source: the hint decides
    study.datasets["birds"]["size_gb"] = 2.5
    checks = disk_checks(study, tmp_path)
    assert "about 7.5 GB needed" in checks["resources"].detail


def disk_checks(study: Any, tmp_path: Path) -> dict[str, Any]:
    return {c.item: c for c in run_preflight(study, resources=tmp_path / "res") if c.area == "disk"}


def fake_commands(folder: Path, *names: str) -> str:
    folder.mkdir(exist_ok=True)
    for name in names:
        path = folder / name
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(folder)


def test_slurm_requirements(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_commands(tmp_path / "bin", "sbatch", "squeue", "scancel",
                                             "sinfo"))  # fmt: skip
    checks = check_slurm(SlurmSettings(status_command="sacct"))
    assert [(c.item, c.status) for c in checks] == [("job status", PROBLEM)]
    assert "--slurm-status-command squeue" in checks[0].fix
    assert [c.status for c in check_slurm(SlurmSettings(status_command="squeue"))] == [OK]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    items = {c.item for c in check_slurm(SlurmSettings()) if c.status == PROBLEM}
    assert items == {"commands"}  # squeue is the default where sacct is missing


def test_the_slurm_profile_turns_the_slurm_check_on(tmp_path, capsys, hub, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    write_study(tmp_path, {"birds": TWO["birds"]})
    code, output = preflight(tmp_path, capsys, "--profile", str(REPO / "profiles" / "slurm"))
    assert code == 1 and "not on PATH: sbatch, squeue, scancel, sinfo" in output
    code, output = preflight(tmp_path, capsys, "--profile", str(REPO / "profiles" / "local"))
    assert code == 0 and not [line for line in output.splitlines() if line.startswith("slurm")]


def test_the_environment_switch():
    assert not skip_preflight({}) and not skip_preflight({"CLASSBENCH_SKIP_PREFLIGHT": "0"})
    assert skip_preflight({"CLASSBENCH_SKIP_PREFLIGHT": "1"})
