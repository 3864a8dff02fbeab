"""Reading colours back out of images and meshes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from core.generation.arrays import MeshArrays, stored_vertex_colors, texture_of

if TYPE_CHECKING:
    import trimesh


def sample(image: np.ndarray, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Bilinear samples of an (H, W, C) image at fractional pixel positions."""
    h, w = image.shape[:2]
    x = np.clip(cols, 0, w - 1)
    y = np.clip(rows, 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), w - 2) if w > 1 else np.zeros(len(x), np.int64)
    y0 = np.minimum(np.floor(y).astype(np.int64), h - 2) if h > 1 else np.zeros(len(y), np.int64)
    fx = (x - x0)[:, None] if w > 1 else np.zeros((len(x), 1))
    fy = (y - y0)[:, None] if h > 1 else np.zeros((len(y), 1))
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    img = image.astype(np.float32)
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def vertex_colors(mesh: MeshArrays | trimesh.Trimesh) -> np.ndarray:
    """(n, 3) uint8 colours per vertex, from the texture or the stored vertex colours."""
    textured = texture_of(mesh)
    if textured is not None:
        uv, image = textured
        arr = np.asarray(image.convert("RGB"))
        h, w = arr.shape[:2]
        out = sample(arr, uv[:, 0] * w - 0.5, (1.0 - uv[:, 1]) * h - 0.5)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)
    stored = stored_vertex_colors(mesh)
    if stored is not None:
        return stored
    return np.full((len(mesh.vertices), 3), 200, np.uint8)
