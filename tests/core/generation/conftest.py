"""Shared, cached engine runs: generation is the slow part, so each result is made once."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.generation import GenerationOptions, GenerationResult, generate, inflate, load_image
from core.generation.images import foreground
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


def shaded_field(image: np.ndarray) -> tuple[inflate.HeightField, np.ndarray, np.ndarray, np.ndarray]:
    """(field, rgb, coverage, brightness): inflate's grid for a picture, as the engine makes it."""
    picture = load_image(builders.png(image))
    _, coverage = foreground(picture)
    rgb = np.asarray(picture.convert("RGB"))
    field = inflate.solve(coverage, "cpu", 160)
    brightness = inflate.grid_average(field, rgb.astype(np.float32) @ np.float32([0.299, 0.587, 0.114]), coverage)
    return field, rgb, coverage, brightness


def ray_iou(field: inflate.HeightField, surfaces: tuple[np.ndarray, np.ndarray], front: np.ndarray,
             back: np.ndarray) -> float:
    """Volume IoU of two solids that are spans along each ray, summed over the field's grid nodes."""
    rows = np.rint(field.origin[1] + np.arange(field.coverage.shape[0]) * field.step).astype(int)
    cols = np.rint(field.origin[0] + np.arange(field.coverage.shape[1]) * field.step).astype(int)
    ok_r, ok_c = (rows >= 0) & (rows < front.shape[0]), (cols >= 0) & (cols < front.shape[1])
    true_f = np.full(field.coverage.shape, np.nan)
    true_b = np.full(field.coverage.shape, np.nan)
    true_f[np.ix_(ok_r, ok_c)] = front[np.ix_(rows[ok_r], cols[ok_c])]
    true_b[np.ix_(ok_r, ok_c)] = back[np.ix_(rows[ok_r], cols[ok_c])]
    inside = field.coverage >= 0.5
    got_f, got_b = (np.where(inside, s, np.nan) for s in surfaces)
    # Only the depth is judged: both solids centred in Z, as a picture cannot place them.
    got_mid = np.nanmean((got_f + got_b) / 2)
    true_mid = np.nanmean((true_f + true_b) / 2)
    got_f, got_b = got_f - got_mid, got_b - got_mid
    true_f, true_b = true_f - true_mid, true_b - true_mid
    both = np.fmax(np.fmin(got_f, true_f) - np.fmax(got_b, true_b), 0.0)
    union = np.nan_to_num(got_f - got_b) + np.nan_to_num(true_f - true_b) - np.nan_to_num(both)
    return float(np.nansum(both) / np.sum(union))
