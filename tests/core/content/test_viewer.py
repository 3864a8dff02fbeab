"""The viewer's payload: compact deck.gl JSON of the stored preview, bounded however big the preview."""

from __future__ import annotations

import json

import numpy as np
import pydeck as pdk
import pytest
import trimesh

from core.content import library, viewer
from core.generation import preview_faces
from core.models import Model3D
from core.storage import get_storage

BACKGROUND = [246, 247, 249]
BYTES_PER_FACE = 90  # what one triangle may cost in the spec, with its colour


def _stored(name: str, items: object) -> Model3D:
    key = f"users/1/models/{name}/preview.json"
    get_storage().put(key, json.dumps(items).encode())
    return Model3D(id=1, user_id=1, name=name, mode="inflate", storage_prefix=f"users/1/models/{name}/",
                   glb_key=f"users/1/models/{name}/model.glb", preview_key=key)


def _sphere(subdivisions: int, radius: float) -> trimesh.Trimesh:
    """A sphere, red above its equator and blue below."""
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    colours = np.where(mesh.vertices[:, 1:2] > 0, [220, 30, 30, 255], [30, 30, 220, 255]).astype(np.uint8)
    mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=colours)
    return mesh


def _layer(spec: str) -> dict:
    return json.loads(spec)["layers"][0]


def test_a_big_preview_is_bounded_and_still_shows_the_model() -> None:
    mesh = _sphere(6, 40.0)  # 81,920 triangles of 80 mm across
    items = preview_faces(mesh, max_faces=30_000)
    assert len(items) > 3 * viewer.VIEWER_MAX_FACES
    spec, faces = viewer.viewer_spec(_stored("big", items), height_px=520, background=BACKGROUND)
    assert 0 < faces <= viewer.VIEWER_MAX_FACES
    assert len(spec.encode()) <= viewer.VIEWER_MAX_FACES * BYTES_PER_FACE
    data = _layer(spec)["data"]
    assert len(data) == faces
    tri = np.array([row["p"] for row in data], float)
    colour = np.array([row["c"] for row in data], float)
    # The same sphere: its size, round (every corner near the surface), red on top and blue below.
    assert tri.reshape(-1, 3).min(axis=0) == pytest.approx([-40, -40, -40], abs=1.5)
    assert tri.reshape(-1, 3).max(axis=0) == pytest.approx([40, 40, 40], abs=1.5)
    assert np.abs(np.linalg.norm(tri.reshape(-1, 3), axis=1) - 40).max() < 1.5
    centre_y = tri.mean(axis=1)[:, 1]
    top, bottom = colour[centre_y > 5], colour[centre_y < -5]
    assert (top[:, 0] > top[:, 2]).mean() > 0.95 and (bottom[:, 2] > bottom[:, 0]).mean() > 0.95


def test_the_spec_is_a_fraction_of_pydecks_and_says_the_same() -> None:
    items = preview_faces(_sphere(4, 0.5), max_faces=viewer.VIEWER_MAX_FACES)
    model = _stored("usual", items)
    spec, faces = viewer.viewer_spec(model, height_px=520, background=BACKGROUND)
    assert faces == len(items)
    camera = library.viewer_camera(items, 520)
    layer = pdk.Layer("SolidPolygonLayer", data=items, id="mesh", get_polygon="polygon", get_fill_color="color",
                      _full3d=True, extruded=False, pickable=False, stroked=False)
    verbose = pdk.Deck(layers=[layer], views=[pdk.View(type="OrbitView", controller=True, orbit_axis="Y")],
                       map_provider=None, map_style=None).to_json()
    assert len(spec) * 4 < len(verbose)
    ours = json.loads(spec)
    view = ours["initialViewState"]
    assert view["zoom"] == pytest.approx(camera.zoom, abs=0.01)
    assert view["maxZoom"] == pytest.approx(camera.max_zoom, abs=0.01)
    assert view["target"] == pytest.approx(camera.target, abs=1e-3)
    assert ours["views"] == json.loads(verbose)["views"]
    first = _layer(spec)["data"][0]
    # Rounded to well under a pixel: a thousandth of the model's size here.
    assert np.abs(np.array(first["p"]) - np.array(items[0]["polygon"])).max() <= 0.0005 + 1e-12
    assert first["c"] == items[0]["color"]
    assert {k: v for k, v in _layer(spec).items() if k != "data"} == {
        "@@type": "SolidPolygonLayer", "id": "mesh", "getPolygon": "@@=p", "getFillColor": "@@=c", "_full3d": True,
        "extruded": False, "pickable": False, "stroked": False}


@pytest.mark.parametrize("items", [[], {"faces": []}, [{"polygon": [[0, 0]], "color": [1, 2, 3]}],
                                   [{"polygon": "x", "color": None}], "not a list", [7, None]])
def test_an_empty_or_malformed_preview_shows_an_empty_viewer(items: object) -> None:
    spec, faces = viewer.viewer_spec(_stored("odd", items), height_px=520, background=BACKGROUND)
    assert faces == 0 and _layer(spec)["data"] == []
    assert json.loads(spec)["parameters"]["clearColor"] == [c / 255 for c in BACKGROUND] + [1]


def test_a_model_without_a_preview_shows_an_empty_viewer() -> None:
    model = Model3D(id=2, user_id=1, name="none", mode="inflate", storage_prefix="users/1/models/none/",
                    glb_key="users/1/models/none/model.glb", preview_key=None)
    assert viewer.viewer_spec(model, height_px=520, background=BACKGROUND)[1] == 0
