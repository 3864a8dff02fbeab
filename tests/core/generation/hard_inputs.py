"""Hard inputs for the engine, made on the fly: the drawings and photos that break naive meshing.

Each builder returns an RGB (plain white background) or RGBA array. ``CASES`` maps a
name to a zero-argument builder; the sizes are small so the corpus stays quick.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

INK = (30, 30, 30)
PAPER = 255


def _canvas(width: int, height: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", (width, height), (PAPER, PAPER, PAPER))
    return image, ImageDraw.Draw(image)


def lines(width_px: int, size: int = 256) -> np.ndarray:
    """A line drawing: a house outline, a diagonal and a separate squiggle, strokes ``width_px`` wide."""
    image, draw = _canvas(size, size)
    s = size / 256
    house = [(60 * s, 200 * s), (60 * s, 110 * s), (128 * s, 50 * s), (196 * s, 110 * s), (196 * s, 200 * s)]
    draw.line([*house, house[0]], fill=INK, width=width_px)
    draw.line([(60 * s, 110 * s), (196 * s, 200 * s)], fill=INK, width=width_px)
    wave = [(30 * s + 4 * k * s, 230 * s + 8 * s * math.sin(k / 3)) for k in range(50)]
    draw.line(wave, fill=INK, width=width_px)
    return np.asarray(image)


def thin_ring(width_px: int = 2, size: int = 256) -> np.ndarray:
    image, draw = _canvas(size, size)
    draw.ellipse([size * 0.2, size * 0.2, size * 0.8, size * 0.8], outline=INK, width=width_px)
    return np.asarray(image)


def circle_2px(size: int = 256) -> np.ndarray:
    """The reported case: a 2 px circle outline gave a model of volume 0."""
    return thin_ring(2, size)


def text(size: int = 256) -> np.ndarray:
    """Words in PIL's default bitmap font, scaled up without smoothing: thin strokes, dots, separate letters."""
    small = Image.new("RGB", (64, 24), (PAPER, PAPER, PAPER))
    ImageDraw.Draw(small).text((2, 6), "Vorm 3D!", fill=INK, font=ImageFont.load_default(size=11))
    return np.asarray(small.resize((size, size * 24 // 64), Image.Resampling.NEAREST))


def comb(size: int = 256) -> np.ndarray:
    """A spine with 20 teeth 2 px wide."""
    image, draw = _canvas(size, size)
    draw.rectangle([size * 0.1, size * 0.2, size * 0.9, size * 0.3], fill=INK)
    for k in range(20):
        x = size * 0.1 + k * size * 0.8 / 20
        draw.rectangle([x, size * 0.3, x + 1, size * 0.8], fill=INK)
    return np.asarray(image)


def spiral(size: int = 256, width_px: int = 3) -> np.ndarray:
    image, draw = _canvas(size, size)
    c = size / 2
    turns = np.linspace(0, 16 * math.pi, 600)
    pts = [(c + (4 + 2.2 * t) * math.cos(t), c + (4 + 2.2 * t) * math.sin(t)) for t in turns]
    draw.line(pts, fill=INK, width=width_px)
    return np.asarray(image)


def touching(size: int = 256) -> np.ndarray:
    """Two disks that touch at one point."""
    image, draw = _canvas(size, size)
    r = size * 0.2
    draw.ellipse([size * 0.5 - 2 * r, size * 0.5 - r, size * 0.5, size * 0.5 + r], fill=(200, 60, 40))
    draw.ellipse([size * 0.5, size * 0.5 - r, size * 0.5 + 2 * r, size * 0.5 + r], fill=(40, 60, 200))
    return np.asarray(image)


def holes(size: int = 256) -> np.ndarray:
    """A plate with round holes of several sizes, two of them with thin walls between."""
    image, draw = _canvas(size, size)
    draw.rectangle([size * 0.1, size * 0.1, size * 0.9, size * 0.9], fill=(90, 140, 60))
    for k, r in enumerate((30, 20, 10, 5, 3)):
        cx = size * 0.2 + k * size * 0.15
        draw.ellipse([cx - r * size / 256, size * 0.3 - r * size / 256, cx + r * size / 256,
                      size * 0.3 + r * size / 256], fill=(PAPER,) * 3)
    draw.ellipse([size * 0.3 - 25, size * 0.65 - 25, size * 0.5 - 1, size * 0.65 + 25], fill=(PAPER,) * 3)
    draw.ellipse([size * 0.5 + 1, size * 0.65 - 25, size * 0.7 + 25, size * 0.65 + 25], fill=(PAPER,) * 3)
    return np.asarray(image)


def bridged_disks(size: int = 256) -> np.ndarray:
    """Two disks joined by a 1 px bridge."""
    image, draw = _canvas(size, size)
    r = size * 0.15
    draw.ellipse([size * 0.1, size * 0.5 - r, size * 0.1 + 2 * r, size * 0.5 + r], fill=INK)
    draw.ellipse([size * 0.9 - 2 * r, size * 0.5 - r, size * 0.9, size * 0.5 + r], fill=INK)
    draw.line([(size * 0.1 + 2 * r - 2, size * 0.5), (size * 0.9 - 2 * r + 2, size * 0.5)], fill=INK, width=1)
    return np.asarray(image)


def specks(size: int = 256, seed: int = 7) -> np.ndarray:
    """A disk with 60 one- to three-pixel specks scattered around it."""
    image, draw = _canvas(size, size)
    draw.ellipse([size * 0.3, size * 0.3, size * 0.7, size * 0.7], fill=(180, 40, 40))
    rng = np.random.default_rng(seed)
    for _ in range(60):
        x, y = rng.uniform(size * 0.05, size * 0.95, 2)
        d = rng.integers(0, 3)
        draw.rectangle([x, y, x + d, y + d], fill=INK)
    return np.asarray(image)


def tiny(size: int = 256, diameter: int = 5) -> np.ndarray:
    """A very small object: a few pixels across in a large frame."""
    image, draw = _canvas(size, size)
    c = size / 2
    draw.ellipse([c, c, c + diameter - 1, c + diameter - 1], fill=INK)
    return np.asarray(image)


def single_pixel(size: int = 128) -> np.ndarray:
    out = np.full((size, size, 4), 0, np.uint8)
    out[size // 2, size // 2] = (200, 50, 50, 255)
    return out


def elongated(width: int = 512, height: int = 24) -> np.ndarray:
    """A long thin bar in a very wide image."""
    image, draw = _canvas(width, height)
    draw.rectangle([8, height // 2 - 3, width - 9, height // 2 + 3], fill=(50, 90, 160))
    return np.asarray(image)


def tall_thin(width: int = 20, height: int = 400) -> np.ndarray:
    """A 2 px pole in a tall narrow image."""
    image, draw = _canvas(width, height)
    draw.rectangle([width // 2 - 1, 10, width // 2, height - 11], fill=INK)
    return np.asarray(image)


CASES: dict[str, Callable[[], np.ndarray]] = {
    **{f"lines_{w}px": (lambda w=w: lines(w)) for w in (1, 2, 3, 4, 5)},
    "thin_ring_1px": lambda: thin_ring(1),
    "circle_2px": circle_2px,
    "text": text,
    "comb": comb,
    "spiral": spiral,
    "touching": touching,
    "holes": holes,
    "bridged_disks": bridged_disks,
    "specks": specks,
    "tiny": tiny,
    "single_pixel": single_pixel,
    "elongated": elongated,
    "tall_thin": tall_thin,
}
