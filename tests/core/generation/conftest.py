"""Shared, cached engine runs: generation is the slow part, so each result is made once."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.generation import GenerationOptions, GenerationResult, generate
from tests.core.generation import builders

FAST = {"faces": 8000, "resolution": 256}


@pytest.fixture(scope="session")
def figure_png() -> bytes:
    return builders.png(builders.rgba(builders.figure_mask(256)))


@pytest.fixture(scope="session")
def inflated(figure_png: bytes) -> GenerationResult:
    return generate([figure_png], GenerationOptions(mode="inflate", **FAST))


@pytest.fixture(scope="session")
def carved() -> GenerationResult:
    views = builders.turntable_views(8, 256, [(0, 0, 0, 70), (55, 40, 35, 35)])
    return generate([builders.png(v) for v in views], GenerationOptions(mode="carve", **FAST))


@pytest.fixture(scope="session")
def relief_plate(figure_png: bytes) -> GenerationResult:
    return generate([figure_png], GenerationOptions(mode="relief", **FAST))


def front_silhouette(vertices: np.ndarray, faces: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The mesh seen from +Z, drawn into the mask's pixel frame (matched on bounding boxes)."""
    rows, cols = np.nonzero(mask)
    c0, c1, r0, r1 = cols.min(), cols.max() + 1, rows.min(), rows.max() + 1
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    ss = 2
    px = ((vertices[:, 0] - lo[0]) / (hi[0] - lo[0]) * (c1 - c0) + c0) * ss
    py = ((hi[1] - vertices[:, 1]) / (hi[1] - lo[1]) * (r1 - r0) + r0) * ss
    canvas = Image.new("L", (mask.shape[1] * ss, mask.shape[0] * ss), 0)
    draw = ImageDraw.Draw(canvas)
    for a, b, c in faces:
        draw.polygon([(px[a], py[a]), (px[b], py[b]), (px[c], py[c])], fill=255)
    return np.asarray(canvas.resize(mask.shape[::-1], Image.Resampling.BOX)) >= 128


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))
