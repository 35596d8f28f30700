"""The CLIP / SigLIP encoder on tiny offline models."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classbench.backends.base import BackendError
from classbench.backends.contrastive import ContrastiveEncoder
from classbench.demo import build_tiny_model

TEXTS = ["a cat", "a big red circle on a white background", "dog", "an image of a tulip", "A"]


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("contrastive")
    return {family: build_tiny_model(family, root / family) for family in ("clip", "siglip")}


@pytest.fixture(scope="module", params=["clip", "siglip"])
def encoder(request: pytest.FixtureRequest, model_dirs: dict[str, Path]) -> ContrastiveEncoder:
    return ContrastiveEncoder(model_dirs[request.param], batch_size=2)


def _images() -> list[Image.Image]:
    sizes = [(40, 50), (120, 60), (56, 56), (200, 90), (33, 77)]
    images = [Image.new("RGB", s, (40 * i, 255 - 40 * i, 90)) for i, s in enumerate(sizes)]
    images.append(Image.new("L", (64, 64), 128))  # grayscale is converted to RGB
    return images


def _assert_unit_rows(x: np.ndarray, n: int) -> None:
    assert x.dtype == np.float32 and x.ndim == 2 and x.shape[0] == n
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


def test_images_normalised_and_batched_equals_single(encoder: ContrastiveEncoder) -> None:
    images = _images()
    batched = encoder.encode_images(images)
    _assert_unit_rows(batched, len(images))
    assert batched.shape[1] == encoder.dim
    single = np.concatenate([encoder.encode_images([im]) for im in images])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert not np.allclose(batched[0], batched[1])


def test_texts_normalised_and_batched_equals_single(encoder: ContrastiveEncoder) -> None:
    batched = encoder.encode_texts(TEXTS)
    _assert_unit_rows(batched, len(TEXTS))
    assert batched.shape[1] == encoder.dim == encoder.encode_images(_images()[:1]).shape[1]
    single = np.concatenate([encoder.encode_texts([t]) for t in TEXTS])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_class_template_applied(encoder: ContrastiveEncoder) -> None:
    classes = encoder.encode_classes(["cat", "tulip"])
    expected = encoder.encode_texts(["an image of a cat", "an image of a tulip"])
    np.testing.assert_allclose(classes, expected, atol=1e-6)
    assert not np.allclose(classes[0], encoder.encode_texts(["cat"])[0])


def test_custom_template_and_info(model_dirs: dict[str, Path]) -> None:
    enc = ContrastiveEncoder(model_dirs["clip"], class_template="a photo of a {}.", device="cpu")
    np.testing.assert_allclose(
        enc.encode_classes(["dog"]), enc.encode_texts(["a photo of a dog."]), atol=1e-6
    )
    assert enc.info() == {
        "checkpoint": str(model_dirs["clip"]),
        "revision": None,
        "dtype": "float32",
        "device": "cpu",
        "class_template": "a photo of a {}.",
        "model_type": "clip",
    }


def test_empty_inputs(encoder: ContrastiveEncoder) -> None:
    assert encoder.encode_texts([]).shape == (0, encoder.dim)
    assert encoder.encode_images([]).shape == (0, encoder.dim)


def test_siglip_pads_to_max_length(model_dirs: dict[str, Path]) -> None:
    enc = ContrastiveEncoder(model_dirs["siglip"])
    assert enc.info()["model_type"] == "siglip"
    assert enc._pad_to_max and enc._max_length == 64


def test_bad_settings(model_dirs: dict[str, Path]) -> None:
    with pytest.raises(BackendError, match="class_template"):
        ContrastiveEncoder(model_dirs["clip"], class_template="no placeholder")
    with pytest.raises(BackendError, match="dtype"):
        ContrastiveEncoder(model_dirs["clip"], dtype="float8")
