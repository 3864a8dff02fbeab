"""Shape cues beyond the outline, for inflate: is the object flat-faced or rounded?

Two cues, each a number in 0..1, combined into one flatness:

- straight outline: the share of the outline's length that lies on long straight
  runs (a polygon fitted to the sub-pixel outline). Boxes, pyramids, L-blocks and
  furniture score near 1; disks, blobs and animals near 0. A cylinder or a cone
  seen from the side scores high too, so the outline alone cannot decide.
- flat shading: the share of the inside where the shading hardly changes. A
  flat face under one light is evenly lit (its shading is constant up to a crease
  where the next face starts), while a curved surface darkens steadily away from
  the light. Textured photographs score low here, and keep the rounded profile.

Flatness is their product: both must agree before a shape is made box-like.

A third cue says how box-like: ``one_face``, whether nearly all of the inside
is lit at one level. Then the picture shows one face square on (a plate, a
block, a letter, a box seen from the front), and the shape is an extrusion, as
deep at its narrow parts as at its widest; two faces at different levels (a
box turned aside) keep each part's own depth.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from skimage import measure

STRAIGHT_TOLERANCE = 0.004  #: polygon fit tolerance, as a share of the object's larger side
STRAIGHT_MIN_RUN = 0.15  #: a run counts as straight when at least this share of the larger side
SHADING_SIGMA = 0.01  #: smoothing before the shading gradient, as a share of the larger side (≥ 1 px)
SHADING_FLAT = 0.3  #: relative change of brightness across the object's size below which a pixel is flat
WORK_SIZE = 256  #: pixels across at most, for measuring the cues
EDGE_SKIP = 0.04  #: outline band (share of the larger side) left out of the shading measurement
ONE_LEVEL = 0.03  #: brightness within this share of the median counts as the same level
ONE_FACE_SHARE = (0.9, 0.98)  #: share of the inside at one level: not one face .. surely one face


def _larger_side(inside: np.ndarray) -> float:
    """The larger side, in pixels, of the box around ``inside``'s pixels; 0 when there are none."""
    if not inside.any():
        return 0.0
    rows = np.nonzero(inside.any(axis=1))[0]
    cols = np.nonzero(inside.any(axis=0))[0]
    return float(max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1)


def straightness(coverage: np.ndarray) -> float:
    """Share of the 0.5 outline of ``coverage`` that lies on long straight runs."""
    inside = coverage >= 0.5
    side = _larger_side(inside)
    if side == 0:
        return 0.0
    if side < 16:
        return 0.0
    padded = np.pad(coverage.astype(np.float64), 1)
    total = straight = 0.0
    for contour in measure.find_contours(padded, 0.5):
        poly = approximate_polygon(contour, tolerance=max(0.75, STRAIGHT_TOLERANCE * side))
        seg = np.linalg.norm(np.diff(poly, axis=0), axis=1)
        total += float(seg.sum())
        straight += float(seg[seg >= STRAIGHT_MIN_RUN * side].sum())
    return straight / total if total > 0 else 0.0


def approximate_polygon(coords: np.ndarray, tolerance: float) -> np.ndarray:
    """Douglas-Peucker, as ``skimage.measure.approximate_polygon`` (whose module imports scipy.signal, 0.3 s).

    The same steps and distances as scikit-image's (BSD-3), so the same points are kept.
    """
    if tolerance <= 0:
        return coords
    chain = np.zeros(len(coords), bool)
    dists = np.zeros(len(coords))
    chain[0] = chain[-1] = True
    stack = [(0, len(coords) - 1)]
    while stack:
        start, end = stack.pop()
        r0, c0 = coords[start]
        r1, c1 = coords[end]
        dr, dc = r1 - r0, c1 - c0
        angle = -np.arctan2(dr, dc)
        offset = c0 * np.sin(angle) + r0 * np.cos(angle)
        seg = coords[start + 1 : end]
        seg_dists = dists[start + 1 : end]
        dr0, dc0 = seg[:, 0] - r0, seg[:, 1] - c0
        dr1, dc1 = seg[:, 0] - r1, seg[:, 1] - c1
        # Perpendicular distance where the point projects inside the segment, else to the nearer end.
        perp = (dr0 * dr + dc0 * dc > 0) & (-dr1 * dr - dc1 * dc > 0)
        seg_dists[perp] = np.abs(seg[perp, 0] * np.cos(angle) + seg[perp, 1] * np.sin(angle) - offset)
        ends = ~perp
        seg_dists[ends] = np.minimum(np.sqrt(dc0[ends] ** 2 + dr0[ends] ** 2), np.sqrt(dc1[ends] ** 2 + dr1[ends] ** 2))
        if np.any(seg_dists > tolerance):
            split = start + int(np.argmax(seg_dists)) + 1
            stack.append((split, end))
            stack.append((start, split))
            chain[split] = True
    return coords[chain, :]


