"""Relief and lithophane plates."""

from __future__ import annotations

import numpy as np

from core.generation import GenerationOptions, generate
from tests.core.generation import builders


def _gradient_png() -> bytes:
    ramp = np.tile(np.linspace(0, 255, 160).astype(np.uint8), (100, 1))
    return builders.png(np.stack([ramp] * 3, axis=2))


def _thickness_at_ends(mesh) -> tuple[float, float]:
    v = np.asarray(mesh.vertices)
    left = v[v[:, 0] < v[:, 0].min() + 0.05 * np.ptp(v[:, 0])]
    right = v[v[:, 0] > v[:, 0].max() - 0.05 * np.ptp(v[:, 0])]
    return left[:, 2].max() - v[:, 2].min(), right[:, 2].max() - v[:, 2].min()


def test_relief_is_a_closed_plate_sized_in_mm() -> None:
    opts = GenerationOptions(mode="relief", size_mm=100.0, faces=6000, resolution=160)
    result = generate([_gradient_png()], opts)
    mesh = result.mesh
    assert result.stats["watertight"] and mesh.is_watertight and mesh.volume > 0
    assert abs(mesh.extents.max() - 100.0) < 1e-6 and result.stats["units"] == "mm"
    assert abs(mesh.extents[1] - 62.5) < 0.5  # keeps the image's aspect ratio
    thin, thick = _thickness_at_ends(mesh)
    assert abs(thin - 2.0) < 0.3 and abs(thick - 7.0) < 0.3  # base 2 mm + up to 5 mm
    assert mesh.visual.material.baseColorTexture is not None


def test_lithophane_is_thick_where_dark() -> None:
    opts = GenerationOptions(
        mode="relief", lithophane=True, size_mm=80.0, relief_base_mm=0.8, relief_height_mm=2.2, faces=6000
    )
    mesh = generate([_gradient_png()], opts).mesh
    thick, thin = _thickness_at_ends(mesh)
    assert abs(thick - 3.0) < 0.2 and abs(thin - 0.8) < 0.2
    assert mesh.is_watertight


def test_relief_normalised_without_size(relief_plate) -> None:
    assert abs(relief_plate.mesh.extents.max() - 1.0) < 1e-9
    assert relief_plate.stats["watertight"]
