"""Every tiny family builds byte-identical files: same seed, same weights, same tokenizer.

The digests were taken from the builders as they stood before ``classbench.demo`` was split
into one module per family, so a refactoring that changes one weight, token or template fails
here. Weight initialisation and serialisation belong to torch and transformers: the pins hold
for the versions below, and an upgrade that changes them is re-pinned deliberately (the failure
message lists every new digest).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
import transformers

from classbench.demo import FAMILIES, build_tiny_model

PINNED_VERSIONS = {"torch": "2.14.1", "transformers": "5.25.0"}

# sha256 over (file name, sha256 of its bytes) of every file the builder saves, seed 0.
PINNED: dict[str, str] = {
    "qwen2_vl": "acd1925875a176bc2b705f5b03f85b9ca7574c208baffd251a60bfbfbb7d8857",
    "qwen2_5_vl": "e74ec94276fb5d7b6986e7f7d305c865d519c69394cfe10728c34782b37a8515",
    "llava": "bad30aff82339899801753cbfef4cb46541b0b77e4a52261a425144c4adaf684",
    "llava_next": "79801c79d920d8f37c407cda8fd375292f8f1b96fc548af6ddd4b0c173a2ec25",
    "llava_onevision": "18c04d9fb6b6705b5f5a0067321ca8c4d0e098107ff1c50eb4e95d2e71d61c56",
    "idefics3": "f529aa27e76346e0c8a64b784a0b77d3a600991496988ec5b27bd2ee9a3bf365",
    "smolvlm": "8288d62f5a5131abc79c881d04131f4769e5b1e805e41db4d6e0869d5442953b",
    "internvl": "860262b65dbf112210756fdc6ca5ed0db54bdb9d68dfa69c2464e6b96647843a",
    "gemma3": "e1dc310e8c731cae87117b9ebd5dce785ab145cdfe2ffad4c5ef671f03a2ea4b",
    "clip": "8af4dcb85595f892107ae82ac99afd822ae42eef69a3c864a1001e1ee8b56649",
    "siglip": "bed6d2baee5a852b1e174ef09c5e756dd56e08d346b10783c434872a969bc0ea",
    "qwen2_judge": "60070cf6632da37e85f06922fc5edb806724d6c5647cab9f8eeeeb670f08e6a5",
    "bart_nli": "4b73233ef4317bc6843dba61274e6c82eb5dcdab4d7f45fbd5d5cd7c32aa93b5",
    "vit_classifier": "3d03cf58ec9b02b717afa251945a346fcbcca6eeca2ff06ed8cc8d734b0315a2",
    "resnet_classifier": "813d485a91c8fd3f4bbd3adcd27bfe1136c7e4920521e5a774c8d580624c5568",
}


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        digest.update(path.name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def test_every_family_is_pinned() -> None:
    assert tuple(PINNED) == FAMILIES


def test_built_files_match_the_pins(tmp_path: Path) -> None:
    installed = {
        "torch": torch.__version__.split("+")[0],
        "transformers": transformers.__version__,
    }
    if installed != PINNED_VERSIONS:
        pytest.skip(f"pins taken with {PINNED_VERSIONS}, installed {installed}")
    built = {family: _digest(build_tiny_model(family, tmp_path / family)) for family in FAMILIES}
    changed = {family: digest for family, digest in built.items() if digest != PINNED[family]}
    assert not changed, f"tiny models changed; new digests: {changed}"
