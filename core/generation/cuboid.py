"""A box seen on a corner: three faces showing, as packaging and blocks are photographed.

Seen from above and aside, a box's outline is a hexagon whose opposite sides are
parallel and equal, and going round it the sides follow the box's three edge
directions: a, b, c, -a, -b, -c. In orthographic view each side is the picture
of a box edge Eᵢ = (eᵢ, zᵢ), and the three edges are square to one another, so
eᵢ·eⱼ + zᵢzⱼ = 0 for each pair. Three equations for three unknown depths:
z_a² = -(e_a·e_b)(e_a·e_c)/(e_b·e_c), and so on. That fixes the box up to turning
it inside out (the Necker cube's two readings); the shading picks the reading in
which each of the three visible faces is one flat, evenly lit region.

Measured on inflate's grid, in grid cells. An outline that is not such a hexagon,
depths with no real solution (not a box), or faces that are not evenly lit (a
printed carton, a hexagonal plate seen square on) are left to inflate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

POLYGON_TOLERANCE = 0.02  #: outline polygon fit, as a share of the larger side
MERGE_TURN = 35.0  #: degrees; a turn of the outline polygon gentler than this is half of a cut corner
SYMMETRY = 0.04  #: opposite corners must mirror through the centre to within this share of the larger side
FACE_TRIM = 0.12  #: share of each face's two sides left out next to its edges when its lighting is measured
FACE_EVEN = 0.05  #: a face's brightness spread, as a share of its mean, below which it is evenly lit
READING_MARGIN = 2.0  #: the chosen reading's worst face spread must be this many times below the other's
MIN_FACE_NODES = 6
STABILITY_TRIALS = 8  #: the hexagon's corners moved at random by up to half a cell, this many times ...
STABLE = 0.1  #: ... may change no edge's length by more than this share


@dataclass
class Cuboid:
    """A box: its centre (col, row, 0) and three square edge vectors (col, row, z), in grid cells."""

    centre: tuple[float, float]
    edges: tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]

    def rays(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dc, dr = np.meshgrid(np.arange(shape[1]) - self.centre[0], np.arange(shape[0]) - self.centre[1])
        back = np.full(shape, -np.inf)
        front = np.full(shape, np.inf)
        hit = np.ones(shape, bool)
        for edge in self.edges:
            e = np.asarray(edge)
            length = float(np.linalg.norm(e))
            unit, half = e / length, length / 2
            along = dc * unit[0] + dr * unit[1]  # the ray's offset along this edge at z = 0
            if abs(unit[2]) < 1e-9:
                hit &= np.abs(along) <= half
                continue
            z0, z1 = (-half - along) / unit[2], (half - along) / unit[2]
            back = np.maximum(back, np.minimum(z0, z1))
            front = np.minimum(front, np.maximum(z0, z1))
        hit &= front > back
        return np.where(hit, front, 0.0), np.where(hit, back, 0.0), hit


def _hexagon(inside: np.ndarray, coverage: np.ndarray) -> np.ndarray | None:
    """The outline's six corners as (col, row), in order, or None when it is not a convex hexagon."""
    from core.generation.cues import approximate_polygon
    from core.generation.oblique import single_outline

    rows = np.nonzero(inside.any(axis=1))[0]
    cols = np.nonzero(inside.any(axis=0))[0]
    side = float(max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1)
    outline = single_outline(coverage)
    if outline is None:
        return None  # holes or pieces: not one box
    corners = approximate_polygon(outline, tolerance=max(1.0, POLYGON_TOLERANCE * side))[:-1]
    # A corner cut by a pixel or two comes out as two gentle turns: keep the sharper of each such pair.
    while len(corners) > 6:
        sides = np.roll(corners, -1, axis=0) - corners
        before = np.roll(sides, 1, axis=0)
        cos = (sides * before).sum(axis=1) / np.maximum(
            np.linalg.norm(sides, axis=1) * np.linalg.norm(before, axis=1), 1e-9)
        turn = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
        if turn.min() > MERGE_TURN:
            break
        corners = np.delete(corners, int(np.argmin(turn)), axis=0)
    if len(corners) != 6:
        return None
    corners = _refined(corners, outline)
    centre = corners.mean(axis=0)
    if np.abs(corners[:3] + corners[3:] - 2 * centre).max() > SYMMETRY * side:
        return None
    sides = np.roll(corners, -1, axis=0) - corners
    turns = np.cross(sides, np.roll(sides, -1, axis=0))
    if not (np.all(turns > 0) or np.all(turns < 0)):
        return None  # not convex
    return corners


