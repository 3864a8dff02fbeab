"""Relief: a closed plate whose thickness follows the image's luminance.

The plate lies in the XY plane facing +Z (the image's x and y map to X and Y),
with a flat back at Z = 0. A bas-relief is thick where the image is bright; a
lithophane is thick where it is dark, so that light shining through it shows
the picture. Thicknesses are in millimetres against a plate whose longest side
is ``size_mm`` (or ``DEFAULT_WIDTH_MM`` when no print size is asked for; the
model is then normalised as usual).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

DEFAULT_WIDTH_MM = 100.0  # longest side of the plate when no print size is given
GRID_MAX = 320  # nodes along the longest side; flat regions decimate away
SMOOTH_PX = 0.6  # Gaussian sigma in grid nodes: takes the edge off sensor noise


def _grid_shape(size: tuple[int, int], grid_max: int) -> tuple[int, int]:
    w_img, h_img = size
    scale = min(1.0, grid_max / max(w_img, h_img))
    return max(2, round(w_img * scale)), max(2, round(h_img * scale))


def plate_faces(gw: int, gh: int) -> int:
    """Triangles of a plate on a gw×gh grid: the top, the walls and the bottom fan."""
    ring = 2 * (gw - 1) + 2 * (gh - 1)
    return 2 * (gw - 1) * (gh - 1) + 3 * ring


def grid_for(faces: int, size: tuple[int, int], share: float = 3.0) -> int:
    """The longest grid side whose plate has at most ``share·faces`` triangles (decimation takes it on)."""
    lo, hi = 2, GRID_MAX
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if plate_faces(*_grid_shape(size, mid)) <= share * faces:
            lo = mid
        else:
            hi = mid - 1
    return lo


def luminance(image: Image.Image, lithophane: bool) -> np.ndarray:
    """0..1 luminance, with transparent pixels counted as background (thinnest part)."""
    rgba = np.asarray(image).astype(np.float32) / 255.0
    lum = rgba[..., 0] * 0.2126 + rgba[..., 1] * 0.7152 + rgba[..., 2] * 0.0722
    alpha = rgba[..., 3]
    background = 1.0 if lithophane else 0.0
    return lum * alpha + background * (1.0 - alpha)


def build_mesh(
    image: Image.Image,
    *,
    lithophane: bool,
    base_mm: float,
    height_mm: float,
    width_mm: float,
    grid_max: int = GRID_MAX,
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(vertices_mm, faces, pixels_per_mm)``; image column = X·ppm, row = -Y·ppm."""
    w_img, h_img = image.size
    gw, gh = _grid_shape(image.size, grid_max)
    small = image.resize((gw, gh), Image.Resampling.BILINEAR) if (gw, gh) != image.size else image
    lum = ndimage.gaussian_filter(luminance(small, lithophane), SMOOTH_PX)
    if lithophane:
        lum = 1.0 - lum
    # Grid nodes sit on the pixel grid's outer edges, so the plate spans the whole image.
    mm_per_px = width_mm / max(w_img, h_img)
    xs = np.linspace(0.0, w_img, gw) * mm_per_px
    ys = -np.linspace(0.0, h_img, gh) * mm_per_px
    top_z = base_mm + height_mm * np.clip(lum, 0.0, 1.0)
    gx, gy = np.meshgrid(xs, ys)
    top = np.stack([gx.ravel(), gy.ravel(), top_z.ravel()], axis=1)

    idx = np.arange(gh * gw).reshape(gh, gw)
    tl, tr = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    bl, br = idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    top_faces = np.concatenate([np.stack([tl, bl, br], 1), np.stack([tl, br, tr], 1)])

    # The outline, counter-clockwise seen from +Z: bottom row rightwards, right column
    # upwards, top row leftwards, left column downwards.
    ring = np.concatenate([idx[-1, :-1], idx[::-1, -1][:-1], idx[0, ::-1][:-1], idx[:, 0][:-1]])
    n_top = len(top)
    bottom_ring = top[ring].copy()
    bottom_ring[:, 2] = 0.0
    centre = np.array([[xs[-1] / 2.0, ys[-1] / 2.0, 0.0]])
    ring_b = n_top + np.arange(len(ring))
    c = n_top + len(ring)
    a, b = ring, np.roll(ring, -1)
    a2, b2 = ring_b, np.roll(ring_b, -1)
    walls = np.concatenate([np.stack([a, a2, b2], 1), np.stack([a, b2, b], 1)])
    bottom = np.stack([np.full(len(ring), c), b2, a2], 1)
    verts = np.concatenate([top, bottom_ring, centre])
    faces = np.concatenate([top_faces, walls, bottom]).astype(np.int64)
    return verts, faces, 1.0 / mm_per_px
