"""Inflate: one silhouette to a rounded, closed solid.

The height field solves ∇²h = -1 inside the outline with h = 0 on it, and the
surface is z = ±2·√h. For a disk of radius R, h = (R² - r²)/4, so z = ±√(R² - r²):
a sphere, exactly, because everything is measured in pixels.

The outline is found with sub-pixel accuracy from the soft coverage (alpha or
segmentation) on a grid, and the Poisson boundary sits exactly on it (a
ghost-fluid treatment that keeps the system symmetric, so conjugate gradients
apply). Front and back share the outline vertices, so the mesh is closed by
construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.generation import meshing, oblique

if TYPE_CHECKING:
    import torch

GRID_MAX = 256  # nodes along the object's longest side; detail beyond is decimated away anyway
COARSEST = 24  # nodes; below this the nested solve starts
THETA_MIN = 0.05  # smallest boundary distance (in cells) the stencil sees; avoids huge diagonals
CG_TOL = 1e-4  # relative residual
CG_MAX_ITER = 400
PROFILE_SIGMA = 3.0  # grid nodes; smoothing of the local shape estimate below
TRUST_DEPTH = 8  # grid nodes from the outline before second differences are trusted
CARRY_NODES = 12  # how far a measured shape factor is carried towards the outline


@dataclass
class HeightField:
    """The solved field on its grid, and where the grid lies in the image."""

    coverage: np.ndarray  #: grid values in 0..1; the outline is the 0.5 level
    height: np.ndarray  #: h in pixels², 0 outside
    step: int  #: pixels per grid cell
    origin: tuple[float, float]  #: (col, row) in image pixels of grid node (0, 0)
    iterations: int


def solve(coverage: np.ndarray, device: torch.device | str, grid_max: int = GRID_MAX) -> HeightField:
    """Solve the Poisson height field for an image's soft coverage (H×W, values 0..1).

    On the CPU the solve runs on NumPy (torch's import alone takes longer than
    the whole inflate); on CUDA on torch tensors, with the same steps.
    """
    rows = np.nonzero(coverage.max(axis=1) >= 0.5)[0]
    cols = np.nonzero(coverage.max(axis=0) >= 0.5)[0]
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    step = max(1, math.ceil(max(r1 - r0, c1 - c0) / grid_max))
    margin = 2 * step
    # Crop with a margin of background, to a whole number of cells.
    h_cells = math.ceil((r1 - r0) / step) + 4
    w_cells = math.ceil((c1 - c0) / step) + 4
    top, left = r0 - margin, c0 - margin
    padded = np.zeros((h_cells * step, w_cells * step), np.float32)
    src_r0, src_c0 = max(top, 0), max(left, 0)
    src_r1 = min(top + h_cells * step, coverage.shape[0])
    src_c1 = min(left + w_cells * step, coverage.shape[1])
    padded[src_r0 - top : src_r1 - top, src_c0 - left : src_c1 - left] = coverage[src_r0:src_r1, src_c0:src_c1]
    grid = padded.reshape(h_cells, step, w_cells, step).mean(axis=(1, 3))
    grid[[0, -1], :] = 0.0
    grid[:, [0, -1]] = 0.0
    if getattr(device, "type", device) == "cpu":
        h, iterations = _nested_solve_np(grid, float(step))
    else:
        import torch

        ht, iterations = _nested_solve(torch.from_numpy(grid).to(device), float(step))
        h = ht.cpu().numpy()
    origin = (left + (step - 1) / 2.0, top + (step - 1) / 2.0)
    return HeightField(grid, h.astype(np.float64), step, origin, iterations)


_NEIGHBOURS = ((0, 1), (0, -1), (1, 0), (-1, 0))


def _stencil_np(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """NumPy twin of :func:`_stencil`; the neighbour masks come as 0/1 floats."""
    inside = c >= 0.5
    diag = np.zeros_like(c)
    nbs = []
    padded_c = np.pad(c, 1)
    padded_in = np.pad(inside, 1)
    rows, cols = c.shape
    for dr, dc in _NEIGHBOURS:
        nb_c = padded_c[1 + dr : rows + 1 + dr, 1 + dc : cols + 1 + dc]
        nb_in = padded_in[1 + dr : rows + 1 + dr, 1 + dc : cols + 1 + dc]
        theta = np.clip((c - np.float32(0.5)) / np.maximum(c - nb_c, np.float32(1e-6)), THETA_MIN, 1.0)
        diag += np.where(nb_in, np.float32(1.0), np.float32(1.0) / theta.astype(np.float32))
        nbs.append((nb_in & inside).astype(np.float32))
    return inside, np.where(inside, diag, np.float32(1.0)).astype(np.float32), nbs


def _pcg_np(c: np.ndarray, spacing: float, x0: np.ndarray | None) -> tuple[np.ndarray, int]:
    """NumPy twin of :func:`_pcg` (float32, in place where it can be)."""
    inside, diag, nbs = _stencil_np(c)
    keep = inside.astype(np.float32)
    rows, cols = c.shape
    buf = np.zeros((rows + 2, cols + 2), np.float32)
    shifted = [buf[1 + dr : rows + 1 + dr, 1 + dc : cols + 1 + dc] for dr, dc in _NEIGHBOURS]
    ap = np.empty_like(c)
    tmp = np.empty_like(c)

    def apply(x: np.ndarray) -> np.ndarray:
        buf[1:-1, 1:-1] = x
        np.multiply(diag, x, out=ap)
        for nb, s in zip(nbs, shifted, strict=True):
            np.multiply(nb, s, out=tmp)
            np.subtract(ap, tmp, out=ap)
        np.multiply(ap, keep, out=ap)
        return ap

    b = keep * np.float32(spacing * spacing)
    x = np.zeros_like(c) if x0 is None else (x0 * keep).astype(np.float32)
    r = b - apply(x)
    inv = (np.float32(1.0) / diag).astype(np.float32)
    z = r * inv
    p = z.copy()
    rz = np.float32(np.sum(r * z))
    b_norm = float(np.linalg.norm(b)) or 1.0
    tiny = np.float32(1e-30)
    it = 0
    for it in range(1, CG_MAX_ITER + 1):  # noqa: B007
        apply(p)
        alpha = rz / max(np.float32(np.dot(p.ravel(), ap.ravel())), tiny)
        x += alpha * p
        r -= alpha * ap
        if it % 8 == 0 and float(np.linalg.norm(r)) < CG_TOL * b_norm:
            break
        np.multiply(r, inv, out=z)
        rz_new = np.float32(np.dot(r.ravel(), z.ravel()))
        p *= rz_new / max(rz, tiny)
        p += z
        rz = rz_new
    return np.maximum(x, np.float32(0.0)), it


def _nested_solve_np(c: np.ndarray, spacing: float) -> tuple[np.ndarray, int]:
    """NumPy twin of :func:`_nested_solve`."""
    rows, cols = c.shape
    x0 = None
    iterations = 0
    if min(rows, cols) > 2 * COARSEST:
        even = np.pad(c, ((0, rows % 2), (0, cols % 2)))
        coarse = even.reshape(even.shape[0] // 2, 2, even.shape[1] // 2, 2).mean(axis=(1, 3), dtype=np.float32)
        xc, iterations = _nested_solve_np(coarse, spacing * 2)
        x0 = upsample2(xc)[:rows, :cols]
    x, it = _pcg_np(np.ascontiguousarray(c, np.float32), spacing, x0)
    return x, iterations + it


def _upsample_weights(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    src = np.maximum((np.arange(2 * n, dtype=np.float32) + np.float32(0.5)) * np.float32(0.5) - np.float32(0.5), 0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    return i0, np.minimum(i0 + 1, n - 1), (src - i0).astype(np.float32)


def upsample2(a: np.ndarray) -> np.ndarray:
    """Twice the size, bilinear, like torch's ``interpolate(scale_factor=2, align_corners=False)``."""
    r0, r1, wr = _upsample_weights(a.shape[0])
    c0, c1, wc = _upsample_weights(a.shape[1])
    a = a.astype(np.float32, copy=False)
    rows = a[r0] * (np.float32(1.0) - wr)[:, None] + a[r1] * wr[:, None]
    return rows[:, c0] * (np.float32(1.0) - wc) + rows[:, c1] * wc


