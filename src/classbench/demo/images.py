"""Deterministic synthetic image sets for the offline demo and the tests.

Each class is a visual concept the generator can draw (a shape, a texture); position, size,
rotation, colours and noise vary per image from a generator keyed on (seed, class, index), so the
same registry entry always yields byte-identical PNG files.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from classbench.seeding import rng_for

Painter = Callable[[ImageDraw.ImageDraw, np.random.Generator, int, tuple[int, int, int]], None]

PALETTE = [
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (128, 128, 0), (0, 0, 128),
]  # fmt: skip


def _polygon(cx: float, cy: float, radius: float, corners: int, turn: float) -> list[tuple]:
    return [
        (
            cx + radius * math.cos(turn + 2 * math.pi * i / corners),
            cy + radius * math.sin(turn + 2 * math.pi * i / corners),
        )
        for i in range(corners)
    ]


def _placement(rng: np.random.Generator, size: int) -> tuple[float, float, float, float]:
    radius = size * rng.uniform(0.2, 0.32)
    cx = rng.uniform(radius, size - radius)
    cy = rng.uniform(radius, size - radius)
    return cx, cy, radius, rng.uniform(0, 2 * math.pi)


def _circle(draw, rng, size, colour):
    cx, cy, r, _ = _placement(rng, size)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)


def _ring(draw, rng, size, colour):
    cx, cy, r, _ = _placement(rng, size)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=max(3, int(r / 3)))


def _square(draw, rng, size, colour):
    cx, cy, r, turn = _placement(rng, size)
    draw.polygon(_polygon(cx, cy, r, 4, turn), fill=colour)


def _triangle(draw, rng, size, colour):
    cx, cy, r, turn = _placement(rng, size)
    draw.polygon(_polygon(cx, cy, r, 3, turn), fill=colour)


def _star(draw, rng, size, colour):
    cx, cy, r, turn = _placement(rng, size)
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.45
        angle = turn + math.pi * i / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    draw.polygon(points, fill=colour)


def _cross(draw, rng, size, colour):
    cx, cy, r, _ = _placement(rng, size)
    arm = r / 3
    draw.rectangle([cx - r, cy - arm, cx + r, cy + arm], fill=colour)
    draw.rectangle([cx - arm, cy - r, cx + arm, cy + r], fill=colour)


def _stripes(draw, rng, size, colour):
    step = int(rng.integers(6, 14))
    for x in range(int(rng.integers(0, step)), size, step):
        draw.rectangle([x, 0, x + step // 2, size], fill=colour)


def _checkerboard(draw, rng, size, colour):
    step = int(rng.integers(8, 20))
    for row, y in enumerate(range(0, size, step)):
        for col, x in enumerate(range(0, size, step)):
            if (row + col) % 2 == 0:
                draw.rectangle([x, y, x + step, y + step], fill=colour)


def _dots(draw, rng, size, colour):
    step = int(rng.integers(10, 18))
    radius = step / 4
    for y in range(step // 2, size, step):
        for x in range(step // 2, size, step):
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour)


def _grid(draw, rng, size, colour):
    step = int(rng.integers(8, 16))
    for value in range(0, size, step):
        draw.line([value, 0, value, size], fill=colour, width=2)
        draw.line([0, value, size, value], fill=colour, width=2)


def _waves(draw, rng, size, colour):
    period = rng.uniform(12, 30)
    for offset in range(0, size, int(rng.integers(8, 14))):
        points = [(x, offset + 4 * math.sin(2 * math.pi * x / period)) for x in range(size)]
        draw.line(points, fill=colour, width=3)


def _diagonal(draw, rng, size, colour):
    step = int(rng.integers(8, 14))
    for start in range(-size, size, step):
        draw.line([start, 0, start + size, size], fill=colour, width=3)


GENERATORS: dict[str, dict[str, Painter]] = {
    "shapes": {
        "circle": _circle,
        "ring": _ring,
        "square": _square,
        "triangle": _triangle,
        "star": _star,
        "cross": _cross,
    },
    "patterns": {
        "stripes": _stripes,
        "checkerboard": _checkerboard,
        "dots": _dots,
        "grid": _grid,
        "waves": _waves,
        "diagonal lines": _diagonal,
    },
}


def synthetic_image(
    generator: str, label: str, index: int, seed: int, size: int = 96
) -> Image.Image:
    """The ``index``-th image of class ``label``: same arguments, same pixels."""
    painters = GENERATORS[generator]
    if label not in painters:
        known = ", ".join(sorted(painters))
        raise KeyError(f"generator '{generator}' cannot draw '{label}' (it draws: {known})")
    rng = rng_for(seed, "synthetic", generator, label, index)
    background, colour = rng.choice(len(PALETTE), size=2, replace=False)
    image = Image.new("RGB", (size, size), PALETTE[int(background)])
    painters[label](ImageDraw.Draw(image), rng, size, PALETTE[int(colour)])
    # Light per-image noise so no two images of a class are pixel-identical.
    noise = rng.normal(0, 6, size=(size, size, 3))
    pixels = np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels).filter(ImageFilter.SMOOTH)
