"""Carve: the visual hull of 2 to 64 turntable views.

View i of N stands at azimuth a = 360·i/N degrees and elevation e (0 by
default, up to 60: a turntable photographed from above): the camera sits in
direction (sin a·cos e, sin e, cos a·cos e) and looks at the origin; its
image's right-hand direction is (cos a, 0, -sin a) and its up direction
(-sin e·sin a, cos e, -sin e·cos a), which is +Y at e = 0. The turntable axis
projects onto the image's centre column and the origin onto the image's centre;
all views share one scale. World units are the images' pixels. With a field of
view, the camera stands at the distance where one world unit at the origin is
one pixel, so the same scale still holds there.

Instead of carving a binary voxel grid, every view contributes a 2D signed
distance to its silhouette; for an orthographic view that is exactly the 3D
distance to the silhouette's extruded prism, so their maximum is a signed
distance bound of the hull and marching cubes places the surface with sub-voxel
accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from skimage import measure

from core.generation import meshing

GRID_MAX = 128  # voxels along the longest side of the hull's box
GRID_FINE = 192  # the most voxels used when thin parts need more than the face budget suggests
SMOOTH_ITERATIONS = 8


@dataclass
class Hull:
    """The hull's implicit field on a voxel grid in world (pixel) units."""

    field: np.ndarray  #: (nx, ny, nz); negative inside
    origin: np.ndarray  #: world position of voxel (0, 0, 0)
    voxel: float  #: edge length in pixels


def azimuths(n_views: int) -> np.ndarray:
    return np.radians(360.0 * np.arange(n_views) / n_views)


