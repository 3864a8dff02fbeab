"""The hard-input corpus, in every mode: a sound, printable model or a clear refusal, never a crash.

Sound means: finite, closed, manifold, consistently wound, positive volume, one
body, within the face budget, and no part thinner than the printable minimum
(probed with rays cast inwards from the surface).
"""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from core.errors import ValidationError
from core.generation import GenerationOptions, generate, meshing
from tests.core.generation import builders, hard_inputs

FACES = 6000
RESOLUTION = 256
MODES = ("inflate", "relief", "carve")


def _images(name: str, mode: str) -> list[bytes]:
    image = hard_inputs.CASES[name]()
    if mode != "carve":
        return [builders.png(image)]
    # Four turntable views: the drawing from the front and the side, mirrored from behind.
    mirrored = builders.png(np.ascontiguousarray(image[:, ::-1]))
    front = builders.png(image)
    return [front, front, mirrored, mirrored]


def inward_thickness(mesh: trimesh.Trimesh, samples: int = 300, seed: int = 0) -> np.ndarray:
    """Distance from sampled face centres to the surface opposite, along the inward normal."""
    rng = np.random.default_rng(seed)
    tri = np.asarray(mesh.triangles)
    normals = np.asarray(mesh.face_normals)
    area = np.asarray(mesh.area_faces)
    pick = rng.choice(len(tri), size=min(samples, len(tri)), replace=False, p=area / area.sum())
    origins = tri[pick].mean(axis=1)
    dirs = -normals[pick]
    v0, e1, e2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    out = np.full(len(pick), np.inf)
    for k, (o, d) in enumerate(zip(origins, dirs, strict=True)):
        p = np.cross(d, e2)
        det = np.einsum("ij,ij->i", e1, p)
        ok = np.abs(det) > 1e-15
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        s = o - v0
        u = np.einsum("ij,ij->i", s, p) * inv
        q = np.cross(s, e1)
        w = (q @ d) * inv
        t = np.einsum("ij,ij->i", e2, q) * inv
        hit = ok & (u >= 0) & (w >= 0) & (u + w <= 1) & (t > 1e-7)
        hit[pick[k]] = False
        if hit.any():
            out[k] = t[hit].min()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(hard_inputs.CASES))
def test_sound_model_or_clear_refusal(name: str, mode: str) -> None:
    options = GenerationOptions(mode=mode, faces=FACES, resolution=RESOLUTION)
    try:
        result = generate(_images(name, mode), options)
    except ValidationError as err:  # a clear refusal is allowed; a crash is not
        assert err.code and str(err)
        return
    mesh = result.mesh
    vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    assert np.isfinite(vertices).all()
    assert result.stats["watertight"] and meshing.is_watertight(faces, len(vertices))
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    assert len(mesh.split(only_watertight=False)) == 1, "one body"
    assert len(faces) <= FACES
    largest = float(mesh.extents.max())
    minimum = options.min_thickness * largest
    assert float(mesh.extents.min()) >= 0.9 * minimum
    thickness = inward_thickness(mesh)
    assert np.isfinite(thickness).mean() > 0.95  # every inward ray leaves the model again
    assert np.percentile(thickness, 2) >= 0.5 * minimum, np.percentile(thickness, [0, 2, 10])


def _one_body(result) -> int:
    return len(result.mesh.split(only_watertight=False))


def test_reported_line_drawings_at_the_page_defaults() -> None:
    """The issue's cases at 512 px and the upload page's 20,000 faces."""
    options = GenerationOptions(mode="inflate", faces=20_000, resolution=512)
    one_px = generate([builders.png(hard_inputs.lines(1, 512))], options)  # crashed: nothing to concatenate
    assert one_px.stats["watertight"] and _one_body(one_px) == 1 and one_px.mesh.volume > 0
    for width in (3, 5):  # 197 bodies, not watertight
        result = generate([builders.png(hard_inputs.lines(width, 512))], options)
        assert result.stats["watertight"] and _one_body(result) == 1
    circle = generate([builders.png(hard_inputs.thin_ring(2, 512))], options)  # volume 0
    assert circle.mesh.volume > 0 and circle.mesh.extents.min() >= 0.01 * circle.mesh.extents.max()


