"""Dataset preparation, the stratified limit, and robust image loading."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from classbench import images
from classbench.data import (
    DatasetError,
    load_classes,
    load_manifest,
    prepare_dataset,
    stratified_limit,
)
from classbench.data.manifest import file_sha256
from classbench.images import ImageLoadError, fit_pixels, load_image

SHAPES = ["circle", "ring", "square", "triangle", "star", "cross"]


def shapes_spec(**expected) -> dict:
    return {
        "source": {"kind": "synthetic", "generator": "shapes", "images_per_class": 2, "seed": 0,
                   "size": 16},
        "classes": SHAPES,
        "group": "prototypical",
        "noun": "shape",
        "nouns": "shapes",
        "expected": expected or {"classes": 6, "images": 12},
    }  # fmt: skip


# --- preparation -----------------------------------------------------------------------------


def test_synthetic_preparation_writes_the_contract(tmp_path):
    root = tmp_path / "shapes"
    meta = prepare_dataset("shapes", shapes_spec(), root)
    manifest = load_manifest(root)
    assert list(manifest.columns) == ["sample_id", "image", "label", "label_idx", "image_sha256"]
    assert len(manifest) == 12
    assert manifest["sample_id"].is_unique
    assert load_classes(root) == SHAPES
    assert [SHAPES[i] for i in manifest["label_idx"]] == manifest["label"].tolist()
    assert manifest["label"].value_counts().to_dict() == dict.fromkeys(SHAPES, 2)
    on_disk = json.loads((root / "meta.json").read_text())
    assert on_disk == meta
    assert meta["counts"] == {"images": 12, "classes": 6}
    assert (meta["group"], meta["noun"], meta["nouns"]) == ("prototypical", "shape", "shapes")
    assert meta["source"]["generator"] == "shapes"
    assert set(meta["checksums"]) == set(manifest["image"])
    for relative in manifest["image"]:
        assert meta["checksums"][relative] == file_sha256(root / relative)
        assert load_image(root / relative).size == (16, 16)
    # Each image's content hash, on its row: what inference keys a resumed answer on.
    assert manifest["image_sha256"].tolist() == [file_sha256(root / i) for i in manifest["image"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shapes"]  # no staging left behind


def test_synthetic_preparation_is_deterministic(tmp_path):
    first = prepare_dataset("shapes", shapes_spec(), tmp_path / "a")
    second = prepare_dataset("shapes", shapes_spec(), tmp_path / "b")
    assert first["checksums"] == second["checksums"]
    assert len(set(first["checksums"].values())) == 12  # no two images are identical
    pd.testing.assert_frame_equal(load_manifest(tmp_path / "a"), load_manifest(tmp_path / "b"))
    reseeded = shapes_spec()
    reseeded["source"]["seed"] = 1
    other = prepare_dataset("shapes", reseeded, tmp_path / "c")
    assert other["checksums"] != first["checksums"]


@pytest.mark.parametrize(
    ("expected", "numbers"),
    [({"classes": 6, "images": 99}, ("99", "12")), ({"classes": 5, "images": 12}, ("5", "6"))],
)
def test_expected_count_mismatch_leaves_nothing(tmp_path, expected, numbers):
    with pytest.raises(DatasetError) as caught:
        prepare_dataset("shapes", shapes_spec(**expected), tmp_path / "shapes")
    message = str(caught.value)
    assert "'shapes'" in message
    for number in numbers:
        assert number in message
    assert list(tmp_path.iterdir()) == []


def test_failed_preparation_keeps_the_previous_dataset(tmp_path):
    root = tmp_path / "shapes"
    meta = prepare_dataset("shapes", shapes_spec(), root)
    with pytest.raises(DatasetError):
        prepare_dataset("shapes", shapes_spec(classes=6, images=13), root)
    assert json.loads((root / "meta.json").read_text()) == meta
    assert len(load_manifest(root)) == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shapes"]


def test_undecodable_image_fails_preparation(tmp_path, monkeypatch):
    real = images.load_image

    def flaky(path, max_pixels=None):
        if path.name == "star_0001.png":
            raise ImageLoadError("OSError: broken")
        return real(path, max_pixels)

    monkeypatch.setattr("classbench.data.prepare.load_image", flaky)
    with pytest.raises(DatasetError, match=r"'shapes'.*images/star_0001\.png.*broken"):
        prepare_dataset("shapes", shapes_spec(), tmp_path / "shapes")
    assert list(tmp_path.iterdir()) == []


def test_unknown_source_and_generator(tmp_path):
    spec = shapes_spec()
    spec["source"] = {"kind": "ftp"}
    with pytest.raises(DatasetError, match="unknown source kind 'ftp'"):
        prepare_dataset("shapes", spec, tmp_path / "x")
    spec["source"] = {"kind": "synthetic", "generator": "fractals"}
    with pytest.raises(DatasetError, match="unknown synthetic generator 'fractals'"):
        prepare_dataset("shapes", spec, tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


# --- stratified limit ------------------------------------------------------------------------


def make_manifest(counts: list[int]) -> pd.DataFrame:
    rows = [
        (f"c{label}_{i:03d}", f"images/c{label}_{i:03d}.png", f"c{label}", label)
        for label, count in enumerate(counts)
        for i in range(count)
    ]
    return pd.DataFrame(rows, columns=["sample_id", "image", "label", "label_idx"])


def per_class(frame: pd.DataFrame) -> list[int]:
    return frame["label_idx"].value_counts().sort_index().tolist()


def test_stratified_limit_is_proportional():
    manifest = make_manifest([10, 20, 30, 40])
    subset = stratified_limit(manifest, 10, seed=0, dataset="toy")
    assert per_class(subset) == [1, 2, 3, 4]
    assert per_class(stratified_limit(manifest, 50, seed=0, dataset="toy")) == [5, 10, 15, 20]
    uneven = stratified_limit(make_manifest([7, 7, 7]), 10, seed=0, dataset="toy")
    assert sorted(per_class(uneven)) == [3, 3, 4]


def test_stratified_limit_keeps_every_class_while_the_budget_allows():
    manifest = make_manifest([1, 1, 98])
    subset = stratified_limit(manifest, 10, seed=0, dataset="toy")
    assert per_class(subset) == [1, 1, 8]
    assert len(stratified_limit(make_manifest([5, 5, 5]), 2, seed=0, dataset="toy")) == 2


def test_stratified_limit_is_seeded_and_keeps_manifest_order():
    manifest = make_manifest([12, 12, 12, 12])
    first = stratified_limit(manifest, 12, seed=5, dataset="toy")
    again = stratified_limit(manifest, 12, seed=5, dataset="toy")
    pd.testing.assert_frame_equal(first, again)
    positions = [manifest.index[manifest["sample_id"] == sid][0] for sid in first["sample_id"]]
    assert positions == sorted(positions)
    assert list(first.index) == list(range(12))
    other_seed = stratified_limit(manifest, 12, seed=6, dataset="toy")
    other_dataset = stratified_limit(manifest, 12, seed=5, dataset="other")
    assert set(other_seed["sample_id"]) != set(first["sample_id"])
    assert set(other_dataset["sample_id"]) != set(first["sample_id"])


def test_stratified_limit_does_not_reshuffle_other_classes():
    small = stratified_limit(make_manifest([10, 10, 10, 10]), 8, seed=0, dataset="toy")
    grown = stratified_limit(make_manifest([10, 10, 10, 10, 10]), 10, seed=0, dataset="toy")
    assert per_class(grown) == [2, 2, 2, 2, 2]
    assert set(small["sample_id"]) == set(grown[grown["label_idx"] < 4]["sample_id"])


def test_stratified_limit_without_a_limit_keeps_everything():
    manifest = make_manifest([3, 4])
    for limit in (None, 0, 7, 100):
        pd.testing.assert_frame_equal(stratified_limit(manifest, limit, 0, "toy"), manifest)


# --- image loading ---------------------------------------------------------------------------


def pixel(image: Image.Image, xy=(0, 0)) -> tuple[int, ...]:
    return image.getpixel(xy)


def test_grayscale_becomes_rgb(tmp_path):
    Image.new("L", (5, 3), 77).save(tmp_path / "gray.png")
    image = load_image(tmp_path / "gray.png")
    assert (image.mode, image.size, pixel(image)) == ("RGB", (5, 3), (77, 77, 77))


def test_rgba_transparency_becomes_white(tmp_path):
    rgba = Image.new("RGBA", (2, 1), (255, 0, 0, 0))
    rgba.putpixel((1, 0), (0, 0, 255, 255))
    rgba.save(tmp_path / "rgba.png")
    image = load_image(tmp_path / "rgba.png")
    assert image.mode == "RGB"
    assert pixel(image, (0, 0)) == (255, 255, 255)
    assert pixel(image, (1, 0)) == (0, 0, 255)


def test_palette_with_transparency_becomes_white(tmp_path):
    palette = Image.new("P", (3, 3), 0)
    palette.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    palette.putpixel((1, 1), 1)
    palette.save(tmp_path / "palette.png", transparency=0)
    image = load_image(tmp_path / "palette.png")
    assert image.mode == "RGB"
    assert pixel(image, (0, 0)) == (255, 255, 255)  # transparent black -> white, not black
    assert pixel(image, (1, 1)) == (0, 0, 255)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    image = load_image(tmp_path / "cmyk.jpg")
    assert image.mode == "RGB"
    red, green, blue = pixel(image, (4, 4))
    assert red > 240 and green < 15 and blue < 15


def test_sixteen_bit_png_is_rescaled(tmp_path):
    values = np.array([[0, 32768], [65535, 1000]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    image = load_image(tmp_path / "deep.png")
    assert image.mode == "RGB"
    assert pixel(image, (0, 0)) == (0, 0, 0)
    assert pixel(image, (0, 1)) == (255, 255, 255)
    assert abs(pixel(image, (1, 0))[0] - 128) <= 1  # mid grey, not clipped to white
    assert pixel(image, (1, 1))[0] <= 5


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.new("RGB", (40, 20), (10, 200, 10)).save(tmp_path / "rotated.jpg", exif=exif)
    assert Image.open(tmp_path / "rotated.jpg").size == (40, 20)
    assert load_image(tmp_path / "rotated.jpg").size == (20, 40)


def test_one_pixel_image(tmp_path):
    Image.new("RGB", (1, 1), (1, 2, 3)).save(tmp_path / "dot.png")
    image = load_image(tmp_path / "dot.png", max_pixels=4)
    assert (image.size, pixel(image)) == ((1, 1), (1, 2, 3))


def test_budget_is_applied_on_load(tmp_path):
    Image.new("RGB", (300, 200)).save(tmp_path / "big.png")
    width, height = load_image(tmp_path / "big.png", max_pixels=6000).size
    assert width * height <= 6000
    assert width > height


@pytest.mark.parametrize("suffix", ["png", "jpg"])
def test_truncated_file_is_refused(tmp_path, suffix):
    whole = tmp_path / f"whole.{suffix}"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(whole)
    data = whole.read_bytes()
    (tmp_path / f"cut.{suffix}").write_bytes(data[: len(data) // 2])
    load_image(whole)
    with pytest.raises(ImageLoadError, match="truncated"):
        load_image(tmp_path / f"cut.{suffix}")


@pytest.mark.parametrize("content", [b"", b"this is not an image\n"])
def test_non_images_are_refused(tmp_path, content):
    (tmp_path / "fake.png").write_bytes(content)
    with pytest.raises(ImageLoadError):
        load_image(tmp_path / "fake.png")


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(ImageLoadError, match="FileNotFoundError"):
        load_image(tmp_path / "absent.png")


def png_claiming(path, width: int, height: int) -> None:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (valid CRC)."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("side", [20000, 10000])  # above Pillow's hard limit, and its warning band
def test_decompression_bomb_is_refused(tmp_path, side):
    png_claiming(tmp_path / "bomb.png", side, side)
    assert (tmp_path / "bomb.png").stat().st_size < 100
    with pytest.raises(ImageLoadError, match=r"(?i)decompression bomb|too large"):
        load_image(tmp_path / "bomb.png")


def test_decode_limit_is_checked_before_decoding(tmp_path, monkeypatch):
    Image.new("RGB", (20, 20)).save(tmp_path / "small.png")
    monkeypatch.setattr(images, "MAX_DECODE_PIXELS", 399)
    with pytest.raises(ImageLoadError, match="too large to decode: 20x20"):
        load_image(tmp_path / "small.png")
    monkeypatch.setattr(images, "MAX_DECODE_PIXELS", 400)
    assert load_image(tmp_path / "small.png").size == (20, 20)


# --- pixel budget ----------------------------------------------------------------------------


def test_fit_pixels_never_upscales():
    image = Image.new("RGB", (10, 10))
    assert fit_pixels(image, 1000) is image
    assert fit_pixels(image, 100) is image
    assert fit_pixels(image, None) is image


@pytest.mark.parametrize(
    ("size", "budget"),
    [((300, 200), 10000), ((1000, 1000), 12544), ((4000, 30), 5000), ((7, 9), 62),
     ((100, 3), 1), ((100000, 1), 12544), ((1, 5000), 100)],
)  # fmt: skip
def test_fit_pixels_respects_the_budget(size, budget):
    width, height = fit_pixels(Image.new("RGB", size), budget).size
    assert 1 <= width * height <= budget
    assert width <= size[0] and height <= size[1]
    if min(size) > 10:  # the aspect ratio survives unless a side collapses to a pixel or two
        assert abs(width / height - size[0] / size[1]) / (size[0] / size[1]) < 0.1
    if budget >= 1000:  # and the budget is used, not wasted
        assert width * height > 0.9 * budget