def _stencil(c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Inside mask, diagonal, and for each of the 4 neighbours whether it is an unknown."""
    import torch
    import torch.nn.functional as F

    inside = c >= 0.5
    diag = torch.zeros_like(c)
    nbs = []
    padded_c = F.pad(c[None, None], (1, 1, 1, 1))[0, 0]
    padded_in = F.pad(inside[None, None].float(), (1, 1, 1, 1))[0, 0] > 0.5
    for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        nb_c = padded_c[1 + dr : padded_c.shape[0] - 1 + dr, 1 + dc : padded_c.shape[1] - 1 + dc]
        nb_in = padded_in[1 + dr : padded_in.shape[0] - 1 + dr, 1 + dc : padded_in.shape[1] - 1 + dc]
        # Distance (in cells) from this node to the 0.5 crossing towards an outside neighbour.
        theta = ((c - 0.5) / (c - nb_c).clamp_min(1e-6)).clamp(THETA_MIN, 1.0)
        diag = diag + torch.where(nb_in, torch.ones_like(c), 1.0 / theta)
        nbs.append(nb_in & inside)
    return inside, torch.where(inside, diag, torch.ones_like(c)), nbs


def _apply(x: torch.Tensor, diag: torch.Tensor, inside: torch.Tensor, nbs: list[torch.Tensor]) -> torch.Tensor:
    import torch
    import torch.nn.functional as F

    p = F.pad(x[None, None], (1, 1, 1, 1))[0, 0]
    rows, cols = x.shape
    out = diag * x
    for (dr, dc), nb in zip(((0, 1), (0, -1), (1, 0), (-1, 0)), nbs, strict=True):
        out = out - torch.where(nb, p[1 + dr : rows + 1 + dr, 1 + dc : cols + 1 + dc], torch.zeros_like(x))
    return torch.where(inside, out, torch.zeros_like(x))


def _pcg(c: torch.Tensor, spacing: float, x0: torch.Tensor | None) -> tuple[torch.Tensor, int]:
    import torch

    inside, diag, nbs = _stencil(c)
    b = torch.where(inside, torch.full_like(c, spacing * spacing), torch.zeros_like(c))
    x = torch.zeros_like(c) if x0 is None else torch.where(inside, x0, torch.zeros_like(c))
    r = b - _apply(x, diag, inside, nbs)
    inv = 1.0 / diag
    z = r * inv
    p = z.clone()
    rz = torch.sum(r * z)
    b_norm = float(torch.linalg.vector_norm(b)) or 1.0
    it = 0
    for it in range(1, CG_MAX_ITER + 1):  # noqa: B007
        ap = _apply(p, diag, inside, nbs)
        alpha = rz / torch.sum(p * ap).clamp_min(1e-30)
        x = x + alpha * p
        r = r - alpha * ap
        if it % 8 == 0 and float(torch.linalg.vector_norm(r)) < CG_TOL * b_norm:
            break
        z = r * inv
        rz_new = torch.sum(r * z)
        p = z + (rz_new / rz.clamp_min(1e-30)) * p
        rz = rz_new
    return x.clamp_min(0.0), it


def _nested_solve(c: torch.Tensor, spacing: float) -> tuple[torch.Tensor, int]:
    """Coarse-to-fine conjugate gradients: each level starts from the coarser answer."""
    import torch.nn.functional as F

    rows, cols = c.shape
    x0 = None
    iterations = 0
    if min(rows, cols) > 2 * COARSEST:
        even = F.pad(c[None, None], (0, cols % 2, 0, rows % 2))
        coarse = F.avg_pool2d(even, 2)[0, 0]
        xc, iterations = _nested_solve(coarse, spacing * 2)
        x0 = F.interpolate(xc[None, None], scale_factor=2, mode="bilinear", align_corners=False)[0, 0]
        x0 = x0[:rows, :cols]
    x, it = _pcg(c, spacing, x0)
    return x, iterations + it


ROUND_TUBES = True


def profile_factor(h: np.ndarray, inside: np.ndarray, step: float) -> np.ndarray:
    """The local c in z = √(c·h): 4 where the outline is disk-like, 2 where it is tube-like.

    With ∇²h = -1, a disk of radius R gives h = (R² - r²)/4 and a long strip of
    half-width R gives h = (R² - y²)/2; a round cross-section z² = R² - r² needs
    c = 4 for the first and c = 2 for the second (plain 2·√h would make every
    elongated part √2 times too deep). In general c = 2 / (-h_nn), with h_nn the
    second derivative across the level lines (-1/2 for a disk, -1 for a strip),
    estimated from ratios of smoothed gradient terms so it stays defined where
    the gradient vanishes. A disk still gives exactly c = 4: a sphere.
    """
    from scipy import ndimage

    gy, gx = np.gradient(h)
    hyy, hyx = np.gradient(gy)
    hxy, hxx = np.gradient(gx)
    across = gx * gx * hxx + gy * gy * hyy + gx * gy * (hxy + hyx)
    # Second differences are only clean a few nodes away from the outline (the
    # boundary treatment is first order), so measure deep inside and carry the
    # value outwards from the nearest measured node.
    trusted = ndimage.binary_erosion(inside, iterations=TRUST_DEPTH)
    w = trusted.astype(np.float64)
    num = ndimage.gaussian_filter(w * (gx * gx + gy * gy), PROFILE_SIGMA)
    den = ndimage.gaussian_filter(w * -across, PROFILE_SIGMA)
    # Derivatives above are per grid node; h is in pixels², so h_nn per pixel² is h_nn / step².
    c = np.where(trusted & (den > 1e-12), 2.0 * step * step * num / np.maximum(den, 1e-12), np.nan)
    good = np.isfinite(c)
    if not good.any():
        # Nothing is wide enough to measure: a thin part, and thin parts are limbs.
        return np.full(h.shape, 2.0)
    dist, (iy, ix) = ndimage.distance_transform_edt(~good, return_indices=True)
    c = np.where(dist <= CARRY_NODES, c[iy, ix], 2.0)
    return np.clip(c, 2.0, 4.0)


REVOLVE_ROWS = 0.97  # share of the rows (or columns) that must be one run for a solid of revolution
BODY_OPENING = 0.08  # radius of the disk that strips attachments off a body, as a share of the larger side
BODY_SHARE = 0.6  # the body must be at least this share of the object's area
BODY_SOLIDITY = 0.92  # and fill at least this share of its convex hull
REVOLVE_SMOOTH = 1.5  # grid rows; smoothing of the run lengths along the axis
REVOLVE_AXIS = (0.01, 0.03)  # spread of the run centres (share of the widest run): full weight .. none


def _revolve(coverage: np.ndarray, step: float) -> tuple[np.ndarray, float]:
    """A solid of revolution about the outline's axis of mirror symmetry, and how sure that is (0..1).

    Cylinders, cones, bottles, vases and snowmen turn about an axis in the
    picture: their outline is mirror-symmetric about it and every section across
    it is one run. Then each run is a circle's chord, and the depth at a node is
    √(r² - d²) with r the run's half-length and d the distance from its centre,
    which keeps a cylinder full up to its ends (the Poisson dome sinks there).
    The axis is taken along the longer side when both directions qualify; the
    weight falls to 0 as the run centres stray from one straight line (a bent or
    slanted part, or no symmetry). Returns depth in pixels on the grid.
    """
    from scipy.ndimage import gaussian_filter1d

    inside = coverage >= 0.5
    best: tuple[float, np.ndarray] = (0.0, np.zeros(coverage.shape))
    rows = np.nonzero(inside.any(axis=1))[0]
    cols = np.nonzero(inside.any(axis=0))[0]
    if len(rows) < 8 or len(cols) < 8:
        return best[1], 0.0
    along_rows = (rows[-1] - rows[0]) >= (cols[-1] - cols[0])  # tall: the axis is vertical
    for vertical in (along_rows, not along_rows):
        cov = coverage if vertical else coverage.T
        ins = inside if vertical else inside.T
        used = ins.any(axis=1)
        runs = (np.diff(ins.astype(np.int8), axis=1) == 1).sum(axis=1) + ins[:, 0]
        if (runs[used] == 1).mean() < REVOLVE_ROWS:
            continue
        # The run's ends where the coverage crosses 0.5 between nodes, as the outline itself does.
        n_cols = cov.shape[1]
        a = np.argmax(ins, axis=1)
        b = n_cols - 1 - np.argmax(ins[:, ::-1], axis=1)
        r = np.arange(cov.shape[0])
        ca, cb = cov[r, a], cov[r, b]
        ca0, cb1 = cov[r, np.maximum(a - 1, 0)], cov[r, np.minimum(b + 1, n_cols - 1)]
        left = a - (ca - 0.5) / np.maximum(ca - ca0, 1e-9)
        right = b + (cb - 0.5) / np.maximum(cb - cb1, 1e-9)
        # Smoothed along the axis (r², which is quadratic for a sphere, and the centre): a hard-edged
        # mask steps by whole pixels from row to row.
        u = used.astype(np.float64)
        norm = np.maximum(gaussian_filter1d(u, REVOLVE_SMOOTH), 1e-9)
        width = np.where(used, right - left, 0.0)
        width = np.where(used, 2 * np.sqrt(np.maximum(gaussian_filter1d(u * (width / 2) ** 2, REVOLVE_SMOOTH)
                                                      / norm, 0.0)), 0.0)
        centre = np.where(used, gaussian_filter1d(u * (left + right) / 2, REVOLVE_SMOOTH) / norm, 0.0)
        j = np.arange(n_cols, dtype=np.float64)
        w = width[used]
        weight_rows = w / w.sum()
        spread = math.sqrt(float((weight_rows * (centre[used] - (weight_rows * centre[used]).sum()) ** 2).sum()))
        lo, hi = REVOLVE_AXIS
        sure = float(np.clip((hi - spread / max(w.max(), 1e-9)) / (hi - lo), 0.0, 1.0))
        # Both qualify (an ellipse, a capsule): turn about the longer side, tried first.
        if sure > best[0] + (0.0 if vertical == along_rows else 0.05):
            d = j[None, :] - centre[:, None]
            z = step * np.sqrt(np.maximum((width[:, None] / 2) ** 2 - d * d, 0.0))
            z = np.where(ins, z, 0.0)
            best = (sure, z if vertical else z.T)
    return best[1], best[0]


def revolution(coverage: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """(depth, weight map): ``_revolve`` on the whole outline, or else on its main body.

    A mug's handle or a jug's spout breaks the outline's symmetry, but the body
    is still turned. Opening the outline with a disk a little wider than such
    attachments leaves the body; when that is most of the object, nearly convex
    (so arms or ears sticking out of a figure do not count as its body), and has
    an axis, the body is turned and the rest keeps the dome.
    """
    from scipy import ndimage

    z, sure = _revolve(coverage, step)
    inside = coverage >= 0.5
    if sure > 0.0 or not inside.any():
        return z, np.where(inside, sure, 0.0)
    rows = np.nonzero(inside.any(axis=1))[0]
    cols = np.nonzero(inside.any(axis=0))[0]
    radius = max(1.0, BODY_OPENING * float(max(rows[-1] - rows[0], cols[-1] - cols[0])))
    # Opening by a disk, with two distance transforms (a large structuring element would be slow).
    core = ndimage.distance_transform_edt(inside) > radius
    body = inside & (ndimage.distance_transform_edt(~core) <= radius) if core.any() else core
    labels, count = ndimage.label(body)
    if count == 0:
        return z, np.zeros(coverage.shape)
    sizes = ndimage.sum(body, labels, index=np.arange(1, count + 1))
    body = labels == 1 + int(np.argmax(sizes))
    if body.sum() < BODY_SHARE * inside.sum():
        return z, np.zeros(coverage.shape)
    if body.sum() < BODY_SOLIDITY * oblique.convex_hull_area(body):
        return z, np.zeros(coverage.shape)
    # The body's own outline: the real one where it is the object's, a cut through the middle elsewhere.
    rim = ndimage.binary_dilation(body) & ~inside
    part = np.where(body | rim, coverage, 0.0)
    z, sure = _revolve(part, step)
    weight = ndimage.gaussian_filter(body.astype(np.float64), 1.5) * body
    return z, sure * weight


REVOLVE = True
FLAT_DEPTH = 0.85  # half-depth of a flat-faced part, as a share of its local half-width
FLAT_RIM = 0.3  # width of the rounded rim of a flat face, as a share of its half-depth
FLAT_SMOOTH = 3.0  # grid nodes; smoothing of the local half-width
THICKNESS_LEVELS = 14  # radii tried for the local half-width


def local_half_width(inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(half-width, distance to the outline) in grid cells at every inside node.

    The half-width at a node is the radius of the largest disk inside the
    outline that covers it ("local thickness"), so every part has its own: each
    leg of a chair, the seat, an arm of an L, and a pyramid narrowing to its tip.
    """
    from scipy import ndimage

    dist = ndimage.distance_transform_edt(inside)
    top = float(dist.max())
    out = np.zeros(inside.shape)
    if top <= 0:
        return out, dist
    for r in np.geomspace(1.0, top, THICKNESS_LEVELS) if top > 1 else [top]:
        core = dist >= r
        reach = ndimage.distance_transform_edt(~core) <= r
        out = np.where(reach & inside, r, out)
    return out, dist


BALLS = True
BALLS_THIN = 3.0  # grid cells


def _parabolic_max(g: np.ndarray, spacing: float) -> np.ndarray:
    """out[i, x] = max over s of g[i, s] - (spacing·(x - s))², for every row, in blocks to bound memory."""
    n = g.shape[1]
    idx = np.arange(n, dtype=np.float32) * np.float32(spacing)
    sq = (idx[:, None] - idx[None, :]) ** 2  # (x, s)
    out = np.empty_like(g)
    block = max(1, 2_000_000 // (n * n))
    for i in range(0, g.shape[0], block):
        out[i : i + block] = (g[i : i + block, None, :] - sq[None]).max(axis=2)
    return out


def ball_union(inside: np.ndarray) -> np.ndarray:
    """Half-depth (grid cells) of the union of the largest balls inside the outline: each part its own width.

    The depth at a node is the highest point over it of any ball centred at an
    inside node with the distance to the outline as its radius: √max_s(r_s² -
    |x - s|²). Only the balls on the medial axis matter, so this is the classic
    skeleton inflation: a tube for every limb at its own width, a sphere for a
    round part, a torus for a ring. The max of squared-distance parabolas is
    separable, one pass along the rows and one along the columns.
    """
    from scipy import ndimage

    r = np.maximum(ndimage.distance_transform_edt(inside) - 0.5, 0.0)
    g = np.where(inside, r * r, -1e12).astype(np.float32)
    # On a grid half as fine (each coarse node keeps its largest ball), then back: the cost is cubic.
    rows, cols = g.shape
    g = np.pad(g, ((0, rows % 2), (0, cols % 2)), constant_values=-1e12)
    coarse = g.reshape(g.shape[0] // 2, 2, g.shape[1] // 2, 2).max(axis=(1, 3))
    d2 = np.ascontiguousarray(_parabolic_max(np.ascontiguousarray(_parabolic_max(coarse, 2.0).T), 2.0).T)
    up = upsample2(d2)
    return np.sqrt(np.maximum(up[:rows, :cols].astype(np.float64), 0.0)) * inside


def depth(field: HeightField, flatness: float = 0.0, one_face: float = 0.0) -> np.ndarray:
    """Half-depth z ≥ 0 on the grid, in pixels: rounded, or towards a flat-faced slab as flatness → 1.

    Rounded: z = √(c·h), or a solid of revolution where the outline has an axis
    (see ``revolution``). Flat-faced: a plateau at a depth set by each part's own
    half-width, with steep sides and a narrow rounded rim, the way boxes, blocks,
    pyramids and furniture look; as ``one_face`` → 1 (the picture shows one face
    square on, see ``cues.one_face``), one depth for the whole part, its widest's.
    """
    inside = field.coverage >= 0.5
    c = profile_factor(field.height, inside, field.step) if ROUND_TUBES else np.full(inside.shape, 4.0)
    z_round = np.sqrt(np.maximum(c * field.height, 0.0))
    if BALLS:
        # Thin parts (a few cells) keep the dome's depth: the balls there are too coarse to be printable.
        floor = np.minimum(z_round, BALLS_THIN * field.step)
        z_round = np.where(inside, np.maximum(ball_union(inside) * field.step, floor), 0.0)
    z_curved = z_round
    if REVOLVE:
        z_rev, sure = revolution(field.coverage, field.step)  # sure: a weight map
        # Never flat at an inside node (front and back would touch): at least half the dome's depth.
        z_curved = (1.0 - sure) * z_round + sure * np.maximum(z_rev, 0.5 * z_round)
    if flatness <= 0.0:
        return z_curved
    from scipy import ndimage

    half, dist = local_half_width(inside)
    # The half-width steps from level to level; smoothed, the plateau has no cliffs for decimation to fold.
    w = ndimage.gaussian_filter(inside.astype(np.float64), FLAT_SMOOTH)
    half = np.where(inside, ndimage.gaussian_filter(half, FLAT_SMOOTH) / np.maximum(w, 1e-9), 0.0)
    if one_face > 0.0:
        # One face, square on: an extruded shape (a plate, a block, a letter) is as deep everywhere
        # as at its widest part, up to the corners, where the local half-width falls off.
        labels, count = ndimage.label(inside)
        widest = np.asarray(ndimage.maximum(half, labels, index=np.arange(1, count + 1)), dtype=np.float64)
        uniform = np.where(inside, widest[np.maximum(labels - 1, 0)], 0.0)
        half = (1.0 - one_face) * half + one_face * uniform
    plateau = FLAT_DEPTH * half * field.step
    rim = np.maximum(FLAT_RIM * plateau, 1e-9)
    t = np.clip(dist * field.step / rim, 0.0, 1.0)
    z_flat = plateau * np.sqrt(1.0 - (1.0 - t) ** 2)
    z_flat = np.maximum(z_flat, 0.5 * z_round)
    return np.where(inside, (1.0 - flatness) * z_curved + flatness * z_flat, 0.0)


SOLID_GAP = 0.5  # grid cells: the least half-depth at an inside node of a fitted solid


def grid_average(field: HeightField, values: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """``values`` (an image-sized array) averaged over each of the field's grid cells, weighted by
    ``coverage`` so the backdrop does not count; 0 where a cell holds none of the object."""
    rows, cols = field.coverage.shape
    step = field.step
    left = int(round(field.origin[0] - (step - 1) / 2.0))
    top = int(round(field.origin[1] - (step - 1) / 2.0))
    num = np.zeros((rows * step, cols * step))
    den = np.zeros((rows * step, cols * step))
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + rows * step, values.shape[0]), min(left + cols * step, values.shape[1])
    w = coverage[r0:r1, c0:c1].astype(np.float64)
    num[r0 - top : r1 - top, c0 - left : c1 - left] = values[r0:r1, c0:c1] * w
    den[r0 - top : r1 - top, c0 - left : c1 - left] = w
    num = num.reshape(rows, step, cols, step).sum(axis=(1, 3))
    den = den.reshape(rows, step, cols, step).sum(axis=(1, 3))
    return np.where(den > 1e-9, num / np.maximum(den, 1e-9), 0.0)


def surfaces(field: HeightField, flatness: float = 0.0, one_face: float = 0.0,
             solid: oblique.Solid | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(front, back) heights on the grid in pixels: ±``depth``, or the two sides of a fitted ``solid``
    (a slanted cylinder or cone, a box seen on a corner).

    A slanted solid is not symmetric front to back about one plane: its front and
    back meet along the outline at heights that vary around it, so the outline's
    own height is their middle there (see ``build_mesh``).
    """
    z = depth(field, flatness, one_face)
    if solid is None:
        return z, -z
    inside = field.coverage >= 0.5
    front, back, hit = solid.rays(inside.shape)
    front, back = front * field.step, back * field.step
    middle = np.where(hit, (front + back) / 2, np.nan)
    if not (hit & inside).any():
        return z, -z
    from scipy import ndimage

    # Nodes just inside the outline that the fitted solid misses take the nearest hit's middle.
    _, (iy, ix) = ndimage.distance_transform_edt(~(hit & inside), return_indices=True)
    middle = middle[iy, ix]
    half = np.where(hit, (front - back) / 2, 0.0)
    # Never flat at an inside node (front and back would touch), but a fitted solid is known to
    # thin out to its outline: a gap of a fraction of a cell, not the dome's depth.
    half = np.maximum(half, np.minimum(0.5 * z, SOLID_GAP * field.step))
    return np.where(inside, middle + half, middle), np.where(inside, middle - half, middle)


def build_mesh(field: HeightField, image_height: int, flatness: float = 0.0, one_face: float = 0.0,
               solid: oblique.Solid | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The closed front+back mesh in image pixels: X = column, Y = -row, Z from ``surfaces``."""
    del image_height
    points, faces, node = meshing.filled_contour(field.coverage, 0.5)
    n = len(points)
    x = field.origin[0] + points[:, 0] * field.step
    y = -(field.origin[1] + points[:, 1] * field.step)
    interior = node >= 0
    flat = node[interior]
    front, back = surfaces(field, flatness, one_face, solid)
    if solid is None:
        z = np.zeros(n)
    else:
        # Front and back meet on the outline at their middle, which varies around a slanted solid.
        from scipy import ndimage

        middle = (front + back) / 2
        z = ndimage.map_coordinates(middle, [points[:, 1], points[:, 0]], order=1, mode="nearest")
    z[interior] = front.ravel()[flat]
    back_id = np.arange(n)
    back_id[interior] = n + np.arange(int(interior.sum()))
    verts = np.concatenate(
        [np.stack([x, y, z], axis=1), np.stack([x[interior], y[interior], back.ravel()[flat]], axis=1)], axis=0
    )
    back = back_id[faces][:, ::-1]
    return verts, np.concatenate([faces, back], axis=0)
