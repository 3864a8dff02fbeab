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

A cone or a tapered cylinder (a cup, a lampshade, a funnel) at a slant is the
same with two caps of different sizes: its outline is the convex hull of the two
caps' ellipses, fitted to the outline directly (``fit_frustum``). A cone's tip
has no cap; when its base shows no evenly lit cap either, the base leans away.

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
HULL_POINTS = 96  #: points on each cap ellipse of a fitted frustum
OUTLINE_SAMPLES = 800  #: points compared on the outline and on the fitted frustum's (well under a cell apart)
FRUSTUM_SOLIDITY = 0.97  #: share of its convex hull the outline must fill
FRUSTUM_TAPER = 0.1  #: the ends' widths must differ by this share of the wider before a frustum is tried
FRUSTUM_MISFIT = 0.6  #: cells; root mean square distance between the outline and the fitted frustum's
FRUSTUM_CUT = 0.6  #: an end whose first width is this share of its radius is cut square, not an ellipse
FRUSTUM_CAP = 0.2  #: an end narrower than this share of the wider one is a tip, with no cap to see


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


def _profile(coverage: np.ndarray) -> tuple | None:
    """(centre, u, v, t, s, samples, width, middle): the outline's long axis u through its centre, its
    width across at each t along it (samples of the coverage on the t × s lattice) from tip to tip, and
    the MIDDLE stretch of those samples."""
    inside = coverage >= 0.5
    rows, cols = np.nonzero(inside)
    if len(rows) < 64:
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
    n = hi - lo
    return centre, u, v, t[lo:hi], s, grid[lo:hi], width[lo:hi], slice(int(MIDDLE[0] * n), int(MIDDLE[1] * n))


def single_outline(coverage: np.ndarray) -> np.ndarray | None:
    """The 0.5 outline of ``coverage`` as (col, row) points, or None when there is more than one
    (holes, pieces): not one simple solid."""
    from skimage import measure

    contours = measure.find_contours(np.pad(coverage.astype(np.float64), 1), 0.5)
    return contours[0][:, ::-1] - 1.0 if len(contours) == 1 else None


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
    if brightness is None:
        return None
    found = _profile(coverage)
    if found is None:
        return None
    centre, u, v, t, s, grid, width, middle = found
    radius = float(np.median(width[middle])) / 2
    if radius < 2 or np.abs(width[middle] - 2 * radius).max() > EVEN_WIDTH * 2 * radius:
        return None
    mid_centre = (grid * s[None, :]).sum(axis=1)[middle] / np.maximum(grid.sum(axis=1)[middle], 1e-9)
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
    spreads = [_cap_spread(brightness, inside, axis_centre + sign * u * (length / 2), u, b, radius)
               for sign in (1.0, -1.0)]
    if None in spreads:
        return None
    nearer = _nearer_end(spreads[0], spreads[1])
    if nearer is None:
        return None
    along = nearer * u
    lean = b / radius
    half_length = length / 2 / math.sqrt(1 - lean * lean)
    return Cylinder((float(axis_centre[0]), float(axis_centre[1])), (float(along[0]), float(along[1])),
                    radius, half_length, lean)


def _cap_spread(brightness: np.ndarray, inside: np.ndarray, centre: np.ndarray, u: np.ndarray, half_along: float,
                half_across: float) -> float | None:
    """Brightness spread (std / mean) over the middle of the cap ellipse about ``centre``; None when it is
    too small to measure."""
    dc, dr = np.meshgrid(np.arange(inside.shape[1]) - centre[0], np.arange(inside.shape[0]) - centre[1])
    along, across = dc * u[0] + dr * u[1], -dc * u[1] + dr * u[0]
    region = inside & ((along / half_along) ** 2 + (across / half_across) ** 2 <= CAP_SHRINK**2)
    if region.sum() < 6:
        return None
    values = brightness[region]
    return float(values.std() / max(values.mean(), 1e-9))


