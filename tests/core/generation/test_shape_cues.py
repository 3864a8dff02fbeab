"""Inflate's shape cues: flat faces from straight outlines and even shading, solids of revolution.

Each test measures the depth profile or the volume of what comes out, so a cue
that stops working (or starts firing where it should not) fails here.
"""

from __future__ import annotations

import numpy as np
import torch
import trimesh

from core.generation import GenerationOptions, cues, generate, inflate, load_image
from core.generation.images import foreground
from tests.core.generation import builders
from tests.core.generation.conftest import FAST, front_silhouette, iou

SIZE = 256
CPU = torch.device("cpu")


def _rect_mask(half_w: float, half_h: float) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    return (np.abs(xx - SIZE / 2) <= half_w) & (np.abs(yy - SIZE / 2) <= half_h)


def _flat_colour(mask: np.ndarray, colour=(160, 110, 70)) -> np.ndarray:
    out = np.zeros(mask.shape + (4,), np.uint8)
    out[..., :3] = colour
    out[..., 3] = np.where(mask, 255, 0)
    return out


def _shaded_cylinder(half_w: float, half_h: float) -> tuple[np.ndarray, np.ndarray]:
    """An upright cylinder seen from the side, lit from the upper left: brightness falls across it."""
    mask = _rect_mask(half_w, half_h)
    xx = (np.arange(SIZE) + 0.5 - SIZE / 2) / half_w
    nx = np.clip(xx, -1, 1)
    nz = np.sqrt(1 - nx**2)
    light = np.array([-0.4, 0.5, 0.77]) / np.linalg.norm([-0.4, 0.5, 0.77])
    shade = 0.3 + 0.7 * np.clip(nx * light[0] + nz * light[2], 0, None)
    out = np.zeros((SIZE, SIZE, 4), np.uint8)
    out[..., :3] = (np.array([200, 170, 60])[None, None, :] * shade[None, :, None]).astype(np.uint8)
    out[..., 3] = np.where(mask, 255, 0)
    return out, mask


def _solve(image: np.ndarray) -> tuple[inflate.HeightField, float]:
    picture = load_image(builders.png(image))
    _, coverage = foreground(picture)
    flat = cues.flatness(np.asarray(picture.convert("RGB")), coverage)
    return inflate.solve(coverage, CPU, 192), flat


def _centre_row(field: inflate.HeightField, z: np.ndarray) -> np.ndarray:
    row = z.shape[0] // 2
    return z[row][field.coverage[row] >= 0.5]


def test_cues_tell_a_box_from_a_disk_and_a_cylinder() -> None:
    box = _flat_colour(_rect_mask(90, 60))
    disk = _flat_colour(builders.disk_mask(SIZE, 90))
    cylinder, _ = _shaded_cylinder(60, 95)
    for image, lo, hi in ((box, 0.8, 1.0), (disk, 0.0, 0.2), (cylinder, 0.0, 0.3)):
        _, flat = _solve(image)
        assert lo <= flat <= hi


