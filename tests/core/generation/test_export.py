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
