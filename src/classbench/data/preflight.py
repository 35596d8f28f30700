"""The preflight: before any job is submitted, prove that the study can run, without downloading.

For every selected dataset it asks the source: a hub repository must exist at its revision,
hold no loading script (``datasets>=4`` refuses them), grant the token access when gated, and
have the split with the expected number of rows and class names that match the registry (from
the card's ``dataset_info`` at that revision); an archive URL must answer a HEAD request with a
file, not a web page. The models, the disk and the executor are checked in
:mod:`classbench.data.preflight_env`. Everything lands in one table of
:class:`~classbench.checks.Check` rows; a problem stops the study.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classbench.checks import OK, PROBLEM, WARNING, Check, problems, render
from classbench.config import load_yaml
from classbench.data.hub_api import Answer, Hub, offline
from classbench.data.manifest import DatasetError, DatasetFiles
from classbench.data.preflight_env import (
    SlurmSettings,
    answered,
    check_access,
    check_disk,
    check_model,
    check_slurm,
    floating_models,
    study_models,
)
from classbench.data.sources import drive
from classbench.data.sources.curation import label_order_by_name, read_class_file
from classbench.data.sources.pins import floating_references, is_hub_id

WORKERS = 8


@dataclass
class DatasetReport:
    """What the preflight learnt about one dataset: findings, and its download size if known."""

    name: str
    checks: list[Check] = field(default_factory=list)
    download_bytes: int | None = None
    summary: list[str] = field(default_factory=list)

    def add(self, status: str, detail: str, fix: str = "") -> None:
        self.checks.append(Check("dataset", self.name, status, detail, fix))


def check_dataset(
    name: str, spec: Mapping[str, Any], hub: Hub | None, resources: str | Path = "resources"
) -> DatasetReport:
    """Check one registry entry's sources. ``hub`` ``None``: no network (HF_HUB_OFFLINE)."""
    report = DatasetReport(name)
    source = spec["source"]
    kind = source["kind"]
    if kind == "synthetic":
        report.download_bytes = 0
        report.summary.append("drawn locally")
    elif kind == "hub" and not is_hub_id(source["repo"]):
        report.summary.append(f"local files ({source['repo']})")
    elif kind == "hub":
        if hub is None:
            report.add(
                WARNING,
                f"{source['repo']} not checked: HF_HUB_OFFLINE is set",
                "unset HF_HUB_OFFLINE to check it",
            )
        else:
            _hub_dataset(report, spec, hub)
    else:
        sizes = [
            _file(report, key, source[key], hub, resources)
            for key in ("archive", "split_file")
            if key in source
        ]
        report.download_bytes = total(sizes)
    if report.download_bytes is None and spec.get("size_gb"):
        report.download_bytes = int(float(spec["size_gb"]) * 1e9)
    if DatasetFiles(Path(resources) / "datasets" / name).manifest.is_file():
        # A prepared dataset is not fetched again; a dead source matters only to re-prepare it.
        report.checks = [
            Check(
                c.area,
                c.item,
                WARNING if c.status == PROBLEM else c.status,
                f"{c.detail} (already prepared: only a new preparation needs it)",
                c.fix,
            )
            for c in report.checks
        ]
        report.download_bytes = 0
    if not report.checks:
        report.add(OK, "; ".join(report.summary) or "ok")
    return report


def _hub_dataset(report: DatasetReport, spec: Mapping[str, Any], hub: Hub) -> None:
    source = spec["source"]
    repo, revision, split = str(source["repo"]), source.get("revision"), source["split"]
    info = hub.repo_info("dataset", repo, revision, files=True)
    if not answered(report.add, hub, "dataset", repo, revision, info):
        return
    files = {sibling["rfilename"]: sibling for sibling in info.data.get("siblings") or []}
    script = f"{repo.rsplit('/', 1)[-1]}.py"
    if script in files:
        report.add(
            PROBLEM,
            f"{repo} holds the loading script {script}: datasets>=4 refuses to load it",
            "point the entry at a copy of the data as parquet files (no loading script)",
        )
    check_access(report.add, hub, "dataset", repo, info.data, bool(source.get("gated")))
    card = card_info(info.data.get("cardData"), source.get("config"))
    expected = (spec.get("expected") or {}).get("images")
    rows = {s.get("name"): s.get("num_examples") for s in (card or {}).get("splits") or []}
    if rows:
        if split not in rows:
            report.add(
                PROBLEM,
                f"{repo} has no split '{split}' (its card lists: {', '.join(map(str, rows))})",
                "set source.split to one of them",
            )
        elif expected and rows[split] is not None and rows[split] != expected:
            report.add(
                PROBLEM,
                f"{repo}@{revision or 'main'} split '{split}' has {rows[split]:,} rows (card); "
                f"the registry expects {expected:,}",
                "check the split and the copy (preparation would stop on this count)",
            )
        else:
            count = rows[split]
            stated = f"{count:,} rows" if isinstance(count, int) else "found"
            report.summary.append(f"{repo} split '{split}': {stated}")
    elif not any(in_split(path, split) for path in files):
        report.add(
            PROBLEM,
            f"{repo} has no file of split '{split}'",
            "set source.split (or data_files) to the split's files",
        )
    else:
        report.summary.append(f"{repo} split '{split}' found (row count checked when prepared)")
    names = class_names(card, source.get("label_column") or "label")
    if names and not source.get("classnames_file"):
        _check_names(report, spec, names)
    classnames = source.get("classnames_file")
    if isinstance(classnames, str) and classnames not in files:
        report.add(PROBLEM, f"{repo} has no file {classnames}", "fix source.classnames_file")
    if isinstance(classnames, Mapping):
        _file(report, "classnames_file", classnames, hub, None)
    report.download_bytes = total(
        [sibling_size(s) for path, s in files.items() if in_split(path, split)]
    )


