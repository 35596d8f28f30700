"""``classbench datasets pin``: write the commits and checksums of the sources into the registry.

Run once where the hub can be reached. Each hub revision that is not a full commit hash (``main``)
is resolved to the commit it names now through the hub API (``sha`` of
``/api/datasets/{repo}/revision/{revision}``), and each file gets its sha256: from the hub's LFS
metadata for a file in a hub repository, from the download cache (or a fresh download with
``download``) for a URL, from the file itself for a local path. The registry's text is edited in
place, so its comments and layout stay: only the changed values are rewritten or inserted, and
the result must load to exactly the intended registry before it replaces the file.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from classbench.checks import OK, PROBLEM, WARNING, Check
from classbench.data.hub_api import Hub
from classbench.data.manifest import DatasetError
from classbench.data.preflight_env import answered
from classbench.data.sources.download import cache_name, fetch_file, sha256_of
from classbench.data.sources.pins import FULL_COMMIT, PinTarget, pin_targets


@dataclass(frozen=True)
class Pin:
    """One value to write: ``keys`` from the registry's top level."""

    keys: tuple[str, ...]
    old: str | None
    new: str


def plan_pins(
    registry: Mapping[str, Any],
    names: Sequence[str],
    hub: Hub,
    downloads: str | Path = "resources/downloads",
    download: bool = False,
) -> tuple[list[Pin], list[Check]]:
    """The values that pin ``names`` and a table row per finding (each pin, each failure)."""
    pins: list[Pin] = []
    checks: list[Check] = []
    for name in names:
        found = _Findings(name)
        commits: dict[tuple[str, ...], Commit] = {}
        for target in pin_targets(registry[name]["source"]):
            keys = (name, "source", *target.keys)
            value = _resolve(name, target, commits, hub, Path(downloads), download, found.add)
            if value is not None and value != target.current:
                pins.append(Pin(keys, target.current, value))
                found.add(OK, f"{'.'.join(target.keys)}: {target.current or 'unset'} -> {value}")
        if not found.checks:
            found.add(OK, "already pinned")
        checks += found.checks
    return pins, checks


@dataclass(frozen=True)
class Commit:
    """What the hub said about a repository at a revision: the commit and its files."""

    sha: str
    files: list[dict[str, Any]]


@dataclass
class _Findings:
    name: str
    checks: list[Check] = field(default_factory=list)

    def add(self, status: str, detail: str, fix: str = "") -> None:
        self.checks.append(Check("pins", self.name, status, detail, fix))


def _resolve(
    name: str,
    target: PinTarget,
    commits: dict[tuple[str, ...], Commit],
    hub: Hub,
    downloads: Path,
    download: bool,
    add: Any,
) -> str | None:
    """The pinned value of ``target``, or ``None`` (with a reason recorded) when there is none."""
    resource = target.resource
    if target.pinned:
        return target.current
    if target.what == "revision" or "repo" in resource:
        repo = str(resource["repo"])
        revision = target.current if target.what == "revision" else resource.get("revision")
        commit = commits.get(target.keys[:-1])
        if commit is None:
            info = hub.repo_info("dataset", repo, revision or "main", files=True)
            if not answered(add, hub, "dataset", repo, revision, info):
                return None
            if not FULL_COMMIT.match(str(info.data.get("sha") or "")):
                add(PROBLEM, f"{hub.endpoint} gave no commit for {repo}@{revision or 'main'}")
                return None
            commit = Commit(str(info.data["sha"]), list(info.data.get("siblings") or []))
            commits[target.keys[:-1]] = commit
        if target.what == "revision":
            return commit.sha
        lfs = [s.get("lfs") for s in commit.files if s.get("rfilename") == resource["filename"]]
        if lfs and lfs[0] and lfs[0].get("sha256"):
            return str(lfs[0]["sha256"])
        if target.current is None:
            add(
                WARNING,
                f"{'.'.join(target.keys)}: the hub gives no checksum for "
                f"{resource['filename']} (not an LFS file)",
                "the pinned revision fixes it",
            )
        return None
    if "path" in resource:
        path = Path(resource["path"])
        if not path.is_file():
            add(PROBLEM, f"{'.'.join(target.keys)}: {path} does not exist", "fix the path")
            return None
        return sha256_of(path, f"sha256 {name}")
    cached = downloads / "urls" / cache_name(str(resource["url"]), resource.get("filename"))
    if cached.is_file():
        return sha256_of(cached, f"sha256 {name}")
    if not download:
        add(
            WARNING,
            f"{'.'.join(target.keys)}: {resource['url']} is not downloaded yet",
            f"prepare {name} first, or pass --download",
        )
        return None
    try:
        return fetch_file(name, resource, downloads, what=target.keys[0].replace("_", " "))[1]
    except DatasetError as err:
        add(PROBLEM, str(err))
        return None


