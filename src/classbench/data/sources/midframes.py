"""Source kind ``midframes``: one pre-extracted middle frame per video (CoOp's UCF101).

The same keys as ``archive`` plus ``frame_extension`` (default ``.jpg``); ``image_root`` defaults
to ``UCF-101-midframes`` and ``split_format`` to ``coop_json``. Split entries are matched to frames
by file stem, so the split may be CoOp's ``split_zhou_UCF101.json`` (frame paths) or an official
list such as ``testlist01.txt`` (video paths, ``label_from: dir``): ``ApplyEyeMakeup/
v_ApplyEyeMakeup_g01_c01.avi`` resolves to ``Apply_Eye_Makeup/v_ApplyEyeMakeup_g01_c01.jpg``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from classbench.data.sources.archive import fetch_from_archive

DEFAULTS = {"image_root": "UCF-101-midframes", "split_format": "coop_json"}


def fetch(
    name: str, spec: Mapping[str, Any], root: Path, cache_dir: Path
) -> tuple[pd.DataFrame, list[str]]:
    """Write the split's frames under ``root/images`` and return (manifest, source names)."""
    source = {**DEFAULTS, **spec["source"]}
    extension = source.get("frame_extension", ".jpg")
    return fetch_from_archive(name, source, root, Path(cache_dir), by_stem=extension)
