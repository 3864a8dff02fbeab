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