def _check_names(report: DatasetReport, spec: Mapping[str, Any], names: list[str]) -> None:
    """The card's ClassLabel names against the registry's lists, before anything is fetched."""
    try:
        label_order_by_name(report.name, spec, names)
    except DatasetError as err:
        report.add(PROBLEM, str(err), f"update {spec['label_order']['file']} to the names above")
        return
    if spec.get("classes_file"):
        try:
            listed = len(read_class_file(report.name, spec["classes_file"]))
        except DatasetError as err:
            report.add(PROBLEM, str(err), "fix classes_file")
            return
        if listed != len(names):
            report.add(
                PROBLEM,
                f"{spec['classes_file']} lists {listed} names but the source "
                f"has {len(names)} classes",
                "fix classes_file",
            )
    wanted = (spec.get("expected") or {}).get("classes")
    if wanted and wanted != len(names):
        report.add(
            PROBLEM,
            f"the source has {len(names)} classes, the registry expects {wanted}",
            "check the copy and expected.classes",
        )


def _file(
    report: DatasetReport,
    key: str,
    resource: Mapping[str, Any],
    hub: Hub | None,
    resources: str | Path | None,
) -> int | None:
    """Check one file resource; its size in bytes when known. ``hub`` ``None``: only local
    files are checked."""
    if "path" in resource:
        path = Path(resource["path"])
        if not path.is_file():
            report.add(PROBLEM, f"{key} {path} does not exist", "put the file there or fix path")
            return None
        return path.stat().st_size
    if hub is None:
        report.add(
            WARNING, f"{key} not checked: HF_HUB_OFFLINE is set", "unset HF_HUB_OFFLINE to check it"
        )
        return None
    if "repo" in resource:
        repo, revision = str(resource["repo"]), resource.get("revision")
        info = hub.repo_info("dataset", repo, revision, files=True)
        if not answered(report.add, hub, "dataset", repo, revision, info):
            return None
        check_access(report.add, hub, "dataset", repo, info.data, False)
        files = {s["rfilename"]: s for s in info.data.get("siblings") or []}
        if resource["filename"] not in files:
            report.add(
                PROBLEM,
                f"{repo}@{revision or 'main'} has no file {resource['filename']}",
                f"fix source.{key}.filename",
            )
            return None
        return sibling_size(files[resource["filename"]])
    url = str(resource["url"])
    answer = hub.probe(url)
    manual = Path(resources or "resources") / "downloads" / "manual"
    filename = resource.get("filename") or url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    how, change = drive.manual_steps(url, filename, manual, key, report.name)
    if answer.status == 0:
        report.add(
            PROBLEM,
            f"cannot reach {url}: {answer.message}",
            f"check the network, or download by hand: {how}; then set {change}",
        )
        return None
    if not answer.ok:
        report.add(
            PROBLEM,
            f"{url} answers {answer.status}",
            f"the file moved: download it from a mirror, then set {change}",
        )
        return None
    if drive.looks_like_page(answer.headers.get("content-type"), answer.body):
        page = drive.read_page(url, answer.body)
        if page is not None and page.confirm_url:
            report.summary.append(
                f"{key}: Google Drive asks to confirm '{page.title}'; the download confirms it"
            )
            return None
        what = f"its '{page.title}' page" if page else "a web page"
        report.add(
            PROBLEM,
            f"{url} answers with {what} instead of the file",
            f"download it by hand: {how}; then set {change}",
        )
        return None
    return content_length(answer)


