"""A box seen on a corner (three faces showing, as cartons are photographed) is rebuilt as that box.

Each picture is made by marching rays through the true box, and the engine's front
and back are compared with where those rays enter and leave it.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.generation import GenerationOptions, cuboid, cues, generate, inflate
from tests.core.generation import builders
from tests.core.generation.conftest import FAST, front_silhouette, iou, ray_iou, shaded_field

SIZE = 192
HALF = (50.0, 32.0, 28.0)


@pytest.mark.parametrize(("yaw", "tilt"), [(40.0, 25.0), (-30.0, 35.0)])
def test_a_box_on_its_corner_is_rebuilt_as_that_box(yaw: float, tilt: float) -> None:
    image, front, back = builders.box_on_corner(SIZE, HALF, yaw, tilt)
    field, rgb, coverage, brightness = shaded_field(image)
    found = cuboid.fit(field.coverage, brightness)
    assert found is not None
    # Its three edges are the box's: square to one another, and as long as its sides (grid cells = pixels here).
    edges = np.array(found.edges)
    lengths = np.sort(np.linalg.norm(edges, axis=1))
    assert lengths == pytest.approx(np.sort(2 * np.array(HALF)), rel=0.05)
    unit = edges / np.linalg.norm(edges, axis=1)[:, None]
    assert np.abs(unit @ unit.T - np.eye(3)).max() < 0.05
    flat, one = cues.flatness(rgb, coverage), cues.one_face(rgb, coverage)
    fitted = ray_iou(field, inflate.surfaces(field, flat, one, found), front, back)
    inflated = ray_iou(field, inflate.surfaces(field, flat, one), front, back)
    assert fitted > 0.9 > inflated + 0.1


def test_the_engine_makes_a_sound_box_that_keeps_its_outline() -> None:
    image, front, _ = builders.box_on_corner(SIZE, HALF, 40.0, 25.0)
    result = generate([builders.png(image)], GenerationOptions(mode="inflate", **FAST))
    assert result.stats["watertight"] and result.mesh.volume > 0
    mask = np.isfinite(front)
    verts, faces = np.asarray(result.mesh.vertices), np.asarray(result.mesh.faces)
    assert iou(front_silhouette(verts, faces, mask), mask) >= 0.97
    # The box's volume, 8·50·32·28 px³, once scaled like the picture's height.
    scale = np.ptp(verts[:, 1]) / np.ptp(np.nonzero(mask)[0])
    assert result.mesh.volume / scale**3 == pytest.approx(8 * 50 * 32 * 28, rel=0.1)


@pytest.mark.parametrize("case", ["unshaded", "hexagonal_plate", "square_on"])
def test_outlines_that_are_not_a_box_on_its_corner_are_left_to_inflate(case: str) -> None:
    if case == "unshaded":  # the same hexagon in one flat colour: the two readings of the cube cannot be told
        image, _, _ = builders.box_on_corner(SIZE, HALF, 40.0, 25.0, shaded=False)
    elif case == "hexagonal_plate":  # a hexagon seen square on, evenly lit: one face, not three
        yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
        angle = np.arctan2(yy - 96, xx - 96)
        r = np.hypot(xx - 96, yy - 96)
        image = builders.rgba(r * np.cos((angle % (np.pi / 3)) - np.pi / 6) <= 70)
    else:  # a box turned about the vertical only: two faces and a rectangle, not a hexagon
        image, _, _ = builders.box_on_corner(SIZE, HALF, 40.0, 0.0)
    field, _, _, brightness = shaded_field(image)
    assert cuboid.fit(field.coverage, brightness) is None


@pytest.mark.parametrize(("yaw", "tilt"), [(45.0, 35.26), (45.0, 30.0), (40.0, 25.0)])
def test_a_cube_on_a_plain_backdrop_is_found_as_on_a_cut_out(yaw: float, tilt: float) -> None:
    """The same picture on a grey backdrop: the outline's corners may be cut by a pixel, the box is the same."""
    image, _, _ = builders.box_on_corner(SIZE, (40.0, 40.0, 40.0), yaw, tilt)
    alpha = image[..., 3:4] / 255.0
    plain = np.clip(image[..., :3] * alpha + 236 * (1 - alpha), 0, 255).astype(np.uint8)
    found = [cuboid.fit(field.coverage, brightness)
             for field, _, _, brightness in (shaded_field(image), shaded_field(plain))]
    assert all(f is not None for f in found)
    lengths = [np.sort(np.linalg.norm(np.array(f.edges), axis=1)) for f in found if f is not None]
    assert lengths[0] == pytest.approx(lengths[1], rel=0.03)
    assert lengths[1] == pytest.approx([80.0] * 3, rel=0.05)