def _nearer_end(plus: float | None, minus: float | None) -> float | None:
    """+1 or -1: which end leans towards the camera, from the brightness spread over each end's cap
    (None for a tip, which has no cap); None when the picture cannot tell."""

    def shows(cap: float | None, other: float | None) -> bool:  # this cap is evenly lit, the other end not
        return cap is not None and cap < CAP_FLAT and (other is None or (other >= CAP_FLAT and cap < CAP_EVEN * other))

    if shows(plus, minus):
        return 1.0
    if shows(minus, plus):
        return -1.0
    # A cone whose base shows its curved side: the base leans away, the tip towards the camera.
    if plus is None and minus is not None and minus > 2 * CAP_FLAT:
        return 1.0
    if minus is None and plus is not None and plus > 2 * CAP_FLAT:
        return -1.0
    return None


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


@dataclass
class Frustum:
    """A cone or a tapered cylinder, in grid cells: the axis's middle (col, row, 0), its direction
    (col, row, z) towards the end nearer the camera, the half-length, and the radii at the near and far ends."""

    centre: tuple[float, float]
    axis: tuple[float, float, float]
    half_length: float
    near_radius: float
    far_radius: float

    def rays(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = np.asarray(self.axis)
        h = self.half_length
        dc, dr = np.meshgrid(np.arange(shape[1]) - self.centre[0], np.arange(shape[0]) - self.centre[1])
        alpha = dc * a[0] + dr * a[1]
        d2 = dc * dc + dr * dr
        lean = a[2]
        r_mid = (self.near_radius + self.far_radius) / 2
        g = (self.near_radius - self.far_radius) / (2 * h)
        # Inside: within the two caps, and nearer the axis than the radius there, r(s) = r_mid + g·s at
        # s = α + lean·z along it: f(z) = d² + z² - s² - r(s)² <= 0, a quadratic in z.
        rho = r_mid + g * alpha
        qa = 1 - lean * lean - (g * lean) ** 2
        qb = -2 * alpha * lean - 2 * g * lean * rho
        qc = d2 - alpha * alpha - rho * rho
        z_lo, z_hi = (-h - alpha) / lean, (h - alpha) / lean
        disc = qb * qb - 4 * qa * qc
        root = np.sqrt(np.maximum(disc, 0.0))
        safe = np.where(np.abs(qa) > 1e-12, qa, 1e-12)
        r1, r2 = (-qb - root) / (2 * safe), (-qb + root) / (2 * safe)
        r1 = np.where(disc > 0, np.clip(r1, z_lo, z_hi), z_lo)
        r2 = np.where(disc > 0, np.clip(r2, z_lo, z_hi), z_lo)
        cuts = np.sort(np.stack([z_lo, r1, r2, z_hi]), axis=0)
        front = np.full(shape, -np.inf)
        back = np.full(shape, np.inf)
        # The solid is convex, so the spans between the cuts where f <= 0 are one run along the ray.
        for i in range(3):
            start, stop = cuts[i], cuts[i + 1]
            mid = (start + stop) / 2
            ok = (stop > start) & (qa * mid * mid + qb * mid + qc <= 0)
            back = np.where(ok, np.minimum(back, start), back)
            front = np.where(ok, np.maximum(front, stop), front)
        hit = front > back
        return np.where(hit, front, 0.0), np.where(hit, back, 0.0), hit


def _ellipse_hull(params: np.ndarray) -> np.ndarray:
    """Outline points (col, row) of the convex hull of a frustum's two cap ellipses, seen in the picture.

    ``params``: centre col, row; axis angle; half of the axis's length in the picture; the radii at
    the +axis and -axis ends; the lean (the caps' minor over major axis).
    """
    from scipy.spatial import ConvexHull

    cc, cr, angle, m, r_plus, r_minus, lean = params
    u = np.array([math.cos(angle), math.sin(angle)])
    v = np.array([-u[1], u[0]])
    theta = np.linspace(0, 2 * math.pi, HULL_POINTS, endpoint=False)
    points = []
    for sign, r in ((1.0, r_plus), (-1.0, r_minus)):
        r = max(r, 0.0)
        centre = np.array([cc, cr]) + sign * m * u
        points.append(centre + np.outer(r * lean * np.cos(theta), u) + np.outer(r * np.sin(theta), v))
    pts = np.concatenate(points)
    hull = pts[ConvexHull(pts).vertices]
    closed = np.concatenate([hull, hull[:1]])
    seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    at = np.concatenate([[0.0], np.cumsum(seg)])
    s = np.linspace(0, at[-1], OUTLINE_SAMPLES, endpoint=False)
    return np.stack([np.interp(s, at, closed[:, 0]), np.interp(s, at, closed[:, 1])], axis=1)


def fit_frustum(coverage: np.ndarray, brightness: np.ndarray | None) -> Frustum | None:
    """The slanted cone or tapered cylinder whose outline ``coverage`` is, or None.

    Its outline is the convex hull of its two caps' ellipses (one a point for a cone):
    seven numbers, fitted to the outline by Nelder-Mead on the mean squared distance
    between the two outlines, starting from the outline's axis and its width there.
    """
    inside = coverage >= 0.5
    if brightness is None or inside.sum() < 64:
        return None

    if inside.sum() < FRUSTUM_SOLIDITY * convex_hull_area(inside):
        return None
    outline = single_outline(coverage)
    found = _profile(coverage)
    if outline is None or found is None:
        return None
    outline = outline[np.linspace(0, len(outline) - 1, min(len(outline), OUTLINE_SAMPLES)).astype(int)]
    centre, u, _, t, _, _, width, middle = found
    # The side's width is straight along a frustum, and widest across the wide end's cap; carried from
    # the middle to the narrow end's tip, it gives that end's radius (0 for a cone), for a start.
    slope, offset = np.polyfit(t[middle], width[middle], 1)
    r_wide = float(width.max()) / 2
    r_narrow = max(float(slope * (t[0] if slope > 0 else t[-1]) + offset) / 2, 0.0)
    if r_wide - r_narrow < FRUSTUM_TAPER * r_wide:
        return None  # no taper: a cylinder (``fit``) or not a solid of revolution at all
    r_plus, r_minus = (r_wide, r_narrow) if slope > 0 else (r_narrow, r_wide)
    # The wide end is the outer half of an ellipse: its width grows from nothing. A cut end (a cone
    # seen square from the side, a pyramid) starts at nearly its full width; inflate turns those.
    wide = width[::-1] if slope > 0 else width
    if wide[:2].max() / 2 > FRUSTUM_CUT * r_wide:
        return None
    b, _ = _end_fit(wide, r_wide)
    if not LEAN_RANGE[0] <= b / r_wide <= LEAN_RANGE[1]:
        return None
    from scipy import optimize  # only now: most outlines are turned away above, and this import is slow
    from scipy.spatial import cKDTree

    tree = cKDTree(outline)

    def misfit(p: np.ndarray) -> float:
        if p[6] <= 0.02 or p[6] >= 1.0 or p[3] <= 1.0 or max(p[4], p[5]) <= 1.0:
            return 1e9  # out of range, or too thin for a hull (Qhull refuses points on one line)
        hull = _ellipse_hull(p)
        there, _ = tree.query(hull)
        back, _ = cKDTree(hull).query(outline)
        return float((there**2).mean() + (back**2).mean())

    mid = centre + u * (t[0] + t[-1]) / 2
    lean0 = b / r_wide
    # Half the axis's length in the picture: the tips less each end's cap half-length (r·lean).
    m0 = max((t[-1] - t[0] - lean0 * (r_plus + r_minus)) / 2, 2.0)
    start = np.array([mid[0], mid[1], math.atan2(u[1], u[0]), m0, r_plus, r_minus, lean0])
    best = optimize.minimize(misfit, start, method="Nelder-Mead",
                             options={"xatol": 0.05, "fatol": 1e-4, "maxiter": 800})
    cc, cr, angle, m, r_plus, r_minus, lean = best.x
    if math.sqrt(best.fun / 2) > FRUSTUM_MISFIT or not LEAN_RANGE[0] <= lean <= LEAN_RANGE[1]:
        return None
    big = max(r_plus, r_minus)
    if big < 2:
        return None
    u = np.array([math.cos(angle), math.sin(angle)])
    # Which end is nearer: a cap that shows is a plane, evenly lit; where no cap shows the curved side is seen.
    spreads: list[float | None] = []
    for sign, r in ((1.0, r_plus), (-1.0, r_minus)):
        if r < FRUSTUM_CAP * big:
            spreads.append(None)  # a cone's tip: no cap to see
            continue
        spread = _cap_spread(brightness, inside, np.array([cc, cr]) + sign * m * u, u, r * lean, r)
        if spread is None:
            return None
        spreads.append(spread)
    lit = brightness[inside]
    if lit.std() < 2 * CAP_FLAT * max(float(lit.mean()), 1e-9):
        return None  # one flat colour: no curved side to tell a cap from
    nearer = _nearer_end(spreads[0], spreads[1])
    if nearer is None:
        return None
    k = math.sqrt(1 - lean * lean)
    near, far = (r_plus, r_minus) if nearer > 0 else (r_minus, r_plus)
    return Frustum((float(cc), float(cr)), (float(nearer * u[0] * k), float(nearer * u[1] * k), float(lean)),
                   float(m / k), float(max(near, 0.0)), float(max(far, 0.0)))


def convex_hull_area(mask: np.ndarray) -> int:
    """Pixels inside or on the convex hull of ``mask``'s pixels, counted as ``skimage.morphology.convex_hull_image``
    counts them (a hull through the middles of the outer pixel edges), without importing skimage.morphology
    (a few tenths of a second)."""
    rows = np.nonzero(mask.any(axis=1))[0]
    if not len(rows):
        return 0
    first = mask[rows].argmax(axis=1)
    last = mask.shape[1] - 1 - mask[rows][:, ::-1].argmax(axis=1)
    ends = np.concatenate([np.stack([rows, first], 1), np.stack([rows, last], 1)]).astype(np.float64)
    diamond = np.array([[-0.5, 0.0], [0.5, 0.0], [0.0, -0.5], [0.0, 0.5]])
    points = np.unique((ends[:, None, :] + diamond).reshape(-1, 2), axis=0)  # sorted by row, then column
    hull = _monotone_chain([tuple(p) for p in points])
    if len(hull) < 3:
        return int(mask.sum())
    a = np.array(hull)
    b = np.roll(a, -1, axis=0)
    # Counter-clockwise in (row, col): a pixel centre p is inside when cross(b - a, p - a) >= 0 for every edge,
    # which is linear in the column: coef * col + rest >= 0, per row and edge.
    r = np.arange(mask.shape[0], dtype=np.float64)[:, None]
    d_r, d_c = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
    # cross = d_r * (col - a_c) - d_c * (row - a_r)
    coef = d_r[None, :] * np.ones_like(r)
    rest = -d_r[None, :] * a[:, 1][None, :] - d_c[None, :] * (r - a[:, 0][None, :])
    eps = 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = -rest / coef
    lo = np.where(coef > 0, bound, -np.inf).max(axis=1)
    hi = np.where(coef < 0, bound, np.inf).min(axis=1)
    blocked = ((coef == 0) & (rest < -eps)).any(axis=1)
    lo = np.maximum(np.ceil(lo - eps), 0)
    hi = np.minimum(np.floor(hi + eps), mask.shape[1] - 1)
    return int(np.where(blocked, 0, np.maximum(hi - lo + 1, 0)).sum())


def _monotone_chain(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Convex hull of sorted points, counter-clockwise, without collinear points."""

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    for p in points:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[tuple[float, float]] = []
    for p in reversed(points):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]
