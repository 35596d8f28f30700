"""The gallery's images: which samples a page shows, their thumbnails, and embedding them.

Thumbnails are small JPEGs in ``img/`` next to the pages (relative links), named after the sample
so that the thumbnail job and every task's page agree without reading predictions.
:func:`inline_images` embeds them into a page for ``snakemake --report``, which takes one file.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image, ImageOps

from classbench.data import stratified_limit
from classbench.images import to_rgb
from classbench.io import atomic_path

THUMBNAIL_SIZE = 192  # longest side in pixels; shown at 160 CSS pixels, sharp on most screens
THUMBNAIL_QUALITY = 82
IMAGE_DIR = "img"
# Pages and thumbnails are meant to be shared (copied, served): readable by everyone, unlike the
# private mode of the temporary files they are written through.
PUBLIC_MODE = 0o644


def gallery_samples(
    manifest: pd.DataFrame,
    *,
    limit: int | None,
    gallery_limit: int | None,
    seed: int,
    dataset: str,
) -> pd.DataFrame:
    """The images a dataset's gallery shows: the evaluated subset, then at most ``gallery_limit``.

    The first step is the study's own per-dataset sample limit, drawn as inference draws it; the
    second keeps pages of large datasets browsable, again stratified by class and seeded, so the
    thumbnail job and every task's page agree on the same images without reading predictions.
    """
    evaluated = stratified_limit(manifest, limit, seed, dataset)
    return stratified_limit(evaluated, gallery_limit, seed, f"{dataset}/gallery")


def thumbnail_name(sample_id: object) -> str:
    """A file name for a sample's thumbnail: readable, filesystem-safe and collision-free."""
    text = str(sample_id)
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:48] or "sample"
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}.jpg"


def make_thumbnails(
    samples: pd.DataFrame,
    dataset_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    size: int = THUMBNAIL_SIZE,
    quality: int = THUMBNAIL_QUALITY,
) -> dict[str, Any]:
    """Write a JPEG thumbnail (longest side ``size``) of every sample's ``image`` into ``out_dir``.

    An unreadable image gets no thumbnail (the page shows a placeholder) and is counted. Returns
    statistics for the log.
    """
    root, out = Path(dataset_root), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written, failed = 0, []
    for sample_id, image in zip(samples["sample_id"], samples["image"], strict=True):
        try:
            with Image.open(root / str(image)) as source:
                source.draft("RGB", (size, size))  # JPEG: decode at reduced scale, much faster
                thumb = to_rgb(ImageOps.exif_transpose(source))
                thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            failed.append(f"{sample_id}: {err}")
            continue
        tmp, target = atomic_path(out / thumbnail_name(sample_id))
        try:
            thumb.save(tmp, format="JPEG", quality=quality, optimize=True)
            os.chmod(tmp, PUBLIC_MODE)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
        written += 1
    return {"thumbnails": written, "failed": failed, "size": size, "quality": quality}


def inline_images(page: str, image_dir: str | os.PathLike) -> str:
    """The page with every ``img/…`` thumbnail embedded as a data URI: one file that works alone
    (``snakemake --report`` embeds each result as a single file)."""
    root = Path(image_dir)

    def embed(match: re.Match[str]) -> str:
        path = root / html.unescape(match.group(1))
        if not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'src="data:image/jpeg;base64,{data}"'

    return re.sub(rf'src="{IMAGE_DIR}/([^"]+)"', embed, page)


def thumbnail_sizes(image_dir: str | os.PathLike) -> dict[str, tuple[int, int]]:
    """File name -> (width, height) of the thumbnails in ``image_dir`` (headers only)."""
    sizes = {}
    for path in Path(image_dir).glob("*.jpg"):
        with Image.open(path) as image:
            sizes[path.name] = image.size
    return sizes
