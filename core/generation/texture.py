"""Colour: textures for the single-image modes, vertex colours for carve."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from scipy import ndimage

from core.generation.arrays import MeshArrays
from core.generation.colors import sample

if TYPE_CHECKING:
    import torch

BEST_VIEW_POWER = 6.0  # weight cos^p: the best-facing view dominates, neighbours soften its seams
VISIBILITY_TOLERANCE = 1.5  # voxels; a vertex this close to the visible surface counts as seen
VISIBILITY_PX = 256  # longest side of the depth maps used for visibility


def bleed(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Background pixels take the nearest object colour, so edges never sample the backdrop."""
    if mask.all() or not mask.any():
        return rgb
    idx = ndimage.distance_transform_edt(~mask, return_distances=False, return_indices=True)
    return rgb[idx[0], idx[1]]


def textured(
    vertices: np.ndarray, faces: np.ndarray, texture: Image.Image, cols: np.ndarray, rows: np.ndarray
) -> MeshArrays:
    """A mesh textured by projection along Z: vertex (col, row) in the texture's pixels."""
    w, h = texture.size
    uv = np.stack([(cols + 0.5) / w, 1.0 - (rows + 0.5) / h], axis=1)  # trimesh's v points up
    return MeshArrays(vertices, faces, uv=np.clip(uv, 0.0, 1.0), texture=texture)


def carve_colors(
    vertices: np.ndarray,
    faces: np.ndarray,
    normals: np.ndarray,
    views: list[np.ndarray],
    fov_deg: float | None,
    voxel: float,
    device: torch.device,
    elevation_deg: float = 0.0,
) -> np.ndarray:
    """Per-vertex colours from the views that see each vertex, the best-facing one weighted most."""
    import torch  # here: the single-image modes colour without torch

    from core.generation import carve
    from core.generation.render import rasterize

    n_views = len(views)
    toward, _, _ = carve.view_frames(n_views, elevation_deg)
    shape = views[0].shape[:2]
    scale = min(1.0, VISIBILITY_PX / max(shape))
    small = (max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale)))
    total = np.zeros((len(vertices), 3))
    weight_sum = np.zeros(len(vertices))
    best_w = np.full(len(vertices), -np.inf)
    best_c = np.zeros((len(vertices), 3))
    ft = torch.from_numpy(faces).to(device)
    for i in range(n_views):
        col, row, depth = carve.project(vertices, i, n_views, shape, fov_deg, elevation_deg)
        sc, sr = (col + 0.5) * scale, (row + 0.5) * scale
        screen = torch.from_numpy(np.stack([sc, sr, depth], 1).astype(np.float32)).to(device)
        _, zbuf = rasterize(screen, ft, small[1], small[0], want_depth=True)
        zb = zbuf.cpu().numpy()
        ci = np.clip(np.floor(sc).astype(np.int64), 0, small[1] - 1)
        ri = np.clip(np.floor(sr).astype(np.int64), 0, small[0] - 1)
        seen = depth >= zb[ri, ci] - (VISIBILITY_TOLERANCE * voxel + 1.0 / scale)
        facing = normals @ toward[i]
        w = np.where(seen, np.clip(facing, 0.0, None) ** BEST_VIEW_POWER, 0.0)
        colour = sample(views[i], col, row)
        total += colour * w[:, None]
        weight_sum += w
        better = facing > best_w
        best_w = np.where(better, facing, best_w)
        best_c[better] = colour[better]
    out = np.where(weight_sum[:, None] > 1e-8, total / np.maximum(weight_sum, 1e-8)[:, None], best_c)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
