"""Carve: the turntable conventions, watertightness, colours."""

from __future__ import annotations

import numpy as np
import pytest

from core.generation import GenerationOptions, generate
from core.generation.errors import TooFewViews, TooManyViews, ViewSizeMismatch
from tests.core.generation import builders
from tests.core.generation.conftest import FAST


def test_watertight_and_coloured(carved) -> None:
    mesh = carved.mesh
    assert carved.stats["watertight"] and mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.visual.kind == "vertex" and len(mesh.faces) <= FAST["faces"]
    assert carved.stats["mode"] == "carve" and carved.stats["views"] == 8


def test_turntable_convention_places_parts_where_they_are(carved) -> None:
    # Small ball (r 35) at (+55, +40, +35) px beside a big one (r 70) at the origin.
    # The box spans x -70..90, y -70..75, z -70..70: centre (10, 2.5, 0), largest extent 160.
    v = np.asarray(carved.mesh.vertices)
    direction = np.array([55.0, 40.0, 35.0]) / np.linalg.norm([55.0, 40.0, 35.0])
    expected_tip = (np.array([55 - 10, 40 - 2.5, 35]) + 35 * direction) / 160
    tip = v[np.argmax(v @ direction)]
    assert np.linalg.norm(tip - expected_tip) < 0.05
    # Its mirror images (wrong azimuth sense, or Z flipped) are empty.
    for flip in ([1, 1, -1], [-1, 1, 1]):
        mirrored = direction * flip
        assert (v @ mirrored).max() < (v @ direction).max() - 0.08


def test_sphere_from_eight_views_is_round() -> None:
    views = builders.turntable_views(8, 200, [(0, 0, 0, 80)])
    mesh = generate([builders.png(v) for v in views], GenerationOptions(mode="carve", **FAST)).mesh
    r = np.linalg.norm(mesh.vertices - mesh.bounds.mean(axis=0), axis=1)
    assert r.min() > 0.45 and r.max() < 0.55  # the hull of 8 views is an octagon at most
    assert mesh.is_watertight


def test_two_views_still_close() -> None:
    views = builders.turntable_views(2, 128, [(0, 0, 0, 40)])
    result = generate([builders.png(v) for v in views], GenerationOptions(mode="carve", faces=3000, resolution=128))
    assert result.stats["watertight"]


def test_perspective_views() -> None:
    views = builders.turntable_views(6, 160, [(0, 0, 0, 50)])
    opts = GenerationOptions(mode="carve", fov_deg=30.0, faces=4000, resolution=160)
    result = generate([builders.png(v) for v in views], opts)
    assert result.stats["watertight"]


def test_mismatched_view_sizes() -> None:
    a = builders.png(builders.rgba(builders.disk_mask(64, 20)))
    b = builders.png(builders.rgba(builders.disk_mask(80, 20)))
    with pytest.raises(ViewSizeMismatch):
        generate([a, b, a], GenerationOptions(mode="carve"))


def test_view_count_limits() -> None:
    a = builders.png(builders.rgba(builders.disk_mask(32, 10)))
    with pytest.raises(TooManyViews):
        generate([a] * 65, GenerationOptions(mode="carve"))
    with pytest.raises(TooManyViews):
        generate([a] * 5, GenerationOptions(mode="carve", max_views=4))
    with pytest.raises(TooFewViews):
        generate([a], GenerationOptions(mode="carve"))


SHAPES = {
    "snowman": [(0, -30, 0, 40), (0, 25, 0, 28), (0, 58, 0, 16)],
    "off_axis_pair": [(-25, 0, 10, 35), (35, 10, -20, 22)],
    "dumbbell": [(-45, 0, 0, 25), (45, 0, 0, 25), (0, 0, 0, 14)],
}


def _volume_iou(mesh, balls, grid: int = 64) -> float:
    """Volume IoU of the carve against the balls' union, both centred on their boxes with largest extent 1."""
    from core.generation import repair

    b = np.asarray(balls, float)
    lo, hi = (b[:, :3] - b[:, 3:]).min(axis=0), (b[:, :3] + b[:, 3:]).max(axis=0)
    scale, centre = (hi - lo).max(), (lo + hi) / 2
    v = np.asarray(mesh.vertices)
    v = (v - (v.min(axis=0) + v.max(axis=0)) / 2) / np.ptp(v, axis=0).max()
    voxel = 1.0 / grid
    solid, origin = repair.voxelize(v, np.asarray(mesh.faces), voxel)
    pts = origin + voxel * np.stack(np.indices(solid.shape), axis=-1)
    world = pts * scale + centre
    truth = np.zeros(solid.shape, bool)
    for x, y, z, r in balls:
        truth |= ((world - [x, y, z]) ** 2).sum(axis=-1) <= r * r
    return float((solid & truth).sum() / max((solid | truth).sum(), 1))


def test_elevated_views_carve_as_well_as_level_ones() -> None:
    """A turntable photographed from 20° above gives the same IoU as level views of the same shapes."""
    scores = {}
    for elevation in (0.0, 20.0):
        for name, balls in SHAPES.items():
            views = builders.turntable_views(8, 200, balls, elevation=elevation)
            opts = GenerationOptions(mode="carve", elevation_deg=elevation, faces=6000, resolution=200)
            result = generate([builders.png(v) for v in views], opts)
            assert result.stats["watertight"]
            scores[name, elevation] = _volume_iou(result.mesh, balls)
    level = np.mean([scores[n, 0.0] for n in SHAPES])
    raised = np.mean([scores[n, 20.0] for n in SHAPES])
    assert level > 0.85, scores
    assert raised >= level - 0.02, scores
    for name in SHAPES:
        assert scores[name, 20.0] >= scores[name, 0.0] - 0.04, scores


def test_elevated_views_read_as_level_ones_are_wrong() -> None:
    """The option matters: 30° views carved as if level lose much of the shape."""
    balls = SHAPES["off_axis_pair"]
    views = [builders.png(v) for v in builders.turntable_views(8, 200, balls, elevation=30.0)]
    right = generate(views, GenerationOptions(mode="carve", elevation_deg=30.0, faces=6000, resolution=200))
    wrong = generate(views, GenerationOptions(mode="carve", faces=6000, resolution=200))
    assert _volume_iou(right.mesh, balls) > _volume_iou(wrong.mesh, balls) + 0.1
