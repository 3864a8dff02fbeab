"""A cylinder seen at a slant: a can or a pipe photographed from a little above or aside.

Seen square from the side, a cylinder's outline is a rectangle and inflate turns
it about its axis (``inflate.revolution``). Turned towards the camera, its outline
is a band of constant width 2r between two half-ellipses, and one end's cap shows
as a flat, evenly lit ellipse. The ellipses say how far the axis leans out of the
picture: their half-length along the axis is b = r·sin(lean) in orthographic view,
and the evenly lit cap says which end leans towards the camera. From that the
solid is known exactly: the depth at every point is where the view ray enters
and leaves the cylinder, so the back is not a mirror of the front but the far
side of a slanted solid.

Everything here is measured on inflate's grid, in grid cells. An outline that is
not such a band (uneven width, ends that are not half-ellipses of one size, no
cap to tell the ends apart) is left to inflate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

STEP = 0.5  #: sampling step along and across the axis, in grid cells
MIDDLE = (0.3, 0.7)  #: the stretch of the length whose width must be constant
EVEN_WIDTH = 0.03  #: largest departure of the middle's width from 2r, as a share of 2r
STRAIGHT_AXIS = 0.03  #: largest departure of the middle's centre line from straight, as a share of 2r
END_FIT = 0.05  #: mean departure of an end's squared width (over 4r²) from a half-ellipse's
TIP_SLACK = 1.5  #: cells between where the half-ellipse ends and where the outline does ...
TIP_SHARE = 0.15  #: ... or this share of b, whichever is more
ENDS_AGREE = 0.2  #: the two ends' half-lengths b may differ by this share (or by MIN_LEAN cells)
MIN_LEAN = 2.0  #: cells; a shorter b is a cylinder square from the side, which inflate already turns
LEAN_RANGE = (0.15, 0.9)  #: b / r: below, a band with rounded corners; above, nearly end-on (a disk)
CAP_SHRINK = 0.6  #: share of the cap ellipse whose brightness is compared (clear of its rim)
CAP_EVEN = 0.5  #: one end's brightness spread below this share of the other's marks the visible cap
CAP_FLAT = 0.05  #: and below this share of its mean brightness: a plane under one light


class Solid(Protocol):
    """A solid fitted to the picture: where each grid node's view ray enters and leaves it."""

    def rays(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(front, back, hit) on a grid of ``shape``: Z in cells where each ray leaves and enters, and
        whether it meets the solid at all."""
        ...


@dataclass
class Cylinder:
    """The fitted solid, in grid cells: (col, row) centre, axis in the picture, radius, half-length, lean."""

    centre: tuple[float, float]
    along: tuple[float, float]  #: unit axis direction in the picture, towards the end nearer the camera
    radius: float
    half_length: float
    lean: float  #: sine of the axis's angle out of the picture plane, > 0

    def rays(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _cylinder_rays(self, shape)


def _sample(values: np.ndarray, centre: np.ndarray, u: np.ndarray, v: np.ndarray, t: np.ndarray,
            s: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    cols = centre[0] + t[:, None] * u[0] + s[None, :] * v[0]
    rows = centre[1] + t[:, None] * u[1] + s[None, :] * v[1]
    return ndimage.map_coordinates(values, [rows, cols], order=1, mode="constant", cval=0.0)


def _end_fit(width: np.ndarray, radius: float) -> tuple[float, float]:
    """(b, misfit) for one end: ``width`` runs from the outline's tip inwards, one sample per STEP.

    Across a half-ellipse of half-length b the squared width is a parabola in the
    distance along the axis, (w / 2r)² = 1 - ((t₀ + b - t) / b)², so b = 1/√(-a) for
    its leading coefficient a: a least-squares fit that does not depend on where
    between two samples the tip lies. The misfit is the parabola's mean departure,
    or 1 when its tip (where it reaches 0) is not where the outline ends (a band
    with rounded corners starts at nearly full width).
    """
    y = (np.minimum(width, 2 * radius) / (2 * radius)) ** 2
    e = np.arange(len(y)) * STEP
    full = np.nonzero(y >= 0.98)[0]
    zone = slice(0, int(full[0]) if len(full) else len(y))
    ez, yz = e[zone], y[zone]
    sel = (yz > 0.02) & (yz < 0.95)
    if sel.sum() < 4:
        return 0.0, 1.0
    a, b1, c = np.polyfit(ez[sel], yz[sel], 2)
    if a >= 0:
        return 0.0, 1.0
    b = 1.0 / math.sqrt(-a)
    apex = -b1 / (2 * a)  # where the parabola reaches 1: the end of the half-ellipse
    if abs(apex - b) > max(TIP_SLACK, TIP_SHARE * b):  # its tip, apex - b, must be the outline's
        return b, 1.0
    return b, float(np.abs(np.polyval([a, b1, c], ez[sel]) - yz[sel]).mean())


def fit(coverage: np.ndarray, brightness: np.ndarray | None) -> Cylinder | None:
    """The slanted cylinder whose outline ``coverage`` (a grid, 0.5 on the outline) is, or None."""
    inside = coverage >= 0.5
    rows, cols = np.nonzero(inside)
    if len(rows) < 64 or brightness is None:
        return None
    pts = np.stack([cols, rows], axis=1).astype(np.float64)
    centre = pts.mean(axis=0)
    _, vecs = np.linalg.eigh(np.cov((pts - centre).T))
    u, v = vecs[:, 1], vecs[:, 0]  # the long axis, and across it
    t_all, s_all = (pts - centre) @ u, (pts - centre) @ v
    t = np.arange(t_all.min() - 2, t_all.max() + 2 + STEP, STEP)
    s = np.arange(s_all.min() - 2, s_all.max() + 2 + STEP, STEP)
    grid = _sample(coverage, centre, u, v, t, s)
    width = grid.sum(axis=1) * STEP
    present = np.nonzero(width > 0.05)[0]
    if len(present) < 16:
        return None
    lo, hi = present[0], present[-1] + 1
    width, t = width[lo:hi], t[lo:hi]
    n = len(width)
    middle = slice(int(MIDDLE[0] * n), int(MIDDLE[1] * n))
    radius = float(np.median(width[middle])) / 2
    if radius < 2 or np.abs(width[middle] - 2 * radius).max() > EVEN_WIDTH * 2 * radius:
        return None
    mid_centre = (grid[lo:hi] * s[None, :]).sum(axis=1)[middle] / np.maximum(grid[lo:hi].sum(axis=1)[middle], 1e-9)
    if np.ptp(mid_centre) > STRAIGHT_AXIS * 2 * radius:
        return None
    b_lo, miss_lo = _end_fit(width, radius)
    b_hi, miss_hi = _end_fit(width[::-1], radius)
    b = (b_lo + b_hi) / 2
    if max(miss_lo, miss_hi) > END_FIT or abs(b_lo - b_hi) > max(MIN_LEAN, ENDS_AGREE * b):
        return None
    if b < MIN_LEAN or not LEAN_RANGE[0] <= b / radius <= LEAN_RANGE[1]:
        return None
    length = (t[-1] - t[0] + STEP) - 2 * b  # the axis's length as the picture shows it
    if length < radius:
        return None
    axis_centre = centre + u * (t[0] + t[-1]) / 2 + v * float(np.median(mid_centre))
    # Which end's cap shows: it is a plane, evenly lit; at the other end the curved side is seen.
    spreads = []
    for sign in (1.0, -1.0):
        cap = axis_centre + sign * u * (length / 2)
        dc, dr = np.meshgrid(np.arange(coverage.shape[1]) - cap[0], np.arange(coverage.shape[0]) - cap[1])
        along_t, across = dc * u[0] + dr * u[1], dc * v[0] + dr * v[1]
        region = inside & ((along_t / b) ** 2 + (across / radius) ** 2 <= CAP_SHRINK**2)
        if region.sum() < 6:
            return None
        values = brightness[region]
        spreads.append(float(values.std() / max(values.mean(), 1e-9)))
    if spreads[0] < CAP_EVEN * spreads[1] and spreads[0] < CAP_FLAT:
        along = u
    elif spreads[1] < CAP_EVEN * spreads[0] and spreads[1] < CAP_FLAT:
        along = -u
    else:
        return None
    lean = b / radius
    half_length = length / 2 / math.sqrt(1 - lean * lean)
    return Cylinder((float(axis_centre[0]), float(axis_centre[1])), (float(along[0]), float(along[1])),
                    radius, half_length, lean)


def _cylinder_rays(cyl: Cylinder, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = math.sqrt(1 - cyl.lean**2)
    a = np.array([cyl.along[0] * k, cyl.along[1] * k, cyl.lean])
    dc, dr = np.meshgrid(np.arange(shape[1]) - cyl.centre[0], np.arange(shape[0]) - cyl.centre[1])
    alpha = dc * a[0] + dr * a[1]  # q·a at z = 0
    d2 = dc * dc + dr * dr
    # |q|² - (q·a)² <= r², with q = (dc, dr, z): k² z² - 2 α a_z z + (d² - α² - r²) <= 0.
    qa, qb, qc = k * k, -2 * alpha * cyl.lean, d2 - alpha * alpha - cyl.radius**2
    disc = qb * qb - 4 * qa * qc
    root = np.sqrt(np.maximum(disc, 0.0))
    z0, z1 = (-qb - root) / (2 * qa), (-qb + root) / (2 * qa)
    # The caps: -L/2 <= α + z·a_z <= L/2.
    c0 = (-cyl.half_length - alpha) / cyl.lean
    c1 = (cyl.half_length - alpha) / cyl.lean
    back, front = np.maximum(z0, c0), np.minimum(z1, c1)
    hit = (disc > 0) & (front > back)
    return front, back, hit
