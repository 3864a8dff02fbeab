"""Inflate: the exact sphere, the silhouette, the axes, watertightness."""

from __future__ import annotations

import numpy as np
import torch
import trimesh

from core.generation import GenerationOptions, generate, load_image, meshing, oblique
from core.generation import inflate as inflate_mod
from core.generation.images import foreground
from tests.core.generation import builders
from tests.core.generation.conftest import FAST, front_silhouette, iou


def test_disk_becomes_a_sphere() -> None:
    radius = 100.3
    mask = builders.disk_mask(256, radius, 127.2, 128.6)
    _, coverage = foreground(load_image(builders.png(builders.rgba(mask))))
    field = inflate_mod.solve(coverage, torch.device("cpu"))
    verts, faces = inflate_mod.build_mesh(field, 256)
    assert meshing.is_watertight(faces, len(verts))
    centre = np.array([127.2, -128.6, 0.0])
    err = np.abs(np.linalg.norm(verts - centre, axis=1) - radius)
    assert err.mean() < 0.15 and err.max() < 1.0  # pixels, on a radius of 100
    volume = trimesh.Trimesh(verts, faces, process=False).volume
    assert abs(volume / (4 / 3 * np.pi * radius**3) - 1) < 0.01


def test_disk_sphere_after_the_whole_pipeline() -> None:
    data = builders.png(builders.rgba(builders.disk_mask(256, 90)))
    mesh = generate([data], GenerationOptions(mode="inflate", **FAST)).mesh
    ext = mesh.extents
    assert abs(ext.max() - 1.0) < 1e-9
    assert np.allclose(ext, 1.0, atol=0.02)  # as deep as it is wide
    r = np.linalg.norm(mesh.vertices - mesh.bounds.mean(axis=0), axis=1)
    assert np.abs(r - 0.5).max() < 0.02


def test_silhouette_matches_the_input(inflated, figure_png) -> None:
    mask = builders.figure_mask(256)
    seen = front_silhouette(np.asarray(inflated.mesh.vertices), np.asarray(inflated.mesh.faces), mask)
    assert iou(seen, mask) >= 0.97


def test_axes_follow_the_image(inflated) -> None:
    v = np.asarray(inflated.mesh.vertices)
    # The arm points right (+X) at mid height; the head is up (+Y); front and back mirror in Z.
    right = v[v[:, 0] > 0.35]
    assert len(right) and np.abs(right[:, 2]).max() < 0.15
    top = v[v[:, 1] > v[:, 1].max() - 0.05]
    # Head centre at x = 0.45 of the frame; the box spans x 0.25..0.90 and y 0.10..0.88.
    expected = (0.45 - (0.25 + 0.90) / 2) / (0.88 - 0.10)
    assert abs(top[:, 0].mean() - expected) < 0.05
    assert abs(v[:, 2].max() + v[:, 2].min()) < 1e-6
    assert abs(v[:, 1].max() + v[:, 1].min()) < 1e-6  # centred on the bounding box


def test_watertight_textured_and_in_budget(inflated) -> None:
    mesh = inflated.mesh
    assert inflated.stats["watertight"] and mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume > 0 and len(mesh.faces) <= FAST["faces"]
    assert mesh.visual.uv is not None and mesh.visual.material.baseColorTexture is not None
    assert abs(max(mesh.extents) - 1.0) < 1e-9


def _silhouettes(n: int = 256) -> dict[str, np.ndarray]:
    yy, xx = np.mgrid[0:n, 0:n] / n
    disk = (xx - 0.5) ** 2 + (yy - 0.5) ** 2 <= 0.35**2
    figure = ((xx - 0.45) / 0.2) ** 2 + ((yy - 0.6) / 0.28) ** 2 <= 1
    figure |= (xx - 0.45) ** 2 + (yy - 0.22) ** 2 <= 0.12**2
    figure |= (np.abs(yy - 0.5) < 0.05) & (xx > 0.45) & (xx < 0.9)
    return {
        "disk": disk,
        "ring": disk & ((xx - 0.5) ** 2 + (yy - 0.5) ** 2 >= 0.15**2),
        "figure": figure,
        "bar": (np.abs(yy - 0.5) < 0.03) & (np.abs(xx - 0.5) < 0.45),
    }


def test_numpy_and_torch_solves_agree() -> None:
    """The CPU solve runs on NumPy, CUDA's on torch: the same steps, the same heights within float32 noise."""
    for name, mask in _silhouettes().items():
        _, coverage = foreground(load_image(builders.png(builders.rgba(mask))))
        for grid in (96, 192):
            field = inflate_mod.solve(coverage, "cpu", grid)
            h_torch, iterations = inflate_mod._nested_solve(torch.from_numpy(field.coverage), float(field.step))
            diff = np.abs(field.height - h_torch.numpy()).max()
            assert diff < 1e-4 * field.height.max(), (name, grid, diff)
            assert abs(iterations - field.iterations) <= 8, (name, grid)
    grid = np.random.default_rng(0).random((37, 52)).astype(np.float32)
    up = torch.nn.functional.interpolate(torch.from_numpy(grid)[None, None], scale_factor=2, mode="bilinear",
                                         align_corners=False)[0, 0].numpy()
    assert np.abs(inflate_mod.upsample2(grid) - up).max() < 1e-6


def test_convex_hull_area_counts_as_scikit_image() -> None:
    """The outline code counts its own hull pixels (skimage.morphology takes tenths of a second to import)."""
    from skimage.morphology import convex_hull_image

    rng = np.random.default_rng(0)
    for _ in range(80):
        h, w = (int(n) for n in rng.integers(5, 120, 2))
        yy, xx = np.mgrid[0:h, 0:w]
        mask = np.zeros((h, w), bool)
        for _ in range(int(rng.integers(1, 5))):
            cy, cx = rng.random(2) * [h, w]
            ry, rx = rng.random(2) * [h / 3, w / 3] + 0.6
            mask |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        if mask.any():
            assert oblique.convex_hull_area(mask) == int(convex_hull_image(mask).sum())
    assert oblique.convex_hull_area(np.zeros((4, 4), bool)) == 0