def card_info(card_data: Any, config: str | None) -> dict[str, Any] | None:
    """The card's ``dataset_info`` for ``config`` (a card lists one per config, or just one)."""
    info = (card_data or {}).get("dataset_info") if isinstance(card_data, Mapping) else None
    if isinstance(info, list):
        wanted = config or "default"
        chosen = [entry for entry in info if entry.get("config_name") == wanted]
        info = chosen[0] if chosen else (info[0] if len(info) == 1 else None)
    return info if isinstance(info, dict) else None


def class_names(card: Mapping[str, Any] | None, column: str) -> list[str] | None:
    """The ClassLabel names of ``column`` in a card's features, in label order."""
    features = (card or {}).get("features") or []
    if isinstance(features, Mapping):
        features = [{"name": key, **value} for key, value in features.items()]
    for feature in features:
        dtype = feature.get("dtype") if isinstance(feature, Mapping) else None
        if feature.get("name") == column and isinstance(dtype, Mapping):
            names = (dtype.get("class_label") or {}).get("names")
            if isinstance(names, Mapping):
                return [str(names[key]) for key in sorted(names, key=int)]
            if isinstance(names, list):
                return [str(name) for name in names]
    return None


def in_split(path: str, split: str) -> bool:
    """Whether a repository file belongs to ``split`` (``data/test-0000.parquet``)."""
    return re.search(rf"(?:^|[/_.-]){re.escape(split)}(?:[/_.-]|$)", path) is not None


def total(sizes: Sequence[int | None]) -> int | None:
    """The sum of known sizes; ``None`` when there are none or one is unknown."""
    known = [size for size in sizes if size is not None]
    return sum(known) if sizes and len(known) == len(sizes) else None


def sibling_size(sibling: Mapping[str, Any]) -> int | None:
    size = sibling.get("size") or (sibling.get("lfs") or {}).get("size")
    return int(size) if size is not None else None


def content_length(answer: Answer) -> int | None:
    total = answer.headers.get("content-range", "").rpartition("/")[2]
    length = total if total.isdigit() else answer.headers.get("content-length", "")
    return int(length) if length.isdigit() else None


def run_preflight(
    study: Any,
    *,
    resources: str | Path = "resources",
    check_packages: bool = True,
    slurm: SlurmSettings | None = None,
    hub: Hub | None = None,
) -> list[Check]:
    """Every check of a loaded study (:class:`classbench.config.Study`)."""
    if hub is None and not offline():
        hub = Hub()
    names = list(study.config["datasets"])
    models = study_models(study)
    with ThreadPoolExecutor(WORKERS) as pool:
        reports = list(
            pool.map(lambda name: check_dataset(name, study.datasets[name], hub, resources), names)
        )
        model_checks = list(
            pool.map(
                lambda name: check_model(name, study.models[name], hub, check_packages), models
            )
        )

    checks = [check for report in reports for check in report.checks]
    checks += [check for found in model_checks for check in found]
    floating = [name for name in names if floating_references(study.datasets[name]["source"])]
    if floating:
        checks.append(
            Check(
                "pins",
                "datasets",
                WARNING,
                f"{len(floating)} can change upstream (a revision that is not a commit, or a "
                f"file without sha256): {', '.join(floating)}",
                f"classbench datasets pin {' '.join(floating)}",
            )
        )
    checks += floating_models({name: study.models[name] for name in models})
    checks += check_disk(
        {report.name: report.download_bytes for report in reports},
        {name: study.models[name] for name in models},
        resources,
        {name: study.datasets[name] for name in names},
    )
    if slurm is not None:
        checks += check_slurm(slurm)
    return checks


def merged_configs(paths: Sequence[str | Path]) -> dict[str, Any]:
    """Config files merged in order, nested mappings key by key, as Snakemake merges them."""

    def merge(into: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
        for key, value in update.items():
            if isinstance(value, Mapping) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value
        return into

    merged: dict[str, Any] = {}
    for path in paths:
        merge(merged, load_yaml(path) or {})
    return merged


SKIP_VARIABLE = "CLASSBENCH_SKIP_PREFLIGHT"


def skip_preflight(environ: Mapping[str, str]) -> bool:
    """Whether the environment turns the workflow's preflight off (``CLASSBENCH_SKIP_PREFLIGHT``
    set to anything but empty or 0)."""
    return environ.get(SKIP_VARIABLE, "").strip() not in ("", "0")


def preflight_report(study: Any, **options: Any) -> tuple[str, bool]:
    """The rendered table and whether the study may start (no problem found)."""
    checks = run_preflight(study, **options)
    return render(checks), not problems(checks)
