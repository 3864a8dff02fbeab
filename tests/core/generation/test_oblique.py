"""A cylinder, cone or tapered cylinder seen at a slant (a can or a cup from a little above, a pipe turned
towards the camera, a cone tipped over) is rebuilt as that solid.

Each picture is made by marching rays through the true solid, and the engine's
front and back are compared with where those rays enter and leave it.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.generation import GenerationOptions, cues, generate, inflate, oblique
from tests.core.generation import builders
from tests.core.generation.conftest import FAST, front_silhouette, iou, ray_iou, shaded_field

SIZE = 192


@pytest.mark.parametrize(("turn", "lean"), [(90.0, 30.0), (20.0, 40.0)])
def test_a_slanted_cylinder_is_rebuilt_as_one(turn: float, lean: float) -> None:
    image, front, back = builders.slanted_cylinder(SIZE, 30, 45, turn, lean)
    field, rgb, coverage, brightness = shaded_field(image)
    found = oblique.fit(field.coverage, brightness)
    assert found is not None
    assert found.lean == pytest.approx(np.sin(np.radians(lean)), abs=0.04)
    # Towards the end nearer the camera (rows grow downwards in the picture).
    towards = np.array([np.cos(np.radians(turn)), -np.sin(np.radians(turn))])
    assert float(np.dot(found.along, towards)) > 0.99
    flat, one = cues.flatness(rgb, coverage), cues.one_face(rgb, coverage)
    slanted = ray_iou(field, inflate.surfaces(field, flat, one, found), front, back)
    mirrored = ray_iou(field, inflate.surfaces(field, flat, one), front, back)
    assert slanted > 0.9 > mirrored + 0.1


def test_the_engine_makes_a_sound_slanted_cylinder_that_keeps_its_outline() -> None:
    image, front, _ = builders.slanted_cylinder(SIZE, 30, 45, 90.0, 30.0)
    result = generate([builders.png(image)], GenerationOptions(mode="inflate", **FAST))
    assert result.stats["watertight"] and result.mesh.volume > 0
    mask = np.isfinite(front)
    verts, faces = np.asarray(result.mesh.vertices), np.asarray(result.mesh.faces)
    assert iou(front_silhouette(verts, faces, mask), mask) >= 0.97
    # As deep as the leaning cylinder: 2·h·sin(lean) + 2·r·cos(lean) = 45 + 52 pixels, against 90 tall.
    extent = np.ptp(verts, axis=0)
    assert extent[2] / extent[1] == pytest.approx((45 + 2 * 30 * np.cos(np.radians(30))) / np.ptp(
        np.nonzero(mask)[0]), rel=0.08)


@pytest.mark.parametrize("case", ["unshaded", "square_on", "rounded_box"])
def test_outlines_that_are_not_a_slanted_cylinder_are_left_to_inflate(case: str) -> None:
    if case == "unshaded":  # the same outline in one flat colour: which end leans out cannot be told
        image, _, _ = builders.slanted_cylinder(SIZE, 30, 45, 90.0, 30.0, shaded=False)
    elif case == "square_on":  # the axis in the picture: inflate's solid of revolution does this
        image, _, _ = builders.slanted_cylinder(SIZE, 30, 45, 90.0, 0.0)
    else:  # a rounded rectangle, lit unevenly across its corners
        yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
        dx, dy = np.maximum(np.abs(xx - 96) - 50, 0), np.maximum(np.abs(yy - 96) - 70, 0)
        mask = np.hypot(dx, dy) <= 12
        image = builders.rgba(mask)
        image[..., :3] = (image[..., :3] * (0.7 + 0.3 * (xx / SIZE))[..., None]).astype(np.uint8)
    field, _, _, brightness = shaded_field(image)
    assert oblique.fit(field.coverage, brightness) is None


@pytest.mark.parametrize(
    ("end_radius", "lean", "near_is_wide"),
    [(0.0, 25.0, False), (0.0, -30.0, True), (18.0, -35.0, True)],
    ids=["cone_tip_towards_us", "cone_base_towards_us", "cup_from_above"],
)
def test_a_slanted_cone_or_frustum_is_rebuilt_as_one(end_radius: float, lean: float, near_is_wide: bool) -> None:
    image, front, back = builders.slanted_cylinder(SIZE, 38, 42, 90.0, lean, end_radius=end_radius)
    field, rgb, coverage, brightness = shaded_field(image)
    assert oblique.fit(field.coverage, brightness) is None  # not a cylinder
    found = oblique.fit_frustum(field.coverage, brightness)
    assert found is not None
    assert found.axis[2] == pytest.approx(np.sin(np.radians(abs(lean))), abs=0.04)
    assert (found.near_radius > found.far_radius) == near_is_wide
    assert sorted([found.near_radius, found.far_radius]) == pytest.approx(sorted([end_radius, 38.0]), abs=2.0)
    flat, one = cues.flatness(rgb, coverage), cues.one_face(rgb, coverage)
    fitted = ray_iou(field, inflate.surfaces(field, flat, one, found), front, back)
    inflated = ray_iou(field, inflate.surfaces(field, flat, one), front, back)
    assert fitted > 0.9 > inflated + 0.1


def test_an_unshaded_cone_is_left_to_inflate() -> None:
    image, _, _ = builders.slanted_cylinder(SIZE, 38, 42, 90.0, 25.0, shaded=False, end_radius=0.0)
    field, _, _, brightness = shaded_field(image)
    assert oblique.fit_frustum(field.coverage, brightness) is None