def _refined(corners: np.ndarray, outline: np.ndarray) -> np.ndarray:
    """Each corner where the straight lines fitted to the outline on either side of it meet.

    The polygon's corners sit on outline points, which a rounded or cut corner moves;
    lines fitted to each side's points away from the corners do not move.
    """
    n = len(corners)
    lines = []
    for i in range(n):
        a, b = corners[i], corners[(i + 1) % n]
        d = b - a
        length = float(np.linalg.norm(d))
        rel = outline - a
        along = rel @ d / max(length * length, 1e-9)
        off = np.abs(rel[:, 0] * d[1] - rel[:, 1] * d[0]) / max(length, 1e-9)
        near = (along > 0.15) & (along < 0.85) & (off < 2.0)
        if near.sum() < 4:
            lines.append(((a + b) / 2, d / max(length, 1e-9)))
            continue
        pts = outline[near]
        mean = pts.mean(axis=0)
        _, vecs = np.linalg.eigh(np.cov((pts - mean).T))
        lines.append((mean, vecs[:, -1]))
    out = corners.copy()
    for i in range(n):
        (p, u), (q, w) = lines[i - 1], lines[i]
        m = np.array([u, -w]).T
        if abs(np.linalg.det(m)) < 1e-9:
            continue
        t = np.linalg.solve(m, q - p)
        out[i] = p + t[0] * u
    return out


def _face_spread(brightness: np.ndarray, inside: np.ndarray, corner: np.ndarray, u: np.ndarray,
                 v: np.ndarray) -> float | None:
    """Brightness spread (std / mean) over the parallelogram corner - α·u - β·v, away from its edges."""
    dc, dr = np.meshgrid(np.arange(inside.shape[1]) - corner[0], np.arange(inside.shape[0]) - corner[1])
    m = np.array([[-u[0], -v[0]], [-u[1], -v[1]]])
    if abs(np.linalg.det(m)) < 1e-6:
        return None
    inv = np.linalg.inv(m)
    a = inv[0, 0] * dc + inv[0, 1] * dr
    b = inv[1, 0] * dc + inv[1, 1] * dr
    lo, hi = FACE_TRIM, 1.0 - FACE_TRIM
    region = inside & (a >= lo) & (a <= hi) & (b >= lo) & (b <= hi)
    if region.sum() < MIN_FACE_NODES:
        return None
    values = brightness[region]
    return float(values.std() / max(values.mean(), 1e-9))


def _edges(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(e, z): the hexagon's three edge directions in the picture (each the mean of its two opposite
    sides) and the depths that make them square to one another, or None when none do."""
    e = np.array([((corners[i + 1] - corners[i]) - (corners[(i + 4) % 6] - corners[i + 3])) / 2 for i in range(3)])
    ab, ac, bc = float(e[0] @ e[1]), float(e[0] @ e[2]), float(e[1] @ e[2])
    if ab * ac * bc >= 0 or min(abs(ab), abs(ac), abs(bc)) < 1e-9:
        return None
    za = math.sqrt(-ab * ac / bc)
    return e, np.array([za, -ab / za, -ac / za])


def fit(coverage: np.ndarray, brightness: np.ndarray | None) -> Cuboid | None:
    """The box whose outline ``coverage`` (a grid, 0.5 on the outline) is, seen on a corner, or None."""
    inside = coverage >= 0.5
    if brightness is None or inside.sum() < 64:
        return None
    corners = _hexagon(inside, coverage)
    if corners is None:
        return None
    centre = corners.mean(axis=0)
    found = _edges(corners)
    if found is None:
        return None  # no real depths: the three sides cannot be square edges of one box
    e, z = found
    # Two sides nearly square in the picture (an edge nearly in the picture plane) leave the depths
    # ill-conditioned: corners moved by half a cell must not change the box's edges by much.
    rng = np.random.default_rng(0)
    lengths = np.hypot(np.linalg.norm(e, axis=1), z)
    for _ in range(STABILITY_TRIALS):
        moved = _edges(corners + rng.uniform(-0.5, 0.5, corners.shape))
        if moved is None or np.abs(np.hypot(np.linalg.norm(moved[0], axis=1), moved[1]) / lengths - 1).max() > STABLE:
            return None
    readings = []
    for sign in (1.0, -1.0):
        zs = sign * z
        s = np.sign(zs)
        near = centre + sum(s[i] * e[i] for i in range(3)) / 2  # the corner nearest the camera
        spreads = [_face_spread(brightness, inside, near, s[i] * e[i], s[j] * e[j])
                   for i, j in ((0, 1), (1, 2), (0, 2))]
        if any(x is None for x in spreads):
            return None
        readings.append((max(x for x in spreads if x is not None), zs))
    (best, zs), (other, _) = sorted(readings, key=lambda r: r[0])
    # The right reading's faces are each evenly lit; the wrong one's straddle the creases, so they are
    # not (in one flat colour there are no creases to see, and nothing tells the readings apart).
    if best > FACE_EVEN or other <= FACE_EVEN or other < READING_MARGIN * best:
        return None
    edges = tuple((float(e[i][0]), float(e[i][1]), float(zs[i])) for i in range(3))
    return Cuboid((float(centre[0]), float(centre[1])), edges)  # type: ignore[arg-type]
