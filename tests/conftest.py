"""Shared test settings (everything offline, small thread pools on the 2-core machines) and
fixtures shared by several packages' tests."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "2")


SHAPES = ["circle", "ring", "square", "triangle", "star", "cross"]


@pytest.fixture(scope="module")
def clip_embedded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drawn shapes set (3 images per class) embedded by a tiny CLIP, with 4 mined options:
    ``data/``, ``img.parquet``, ``cls.parquet`` and ``opt.parquet`` under the returned folder."""
    from classbench.data import prepare_dataset
    from classbench.demo import build_tiny_model
    from classbench.embeddings.encode import embed_dataset, mine_options

    root = tmp_path_factory.mktemp("embed")
    spec = {"source": {"kind": "synthetic", "generator": "shapes", "images_per_class": 3},
            "classes": SHAPES, "group": "synthetic"}  # fmt: skip
    prepare_dataset("shapes", spec, root / "data")
    clip = build_tiny_model("clip", root / "clip", seed=0)
    embed_dataset(root / "data", {"checkpoint": str(clip)}, root / "img.parquet",
                  root / "cls.parquet")  # fmt: skip
    mine_options(root / "data", root / "img.parquet", root / "cls.parquet", 4, root / "opt.parquet")
    return root