def view_frames(n_views: int, elevation_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each view's direction towards its camera, and its image's right-hand and up directions."""
    a = azimuths(n_views)
    e = math.radians(elevation_deg)
    toward = np.stack([np.sin(a) * math.cos(e), np.full_like(a, math.sin(e)), np.cos(a) * math.cos(e)], axis=1)
    right = np.stack([np.cos(a), np.zeros_like(a), -np.sin(a)], axis=1)
    up = np.cross(toward, right)
    return toward, right, up


def focal_px(width: int, fov_deg: float | None) -> float | None:
    if fov_deg is None:
        return None
    return (width / 2.0) / math.tan(math.radians(fov_deg) / 2.0)


def project(
    points: np.ndarray,
    view: int,
    n_views: int,
    shape: tuple[int, int],
    fov_deg: float | None,
    elevation_deg: float = 0.0,
):
    """Image (col, row) of world points in one view, and their depth towards the camera (larger is nearer)."""
    height, width = shape
    toward, right, up = view_frames(n_views, elevation_deg)
    d, r = toward[view], right[view]
    u = points @ r
    v = points @ up[view]
    depth = points @ d
    f = focal_px(width, fov_deg)
    if f is not None:
        dist = f - depth  # distance from the camera along its axis
        scale = f / np.maximum(dist, 1e-6)
        u, v = u * scale, v * scale
    col = u + (width - 1) / 2.0
    row = (height - 1) / 2.0 - v
    return col, row, depth


def _band_sdf(coverage: torch.Tensor, factor: int, band: int) -> torch.Tensor:
    """Signed distance to each silhouette in pixels (negative inside), on a grid ``factor`` times coarser.

    Exact within ``band`` coarse pixels and clamped beyond: marching cubes only
    reads the field near its zero level, and a clamped value further out still
    has the right sign, so the maximum over views is unchanged where it matters.
    Two separable min-plus passes, batched over all views.
    """
    c = F.avg_pool2d(coverage[:, None], factor, ceil_mode=True)[:, 0] if factor > 1 else coverage
    inside = c >= 0.5
    big = float(band * band * 4)

    def dist_to(target: torch.Tensor) -> torch.Tensor:
        base = torch.where(target, 0.0, big)
        g = base.clone()
        padded = F.pad(base, (band, band), value=big)
        width = base.shape[-1]
        for k in range(1, band + 1):
            g = torch.minimum(g, padded[..., band + k : band + k + width] + k * k)
            g = torch.minimum(g, padded[..., band - k : band - k + width] + k * k)
        out = g.clone()
        padded = F.pad(g, (0, 0, band, band), value=big)
        height = base.shape[-2]
        for k in range(1, band + 1):
            out = torch.minimum(out, padded[..., band + k : band + k + height, :] + k * k)
            out = torch.minimum(out, padded[..., band - k : band - k + height, :] + k * k)
        return out.clamp_max(float(band * band)).sqrt()

    d_in = dist_to(~inside)  # for inside cells: distance to the nearest outside cell
    d_out = dist_to(inside)
    sdf = torch.where(inside, 0.5 - d_in, d_out - 0.5)
    partial = (c > 0.0) & (c < 1.0)
    sdf = torch.where(partial, (0.5 - c).clamp(-0.5, 0.5), sdf)
    return sdf * factor


def solve(
    coverages: list[np.ndarray],
    fov_deg: float | None,
    device: torch.device,
    grid_max: int = GRID_MAX,
    elevation_deg: float = 0.0,
) -> Hull:
    """The hull's field from every view's soft silhouette."""
    n_views = len(coverages)
    height, width = coverages[0].shape
    masks = [c >= 0.5 for c in coverages]
    union_rows = np.nonzero(np.any([m.any(axis=1) for m in masks], axis=0))[0]
    half_w = (width - 1) / 2.0
    radius = 0.0
    for m in masks:
        cols = np.nonzero(m.any(axis=0))[0]
        radius = max(radius, abs(cols[0] - half_w) + 0.5, abs(cols[-1] - half_w) + 0.5)
    f = focal_px(width, fov_deg)
    if f is not None:
        # A point nearer the camera looks bigger: bound by the widest ray at the near side.
        radius = radius * f / max(f - radius, f * 0.25) if radius < f else radius * 4
    y_top = (height - 1) / 2.0 - union_rows[0] + 0.5
    y_bottom = (height - 1) / 2.0 - union_rows[-1] - 0.5
    if f is not None:
        y_top, y_bottom = y_top * (f + radius) / f, y_bottom * (f + radius) / f
    if elevation_deg:
        # Seen from above, image height v = cos e·y - sin e·(horizontal depth), |depth| <= radius.
        e = math.radians(elevation_deg)
        y_top = (y_top + math.sin(e) * radius) / math.cos(e)
        y_bottom = (y_bottom - math.sin(e) * radius) / math.cos(e)
    lo = np.array([-radius, y_bottom, -radius])
    hi = np.array([radius, y_top, radius])
    voxel = float((hi - lo).max()) / grid_max
    lo, hi = lo - 2 * voxel, hi + 2 * voxel
    counts = np.ceil((hi - lo) / voxel).astype(int) + 1
    xs, ys, zs = (lo[k] + voxel * np.arange(counts[k]) for k in range(3))

    factor = max(1, int(voxel / 1.2))  # the SDF needs no more detail than the voxels resolve
    band = math.ceil(4 * voxel / factor) + 1
    stack = torch.from_numpy(np.stack(coverages).astype(np.float32)).to(device)
    sdf_t = _band_sdf(stack, factor, band)[:, None]  # (V, 1, h', w')
    toward, right, up = view_frames(n_views, elevation_deg)
    X = torch.tensor(xs, dtype=torch.float32, device=device)
    Y = torch.tensor(ys, dtype=torch.float32, device=device)
    Z = torch.tensor(zs, dtype=torch.float32, device=device)
    # Laid out (x, z, y) so that each view's column gather copies whole rows.
    field = torch.full((len(xs), len(zs), len(ys)), -1e9, dtype=torch.float32, device=device)
    for i in range(n_views):
        if f is None and not elevation_deg:
            vals = _ortho_view(sdf_t[i, 0], X, Y, Z, right[i], (height, width), factor)
        else:
            frame = (toward[i], right[i], up[i])
            vals = _general_view(sdf_t[i : i + 1], X, Y, Z, frame, (height, width), factor, f)
        field = torch.maximum(field, vals, out=field)
    # A turntable prior: at each height nothing reaches further from the axis than
    # the furthest any view saw at that height. Exact for shapes centred on the
    # axis (a cylinder comes out round, not octagonal); off the axis it can trim
    # at most 1 - cos(180°/N) of the radius between two views. It also bounds
    # depth when the views alone cannot (two views).
    ring = _row_radius(masks, ys, voxel) if f is None and not elevation_deg else np.full(len(ys), radius)
    ring_t = torch.tensor(ring, dtype=torch.float32, device=device)
    cyl = torch.sqrt(X[:, None] ** 2 + Z[None, :] ** 2)
    field = torch.maximum(field, cyl[:, :, None] - ring_t[None, None, :])
    out = field.permute(0, 2, 1).contiguous().cpu().numpy()
    out[[0, -1], :, :] = np.maximum(out[[0, -1], :, :], voxel)
    out[:, [0, -1], :] = np.maximum(out[:, [0, -1], :], voxel)
    out[:, :, [0, -1]] = np.maximum(out[:, :, [0, -1]], voxel)
    return Hull(out, lo, voxel)


def _row_radius(masks: list[np.ndarray], ys: np.ndarray, voxel: float) -> np.ndarray:
    """Per voxel layer, the largest distance from the axis any view saw at that height (pixels)."""
    height, width = masks[0].shape
    half_w = (width - 1) / 2.0
    per_row = np.zeros(height)
    for m in masks:
        any_row = m.any(axis=1)
        left = np.argmax(m, axis=1)
        right = width - 1 - np.argmax(m[:, ::-1], axis=1)
        r = np.maximum(np.abs(left - half_w), np.abs(right - half_w)) + 0.5
        per_row = np.maximum(per_row, np.where(any_row, r, 0.0))
    # Conservative: the widest row within a voxel (and a pixel) of each layer.
    reach = int(math.ceil(voxel / 2.0)) + 1
    widened = ndimage.maximum_filter1d(per_row, 2 * reach + 1, mode="constant")
    rows = np.round((height - 1) / 2.0 - ys).astype(int)
    inside = (rows >= 0) & (rows < height)
    return np.where(inside, widened[np.clip(rows, 0, height - 1)], 0.0)


def _ortho_view(
    sdf: torch.Tensor,
    X: torch.Tensor,
    Y: torch.Tensor,
    Z: torch.Tensor,
    right: np.ndarray,
    shape: tuple[int, int],
    factor: int,
) -> torch.Tensor:
    """One orthographic view's distances at every voxel, separably: rows from Y, columns from (X, Z)."""
    height, width = shape
    gh, gw = sdf.shape
    # Pixel centres of the coarse SDF grid sit at factor·j + (factor-1)/2.
    ry = (((height - 1) / 2.0 - Y) - (factor - 1) / 2.0) / factor
    r0 = ry.floor().clamp(0, gh - 2)
    wr = (ry - r0).clamp(0, 1)[:, None]
    r0i = r0.long()
    rows_t = torch.lerp(sdf[r0i], sdf[r0i + 1], wr).t().contiguous()  # (gw, ny)
    step_t = rows_t[1:] - rows_t[:-1]
    u = X[:, None] * float(right[0]) + Z[None, :] * float(right[2])
    cx = ((u + (width - 1) / 2.0) - (factor - 1) / 2.0) / factor
    c0 = cx.floor().clamp(0, gw - 2)
    wc = (cx - c0).clamp(0, 1).reshape(-1, 1)
    c0i = c0.long().reshape(-1)
    vals = torch.index_select(rows_t, 0, c0i).addcmul_(torch.index_select(step_t, 0, c0i), wc)
    return vals.reshape(len(X), len(Z), len(Y))


def _general_view(
    sdf: torch.Tensor,
    X: torch.Tensor,
    Y: torch.Tensor,
    Z: torch.Tensor,
    frame: tuple[np.ndarray, np.ndarray, np.ndarray],
    shape: tuple[int, int],
    factor: int,
    focal: float | None,
) -> torch.Tensor:
    """One view's distances at every voxel for any camera: elevated, perspective or both."""
    toward, right, up = frame
    height, width = shape
    gh, gw = sdf.shape[-2:]
    x, y, z = X[:, None, None], Y[None, :, None], Z[None, None, :]
    u = x * float(right[0]) + z * float(right[2]) + y * float(right[1])
    v = x * float(up[0]) + y * float(up[1]) + z * float(up[2])
    if focal is not None:
        depth = x * float(toward[0]) + y * float(toward[1]) + z * float(toward[2])
        scale = focal / (focal - depth).clamp_min(1e-3)
        u, v = u * scale, v * scale
    col = (u + (width - 1) / 2.0).expand(len(X), len(Y), len(Z))
    row = ((height - 1) / 2.0 - v).expand(len(X), len(Y), len(Z))
    gx = ((col - (factor - 1) / 2.0) / factor) / max(gw - 1, 1) * 2 - 1
    gy = ((row - (factor - 1) / 2.0) / factor) / max(gh - 1, 1) * 2 - 1
    grid = torch.stack([gx, gy], dim=-1).reshape(1, -1, 1, 2)
    vals = F.grid_sample(sdf, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return vals.reshape(len(X), len(Y), len(Z)).permute(0, 2, 1)


def build_mesh(hull: Hull) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes, then Taubin smoothing (which does not shrink the shape)."""
    if not (hull.field < 0).any():
        raise ValueError("empty hull")
    verts, faces, _, _ = measure.marching_cubes(hull.field, 0.0, spacing=(hull.voxel,) * 3)
    verts = verts.astype(np.float64) + hull.origin
    faces = faces.astype(np.int64)
    verts, faces = meshing.compact(verts, faces)
    if _signed_volume(verts, faces) < 0:
        faces = faces[:, ::-1].copy()
    verts = meshing.taubin(verts, faces, SMOOTH_ITERATIONS)
    return verts, faces


def _signed_volume(verts: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def grid_for(faces: int) -> int:
    """Voxels along the hull's longest side for a face budget.

    Marching cubes gives roughly 6·N² triangles on a compact shape; aim for
    about three times the budget so decimation keeps the detail that matters.
    """
    return int(min(192, max(64, round(0.55 * math.sqrt(faces)))))
