"""Every format loads back with trimesh; the GLB keeps its texture or colours; the web preview."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import trimesh

from core.generation import FORMATS, export_mesh, load_glb, preview_faces
from core.generation.errors import UnsupportedFormat


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_loads_back(inflated, fmt: str, tmp_path) -> None:
    files = export_mesh(inflated.mesh, fmt)
    assert f"model.{fmt}" in files
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    loaded = trimesh.load(tmp_path / f"model.{fmt}", force="mesh")
    assert len(loaded.faces) == len(inflated.mesh.faces)
    assert np.allclose(loaded.bounds, inflated.mesh.bounds, atol=1e-4)
    if fmt in ("glb", "obj"):
        assert loaded.visual.uv is not None
        material = loaded.visual.material
        image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
        assert image is not None and image.size[0] > 16


def test_obj_references_its_companions(inflated) -> None:
    files = export_mesh(inflated.mesh, "obj", name="figure")
    assert set(files) == {"figure.obj", "figure.mtl", "figure.png"}
    assert b"mtllib figure.mtl" in files["figure.obj"]
    assert b"map_Kd figure.png" in files["figure.mtl"]


def test_glb_round_trip_keeps_texture(inflated) -> None:
    mesh = load_glb(inflated.glb)
    assert len(mesh.faces) == len(inflated.mesh.faces)
    image = mesh.visual.material.baseColorTexture
    assert image is not None
    assert np.asarray(image.convert("RGB")).mean() > 20  # not a blank image
    assert mesh.is_watertight


def test_glb_round_trip_keeps_vertex_colours(carved) -> None:
    mesh = load_glb(carved.glb)
    colours = np.asarray(mesh.visual.vertex_colors)[:, :3]
    assert len(colours) == len(mesh.vertices) and colours.std() > 5
    # Formats made later from the stored GLB still carry colour.
    ply = trimesh.load(io.BytesIO(export_mesh(mesh, "ply")["model.ply"]), file_type="ply")
    assert np.asarray(ply.visual.vertex_colors)[:, :3].std() > 5


def test_unsupported_format(inflated) -> None:
    with pytest.raises(UnsupportedFormat):
        export_mesh(inflated.mesh, "fbx")


def test_thumbnails_are_pngs(inflated) -> None:
    from PIL import Image

    assert {"front", "three_quarter", "side"} <= set(inflated.thumbnails)
    for data in inflated.thumbnails.values():
        image = Image.open(io.BytesIO(data))
        assert image.format == "PNG" and 256 <= image.size[0] <= 512
        assert np.asarray(image)[..., 3].mean() > 20  # something was drawn


def test_preview_faces(inflated, carved) -> None:
    for result in (inflated, carved):
        items = preview_faces(result.mesh, max_faces=1500)
        assert 100 < len(items) <= 1500
        first = items[0]
        assert len(first["polygon"]) == 3 and all(len(p) == 3 for p in first["polygon"])
        assert len(first["color"]) == 3 and all(0 <= c <= 255 for c in first["color"])
        json.dumps(items)
    colours = np.array([item["color"] for item in preview_faces(inflated.mesh, 1500)])
    assert colours.std() > 5


def _neighbour_colour_steps(items: list[dict]) -> np.ndarray:
    """Colour differences between faces that share an edge, in the preview's flat colours."""
    tri = np.array([it["polygon"] for it in items])
    colours = np.array([it["color"] for it in items], float)
    _, inverse = np.unique(np.round(tri.reshape(-1, 3), 4), axis=0, return_inverse=True)
    faces = inverse.reshape(-1, 3)
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    owner = np.tile(np.arange(len(faces)), 3)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    e, o = edges[order], owner[order]
    same = (e[1:] == e[:-1]).all(axis=1)
    return np.abs(colours[o[1:][same]] - colours[o[:-1][same]]).max(axis=1)


def test_preview_shades_smoothly_but_keeps_creases(inflated) -> None:
    """Neighbouring faces of a decimated, curved model differ little (smoothed normals); a box keeps its edges.

    Flat shading of the same 3000 faces gave 90th and 95th percentile steps of 21 and 32 colour levels.
    """
    steps = _neighbour_colour_steps(preview_faces(inflated.mesh, max_faces=3000))
    assert np.percentile(steps, 90) <= 15 and np.percentile(steps, 95) <= 22
    box = trimesh.creation.box()
    box.visual = trimesh.visual.ColorVisuals(box, vertex_colors=np.full((len(box.vertices), 4), 200, np.uint8))
    shades = {tuple(it["color"]) for it in preview_faces(box)}
    assert len(shades) >= 3  # the lit, the side and the dark faces, not one blur


@pytest.mark.parametrize("fmt", ["glb", "obj"])
def test_plain_arrays_export_as_their_trimesh_does(inflated, fmt: str) -> None:
    """The engine hands over MeshArrays (no trimesh import); they write the same files as their trimesh."""
    from core.generation.arrays import MeshArrays

    mesh = inflated.mesh
    material = mesh.visual.material
    textured = MeshArrays(np.asarray(mesh.vertices), np.asarray(mesh.faces), uv=np.asarray(mesh.visual.uv),
                          texture=material.baseColorTexture)
    assert export_mesh(textured, fmt) == export_mesh(mesh, fmt) == export_mesh(textured.to_trimesh(), fmt)
    rgba = np.tile(np.array([[10, 200, 30, 255]], np.uint8), (len(mesh.vertices), 1))
    coloured = MeshArrays(np.asarray(mesh.vertices), np.asarray(mesh.faces), vertex_colors=rgba)
    assert export_mesh(coloured, fmt) == export_mesh(coloured.to_trimesh(), fmt)