def apply_pins(text: str, pins: Iterable[Pin]) -> str:
    """``text`` (a YAML document) with each pin's value written, nothing else changed."""
    pins = list(pins)
    root = yaml.compose(text)
    changes: list[tuple[int, int, str]] = []
    for pin in pins:
        node = root
        for key in pin.keys[:-1]:
            found = _item(node, key)
            if found is None or not isinstance(found, yaml.MappingNode):
                raise ValueError(f"{'.'.join(pin.keys[:-1])} is not a mapping in the registry")
            node = found
        value = _scalar(pin.new)
        existing = _item(node, pin.keys[-1])
        if existing is not None:
            changes.append((existing.start_mark.index, existing.end_mark.index, value))
        else:
            changes.append(_insertion(text, node, pin.keys[-1], value))
    for start, end, replacement in sorted(changes, key=lambda change: change[0], reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _item(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return value_node
    return None


def _scalar(value: str) -> str:
    # A hash made only of digits would load as a number: quote what does not load as itself.
    return value if yaml.safe_load(value) == value else f'"{value}"'


def _insertion(text: str, node: yaml.MappingNode, key: str, value: str) -> tuple[int, int, str]:
    """Where and what to insert to add ``key: value`` to a mapping, in the mapping's style."""
    if node.flow_style:
        close = node.end_mark.index - 1  # the "}"
        while text[close - 1] == " ":
            close -= 1
        return close, close, f", {key}: {value}"
    indent = node.value[0][0].start_mark.column
    one_line = [
        item
        for item in node.value
        if isinstance(item[1], yaml.ScalarNode) and item[1].start_mark.line == item[1].end_mark.line
    ]
    if one_line:  # after the last one-line pair, so that it reads in order
        end = text.find("\n", one_line[-1][1].end_mark.index)
        end = len(text) if end < 0 else end
        return end, end, f"\n{' ' * indent}{key}: {value}"
    start = node.value[0][0].start_mark.index - indent
    return start, start, f"{' ' * indent}{key}: {value}\n"


def _expected(data: Any, pins: Iterable[Pin]) -> Any:
    data = copy.deepcopy(data)
    for pin in pins:
        node = data
        for key in pin.keys[:-1]:
            node = node[key]
        node[pin.keys[-1]] = pin.new
    return data


def pin_registry(
    path: str | os.PathLike,
    names: Sequence[str] | None = None,
    hub: Hub | None = None,
    downloads: str | Path = "resources/downloads",
    download: bool = False,
) -> list[Check]:
    """Pin ``names`` (default every entry with an external source) in the registry at ``path``;
    the file changes only when every value was written as intended."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    registry = yaml.safe_load(text) or {}
    unknown = [name for name in names or [] if name not in registry]
    if unknown:
        raise KeyError(f"{path}: no dataset {', '.join(unknown)}")
    chosen = list(names or [n for n, s in registry.items() if s["source"]["kind"] != "synthetic"])
    pins, checks = plan_pins(registry, chosen, hub or Hub(), downloads, download)
    if pins:
        edited = apply_pins(text, pins)
        if yaml.safe_load(edited) != _expected(registry, pins):
            raise RuntimeError(f"{path}: the edited registry does not load as intended; unchanged")
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, delete=False, prefix=f".{path.name}."
        ) as handle:
            handle.write(edited)
        os.replace(handle.name, path)
    return checks