def test_a_box_gets_a_flatter_front_than_a_disk() -> None:
    box_field, box_flat = _solve(_flat_colour(_rect_mask(90, 60)))
    disk_field, disk_flat = _solve(_flat_colour(builders.disk_mask(SIZE, 90)))
    box_z = _centre_row(box_field, inflate.depth(box_field, box_flat))
    disk_z = _centre_row(disk_field, inflate.depth(disk_field, disk_flat))
    # Depth at 3/4 of the way to the outline, against the depth in the middle.
    def shoulder(z: np.ndarray) -> float:
        n = len(z)
        return float(z[n // 2 - 3 * n // 8] / z[n // 2])

    assert shoulder(disk_z) < 0.75  # a sphere: √(1 - 0.75²) ≈ 0.66
    assert shoulder(box_z) > 0.9  # a plateau
    # A flat face: the middle half of the row varies by a few percent at most.
    n = len(box_z)
    mid = box_z[n // 4 : 3 * n // 4]
    assert mid.min() / mid.max() > 0.95


def _volume(image: np.ndarray) -> tuple[float, trimesh.Trimesh]:
    field, flat = _solve(image)
    verts, faces = inflate.build_mesh(field, SIZE, flat)
    mesh = trimesh.Trimesh(verts, faces, process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent
    return float(mesh.volume), mesh


def test_a_shaded_cylinder_keeps_its_volume() -> None:
    r, hh = 60, 95
    image, _ = _shaded_cylinder(r, hh)
    volume, _ = _volume(image)
    assert 0.93 < volume / (np.pi * r * r * 2 * hh) < 1.05  # the dome alone gives about 0.85


def test_a_flat_box_is_a_slab_not_a_pillow() -> None:
    hw, hh = 90, 60
    volume, mesh = _volume(_flat_colour(_rect_mask(hw, hh)))
    depth = float(np.ptp(mesh.vertices[:, 2]))
    # As deep as the plateau says, and nearly as full as the slab (a pillow fills about π/4 of it).
    assert 0.7 * 2 * hh < depth <= 2 * hh * 1.01
    assert volume / (2 * hw * 2 * hh * depth) > 0.85


def test_silhouettes_from_the_front_are_kept() -> None:
    cylinder, cyl_mask = _shaded_cylinder(60, 95)
    box_mask = _rect_mask(90, 60)
    for image, mask in ((cylinder, cyl_mask), (_flat_colour(box_mask), box_mask)):
        result = generate([builders.png(image)], GenerationOptions(mode="inflate", **FAST))
        assert result.stats["watertight"]
        seen = front_silhouette(np.asarray(result.mesh.vertices), np.asarray(result.mesh.faces), mask)
        assert iou(seen, mask) >= 0.97


def test_the_same_picture_gives_the_same_mesh() -> None:
    image, _ = _shaded_cylinder(60, 95)
    a = _volume(image)[1]
    b = _volume(image)[1]
    assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.faces, b.faces)


def test_each_part_takes_its_own_width() -> None:
    # A ball on a long arm: the arm is as deep as it is wide, however big the ball it hangs from.
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    ball = (xx - 70) ** 2 + (yy - 128) ** 2 <= 55**2
    arm = (np.abs(yy - 128) <= 10) & (xx > 100) & (xx < 240)
    field, _ = _solve(_flat_colour(ball | arm))
    z = inflate.depth(field, 0.0)  # the rounded profile (a shaded picture would choose it)
    row = z.shape[0] // 2
    cols = field.origin[0] + np.arange(z.shape[1]) * field.step
    on_arm = z[row][(cols > 170) & (cols < 220)]
    assert np.all(np.abs(on_arm / 10 - 1) < 0.15)
    assert abs(z.max() / 55 - 1) < 0.05


def _plate_with_tab() -> np.ndarray:
    """A wide plate (half-height 60) with a narrow tab (half-height 15) on its right: one outline, two widths."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    plate = (np.abs(xx - 100) <= 70) & (np.abs(yy - 128) <= 60)
    tab = (np.abs(yy - 128) <= 15) & (xx > 160) & (xx < 240)
    return plate | tab


def _two_faces(mask: np.ndarray) -> np.ndarray:
    """The plate as a box turned aside: its left and right halves lit at two levels."""
    image = _flat_colour(mask)
    image[:, SIZE // 2 :, :3] = (110, 75, 48)
    return image


def test_one_face_cue_tells_one_lit_face_from_two_and_from_a_curve() -> None:
    mask = _plate_with_tab()
    cylinder, _ = _shaded_cylinder(60, 95)
    found = {}
    for name, image in (("one", _flat_colour(mask)), ("two", _two_faces(mask)), ("cylinder", cylinder)):
        picture = load_image(builders.png(image))
        _, coverage = foreground(picture)
        found[name] = cues.one_face(np.asarray(picture.convert("RGB")), coverage)
    assert found == {"one": 1.0, "two": 0.0, "cylinder": 0.0}


def test_one_face_seen_square_on_is_one_depth_throughout() -> None:
    """An extruded shape (a plate and its tab, an L, a letter) is as deep at its narrow parts as at its widest.

    Seen as two faces at two levels, the same outline keeps each part's own depth.
    """
    mask = _plate_with_tab()

    def tab_over_plate(image: np.ndarray) -> float:
        picture = load_image(builders.png(image))
        _, coverage = foreground(picture)
        rgb = np.asarray(picture.convert("RGB"))
        field = inflate.solve(coverage, CPU, 192)
        z = inflate.depth(field, cues.flatness(rgb, coverage), cues.one_face(rgb, coverage))
        row = z.shape[0] // 2
        cols = field.origin[0] + np.arange(z.shape[1]) * field.step
        return float(np.median(z[row][(cols > 190) & (cols < 220)]) / np.median(z[row][(cols > 70) & (cols < 130)]))

    assert tab_over_plate(_flat_colour(mask)) > 0.9
    assert tab_over_plate(_two_faces(mask)) < 0.5


def test_approximate_polygon_keeps_the_points_scikit_image_keeps() -> None:
    """cues carries its own Douglas-Peucker (skimage's module imports scipy.signal): the same points come out."""
    from skimage.measure import approximate_polygon

    rng = np.random.default_rng(1)
    for case in range(60):
        angles = np.sort(rng.random(int(rng.integers(2, 300)))) * 2 * np.pi
        radius = 50 + rng.random(len(angles)) * 10 * (case % 3)
        coords = np.stack([radius * np.sin(angles), radius * np.cos(angles)], axis=1)
        if case % 2:
            coords = np.round(coords * 2) / 2
        for tolerance in (0.0, 0.75, 2.0, 5.0):
            assert np.array_equal(cues.approximate_polygon(coords, tolerance), approximate_polygon(coords, tolerance))