def test_relief_keeps_the_face_budget() -> None:
    """It returned 207,350 faces for a target of 20,000 where decimation gave up."""
    for image in (hard_inputs.comb(512), hard_inputs.bridged_disks(512)):
        result = generate([builders.png(image)], GenerationOptions(mode="relief", faces=20_000, resolution=512))
        assert result.stats["faces"] <= 20_000 and result.stats["watertight"]


def test_thin_parts_are_thickened_not_dropped() -> None:
    """The comb keeps all its teeth, each at least the printable minimum wide."""
    result = generate([builders.png(hard_inputs.comb())], GenerationOptions(mode="inflate", faces=FACES))
    v = np.asarray(result.mesh.vertices)
    low = v[v[:, 1] < v[:, 1].min() + 0.05 * np.ptp(v[:, 1])]  # the teeth's tips
    xs = np.sort(low[:, 0])
    teeth = 1 + int((np.diff(xs) > 0.01).sum())
    assert teeth == 20
    assert np.ptp(v[:, 2]) >= 0.01


def test_a_broken_model_is_never_a_success(inflated) -> None:
    """Whatever engine made it, generate() refuses a model that is not sound."""
    from core.generation import ENGINES, GenerationResult, register_engine
    from core.generation.errors import UnprintableModel

    open_box = trimesh.creation.box()
    open_box.faces = open_box.faces[:-1]

    class Broken:
        def run(self, images, options, progress) -> GenerationResult:
            return GenerationResult(mesh=open_box, glb=b"", stats={})

    register_engine("broken", Broken())
    try:
        with pytest.raises(UnprintableModel) as caught:
            generate([b"x"], GenerationOptions(engine="broken"))
    finally:
        ENGINES.pop("broken")
    assert caught.value.code == "unprintable_model"


def test_repair_rebuilds_a_broken_surface() -> None:
    """The fallback: a mesh with a hole, a stray fragment and a sliver comes back sound and in one piece."""
    from core.generation import repair

    body = trimesh.creation.icosphere(3, radius=50.0)
    fragment = trimesh.creation.icosphere(2, radius=5.0)
    fragment.apply_translation([80.0, 0.0, 0.0])
    sliver = trimesh.creation.box([60.0, 0.2, 20.0])
    sliver.apply_translation([0.0, 70.0, 0.0])
    mesh = trimesh.util.concatenate([body, fragment, sliver])
    faces = np.asarray(mesh.faces)[3:]  # a hole in the body
    vertices = np.asarray(mesh.vertices)
    assert not repair.check(vertices, faces).ok
    thickness = 0.01 * 130.0
    v, f, rebuilt = repair.ensure_sound(vertices, faces, thickness, 20_000)
    assert rebuilt and repair.check(v, f).ok and len(f) <= 20_000
    out = trimesh.Trimesh(v, f, process=False)
    assert out.bounds[1][0] > 80.0  # the fragment is kept, joined on
    assert out.bounds[1][1] > 69.0  # so is the sliver, thickened
    assert abs(out.volume / (4 / 3 * np.pi * 50.0**3) - 1) < 0.15


@pytest.mark.parametrize("mode", ["inflate", "carve"])
def test_thickened_lines_and_bridges_keep_the_ink_colour(mode: str) -> None:
    """Added material takes the nearest drawn pixel's colour, not the white paper's."""
    from core.generation.colors import vertex_colors

    result = generate(_images("lines_1px", mode), GenerationOptions(mode=mode, faces=FACES, resolution=RESOLUTION))
    colours = vertex_colors(result.mesh).astype(float)
    assert np.percentile(colours.mean(axis=1), 90) < 80  # ink is (30, 30, 30); paper 255