def _core(coverage: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(inside, core, larger side): the core is the inside away from the outline; None when it is too small."""
    inside = coverage >= 0.5
    side = _larger_side(inside)
    if side == 0:
        return None
    core = ndimage.binary_erosion(inside, iterations=max(1, int(EDGE_SKIP * side)))
    if core.sum() < 16:
        return None
    return inside, core, side


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def one_face(rgb: np.ndarray, coverage: np.ndarray) -> float:
    """0..1: how surely the inside is lit at one level, so one flat face is seen square on."""
    rgb, coverage = _work_size(rgb, coverage)
    found = _core(coverage)
    return 0.0 if found is None else _one_level(_luminance(rgb), found[1])


def _one_level(lum: np.ndarray, core: np.ndarray) -> float:
    values = lum[core]
    level = float(np.median(values))
    share = float((np.abs(values - level) <= ONE_LEVEL * max(level, 1.0)).mean())
    lo, hi = ONE_FACE_SHARE
    return float(np.clip((share - lo) / (hi - lo), 0.0, 1.0))


def flat_shading(rgb: np.ndarray, coverage: np.ndarray) -> float:
    """Share of the inside (away from the outline) whose brightness barely changes."""
    found = _core(coverage)
    return 0.0 if found is None else _flat_share(_luminance(rgb), *found)


def _flat_share(lum: np.ndarray, inside: np.ndarray, core: np.ndarray, side: float) -> float:
    level = float(np.median(lum[core])) or 1.0
    sigma = max(1.0, SHADING_SIGMA * side)
    # Smooth inside only (normalised convolution), so the backdrop does not bleed in.
    w = ndimage.gaussian_filter(inside.astype(np.float64), sigma)
    smooth = ndimage.gaussian_filter(np.where(inside, lum, 0.0), sigma) / np.maximum(w, 1e-6)
    gy, gx = np.gradient(smooth)
    change = np.hypot(gx, gy) * side / max(level, 1.0)
    return float((change[core] < SHADING_FLAT).mean())


def flatness(rgb: np.ndarray | None, coverage: np.ndarray) -> float:
    """0 for a rounded object, 1 for a flat-faced one (see the module notes)."""
    return face_cues(rgb, coverage)[0]


def face_cues(rgb: np.ndarray | None, coverage: np.ndarray) -> tuple[float, float]:
    """(flatness, one_face), measured together (one downscale, one core)."""
    if rgb is None:
        return 0.0, 0.0
    rgb, coverage = _work_size(rgb, coverage)
    found = _core(coverage)
    if found is None:
        return 0.0, 0.0
    lum = _luminance(rgb)
    flat = straightness(coverage) * _flat_share(lum, *found)
    return flat, (_one_level(lum, found[1]) if flat > 0.0 else 0.0)


def _work_size(rgb: np.ndarray, coverage: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both at most WORK_SIZE across: the cues are about the whole object, not its fine detail."""
    k = math.ceil(max(coverage.shape) / WORK_SIZE)
    if k > 1:
        h, w = (coverage.shape[0] // k) * k, (coverage.shape[1] // k) * k
        coverage = coverage[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3))
        rgb = rgb[:h, :w, :3].astype(np.float64).reshape(h // k, k, w // k, k, 3).mean(axis=(1, 3))
    return rgb, coverage
