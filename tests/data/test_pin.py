"""`classbench datasets pin` against a fake hub: commits and checksums written into the
registry's text, comments and layout kept."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
import yaml
from fake_hub import fake_hub

from classbench.checks import OK, WARNING
from classbench.cli import main
from classbench.data import DatasetError, prepare_dataset
from classbench.data.pin import Pin, apply_pins, pin_registry
from classbench.data.sources.download import cache_name
from classbench.data.sources.pins import floating_references, pin_targets

REPO = Path(__file__).resolve().parents[2]
BIRDS_SHA = "1111111111aaaaaaaaaa2222222222bbbbbbbbbb"
FILES_SHA = "3333333333cccccccccc4444444444dddddddddd"
ZIP_SHA256 = "e" * 64
LATER = b'{"test": []}'

REGISTRY = """\
# The registry: this comment and the others must survive.
birds:
  description: A hub copy.  # a trailing comment
  source:
    kind: hub
    repo: org/birds
    revision: main   # floats until pinned
    split: test
  group: fine-grained

packed:
  source:
    kind: archive
    archive: {repo: org/files, filename: frames.zip, revision: main}
    split_file: {url: "BASE/split.json"}
    split_format: coop_json
    split: test
  group: prototypical

local:
  source:
    kind: archive
    archive:
      path: ARCHIVE
    split_file:
      url: BASE/later.json
    split_format: coop_json
    split: test
  group: prototypical

shapes:
  source: {kind: synthetic, generator: shapes}
  classes: [a, b]
  group: prototypical
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def hub(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with fake_hub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        server.repo("dataset", "org/birds", BIRDS_SHA)
        server.repo(
            "dataset",
            "org/files",
            FILES_SHA,
            files={"frames.zip": {"size": 9, "lfs": {"sha256": ZIP_SHA256, "size": 9}}},
        )
        server.file("/later.json", 200, LATER)
        yield server  # fmt: skip


def setup(tmp_path: Path, base: str) -> tuple[Path, Path, bytes]:
    archive = tmp_path / "a.zip"
    archive.write_bytes(b"local archive")
    registry = tmp_path / "datasets.yaml"
    registry.write_text(REGISTRY.replace("BASE", base).replace("ARCHIVE", str(archive)))
    downloads = tmp_path / "downloads"
    split = b'{"test": [["a/1.jpg", 0, "a"]]}'
    cached = downloads / "urls" / cache_name(f"{base}/split.json")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(split)
    return registry, downloads, split


def pin(registry: Path, downloads: Path, *extra: str) -> int:
    return main(["datasets", "pin", "--registry", str(registry), "--downloads", str(downloads),
                 *extra])  # fmt: skip


def test_pin_writes_commits_and_checksums_and_keeps_the_text(tmp_path, hub, capsys):
    registry, downloads, split = setup(tmp_path, hub.url)
    before = registry.read_text()
    checks = pin_registry(registry, None, None, downloads)
    after = registry.read_text()
    assert f"revision: {BIRDS_SHA}   # floats until pinned" in after
    assert (f"archive: {{repo: org/files, filename: frames.zip, revision: {FILES_SHA}, "
            f"sha256: {ZIP_SHA256}}}") in after  # fmt: skip
    assert f'split_file: {{url: "{hub.url}/split.json", sha256: {sha256(split)}}}' in after
    assert f"      sha256: {sha256(b'local archive')}\n" in after
    # Nothing else changed: the same lines apart from the pinned ones and one inserted line.
    changed = [line for line in after.splitlines() if line not in before.splitlines()]
    assert len(changed) == 4 and len(after.splitlines()) == len(before.splitlines()) + 1
    for line in before.splitlines():
        if "#" in line and "main" not in line:
            assert line in after
    # A URL that was never downloaded is named, with the way to pin it.
    warnings = [c for c in checks if c.status != OK]
    assert [(c.item, c.status) for c in warnings] == [("local", WARNING)]
    assert "later.json is not downloaded yet" in warnings[0].detail
    assert "--download" in warnings[0].fix
    pinned = yaml.safe_load(after)
    assert floating_references(pinned["birds"]["source"]) == []
    assert floating_references(pinned["packed"]["source"]) == []
    assert floating_references(pinned["local"]["source"]) == [
        f"split_file.sha256 of {hub.url}/later.json is unset"
    ]
    # --download fetches it; a third run finds everything pinned and changes nothing.
    assert pin(registry, downloads, "--download") == 0
    assert f"sha256: {sha256(LATER)}" in registry.read_text()
    final = registry.read_text()
    capsys.readouterr()
    assert pin(registry, downloads, "birds", "local") == 0
    assert registry.read_text() == final
    assert capsys.readouterr().out.count("already pinned") == 2


def test_a_missing_repository_fails_and_leaves_its_entry(tmp_path, hub, capsys):
    registry, downloads, _ = setup(tmp_path, hub.url)
    hub.missing("dataset", "org/birds")
    assert pin(registry, downloads, "birds", "packed") == 1
    output = capsys.readouterr().out
    assert "org/birds is not a dataset on" in " ".join(output.split())
    text = registry.read_text()
    assert "revision: main   # floats until pinned" in text  # birds untouched
    assert f"revision: {FILES_SHA}" in text  # the others are pinned all the same
    assert pin(registry, downloads, "nope") == 2


def test_every_entry_of_the_real_registry_can_be_pinned_in_place():
    text = (REPO / "config" / "datasets.yaml").read_text()
    registry = yaml.safe_load(text)
    pins = [
        Pin((name, "source", *target.keys), target.current,
            "a" * 40 if target.what == "revision" else "b" * 64)
        for name, spec in registry.items()
        for target in pin_targets(spec["source"])
    ]  # fmt: skip
    assert len(pins) >= 20
    edited = apply_pins(text, pins)
    loaded = yaml.safe_load(edited)
    for pin_ in pins:
        node = loaded
        for key in pin_.keys:
            node = node[key]
        assert node == pin_.new, pin_.keys
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert comments == [line for line in edited.splitlines() if line.lstrip().startswith("#")]
    assert all(floating_references(spec["source"]) == [] for spec in loaded.values())


def test_a_hash_of_digits_stays_a_string():
    digits = "1234567890" * 4
    edited = apply_pins("x:\n  revision: main\n", [Pin(("x", "revision"), "main", digits)])
    assert yaml.safe_load(edited) == {"x": {"revision": digits}}


def test_preparation_warns_once_that_a_source_floats(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    spec = {"source": {"kind": "hub", "repo": "org/not-pinned", "revision": "main",
                       "split": "test"}, "group": "prototypical"}  # fmt: skip
    for _ in range(2):
        with pytest.raises(DatasetError):  # offline, the load fails after the warning
            prepare_dataset("floating-once", spec, tmp_path / "out", tmp_path / "cache")
    warnings = [r.message for r in caplog.records if "not pinned" in r.message]
    assert len(warnings) == 1
    assert "revision of org/not-pinned is main" in warnings[0]
    assert "classbench datasets pin floating-once" in warnings[0]
