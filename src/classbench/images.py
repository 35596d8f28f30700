"""Robust image loading: every image a model sees goes through :func:`load_image`."""

from __future__ import annotations

import math
import os
import warnings

from PIL import Image, ImageOps

# Anything above this many pixels is refused rather than decoded (decompression bombs); the
# largest real benchmark images (SUN397, ImageNet) stay far below it.
MAX_DECODE_PIXELS = 89_478_485


class ImageLoadError(ValueError):
    """The file is not an image we can turn into RGB pixels."""


def load_image(path: str | os.PathLike, max_pixels: int | None = None) -> Image.Image:
    """Decode ``path`` into an RGB image, applying EXIF rotation and the pixel budget.

    Palette and alpha images are composited on white, 16-bit and CMYK images are converted.
    Raises :class:`ImageLoadError` for anything that cannot be decoded faithfully.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as handle:
                width, height = handle.size
                if width * height > MAX_DECODE_PIXELS:
                    raise ImageLoadError(f"image too large to decode: {width}x{height}")
                handle.load()
                image = ImageOps.exif_transpose(handle)
    except ImageLoadError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise ImageLoadError(f"{type(err).__name__}: {err}") from err
    except Image.DecompressionBombWarning as err:
        raise ImageLoadError(f"decompression bomb: {err}") from err
    return fit_pixels(to_rgb(image), max_pixels)


def model_input(image: Image.Image, max_pixels: int | None) -> Image.Image:
    """The image a backend hands to its model: RGB, downscaled (aspect ratio kept, LANCZOS) to
    at most ``max_pixels`` pixels."""
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL image, got {type(image).__name__}")
    return fit_pixels(to_rgb(image), max_pixels)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB; transparent pixels become white, not black."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit greyscale: rescale to 8 bit instead of clipping everything to white.
        pixels = image.point(lambda value: value * (255.0 / 65535.0)).convert("L")
        return pixels.convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def fit_pixels(image: Image.Image, max_pixels: int | None) -> Image.Image:
    """Downscale (never upscale) so that width * height <= max_pixels, keeping the aspect ratio."""
    if not max_pixels:
        return image
    width, height = image.size
    if width * height <= max_pixels:
        return image
    scale = math.sqrt(max_pixels / (width * height))
    size = (max(1, math.floor(width * scale)), max(1, math.floor(height * scale)))
    if size[0] * size[1] > max_pixels:  # a side clamped to one pixel (extreme aspect ratio)
        size = (min(size[0], max_pixels), 1) if size[1] == 1 else (1, min(size[1], max_pixels))
    return image.resize(size, Image.Resampling.LANCZOS)
