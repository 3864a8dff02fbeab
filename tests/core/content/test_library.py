"""The library: paging and search in the database, ownership everywhere, downloads converted once."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
import trimesh
from starlette.applications import Starlette
from starlette.testclient import TestClient

from core.content import library
from core.errors import NotFound, ValidationError
from core.models import Model3D, utcnow
from core.routes import ROUTES
from core.storage import get_storage
from tests.utils.builders import create_random_user


def add_model(session, user, name="model", *, minutes_ago=0, glb: bytes | None = None) -> Model3D:
    prefix = f"users/{user.id}/models/{name.replace(' ', '_')}-{minutes_ago}"
    model = Model3D(user_id=user.id, name=name, mode="inflate", storage_prefix=prefix,
                    glb_key=f"{prefix}/model.glb", preview_key=f"{prefix}/preview.json",
                    thumbnail_keys={"front": f"{prefix}/front.png"}, faces=12, watertight=True,
                    extents=[1.0, 1.0, 1.0], created_at=utcnow() - timedelta(minutes=minutes_ago))
    session.add(model)
    session.commit()
    storage = get_storage()
    storage.put(model.glb_key, glb or trimesh.creation.box().export(file_type="glb"))
    storage.put(model.preview_key, json.dumps([{"polygon": [[0, 0, 0], [1, 0, 0], [0, 1, 0]],
                                                "color": [200, 100, 50]}]).encode())
    storage.put(f"{prefix}/front.png", b"\x89PNG fake")
    return model


def test_pages_and_search_in_the_database(session):
    user = create_random_user(session)
    other = create_random_user(session)
    for i in range(30):
        add_model(session, user, f"teapot {i}" if i % 3 == 0 else f"vase {i}", minutes_ago=i)
    add_model(session, other, "teapot of someone else")
    first = library.list_models(session, user_id=user.id, page=1, per_page=12)
    assert (first.total, first.pages, len(first.items)) == (30, 3, 12)
    assert first.items[0].name == "teapot 0"  # newest first
    last = library.list_models(session, user_id=user.id, page=99, per_page=12)
    assert last.page == 3 and len(last.items) == 6
    found = library.list_models(session, user_id=user.id, search="TEAPOT")
    assert found.total == 10 and all("teapot" in m.name for m in found.items)
    # LIKE wildcards in the search are plain characters
    assert library.list_models(session, user_id=user.id, search="%").total == 0
    assert library.list_models(session, user_id=user.id, search="_").total == 0


def test_another_users_model_is_not_found_everywhere(session):
    owner = create_random_user(session)
    intruder = create_random_user(session)
    model = add_model(session, owner, "secret")
    for call in (
        lambda: library.get_model(session, user_id=intruder.id, model_id=model.id),
        lambda: library.get_model(session, user_id=intruder.id, model_id="not-a-number"),
        lambda: library.rename_model(session, user_id=intruder.id, model_id=model.id, name="mine"),
        lambda: library.delete_model(session, user_id=intruder.id, model_id=model.id),
        lambda: library.ensure_export(session, user=intruder, model_id=model.id, fmt="stl"),
        lambda: library.download_url(session, user=intruder, model_id=model.id, fmt="glb"),
    ):
        with pytest.raises(NotFound):
            call()
    assert library.get_model(session, user_id=owner.id, model_id=model.id).name == "secret"
    assert get_storage().exists(model.glb_key)


def test_rename_and_delete(session):
    user = create_random_user(session)
    model = add_model(session, user, "old")
    assert library.rename_model(session, user_id=user.id, model_id=model.id, name="  new   name ").name == "new name"
    with pytest.raises(library.ValidationError):
        library.rename_model(session, user_id=user.id, model_id=model.id, name="   ")
    keys = library.model_keys(model)
    assert len(keys) == 3
    library.delete_model(session, user_id=user.id, model_id=model.id)
    assert not any(get_storage().exists(k) for k in keys)
    with pytest.raises(NotFound):
        library.get_model(session, user_id=user.id, model_id=model.id)


def test_downloads_are_converted_once_and_limited_by_plan(session, monkeypatch):
    free = create_random_user(session)
    model = add_model(session, free, "box")
    key = library.ensure_export(session, user=free, model_id=model.id, fmt="stl")
    assert key.startswith(model.storage_prefix + "/exports/")
    mesh = trimesh.load(io.BytesIO(get_storage().get(key)), file_type="stl")
    assert len(mesh.faces) == 12
    glb = library.ensure_export(session, user=free, model_id=model.id, fmt="glb")
    assert glb.startswith(model.storage_prefix + "/exports/") and glb.endswith(".glb")
    monkeypatch.setattr(library, "_convert", lambda *a: pytest.fail("converted twice"))
    assert library.ensure_export(session, user=free, model_id=model.id, fmt="stl") == key
    assert library.ensure_export(session, user=free, model_id=model.id, fmt="glb") == glb
    with pytest.raises(library.FormatNotInPlan, match="PLY.*premium"):
        library.ensure_export(session, user=free, model_id=model.id, fmt="ply")


def test_obj_download_is_a_zip(session):
    user = create_random_user(session)
    model = add_model(session, user, "box")
    import zipfile

    data = library.export_bytes(session, user=user, model_id=model.id, fmt="obj")
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert any(n.endswith(".obj") for n in names)
    assert library.download_name(model, "obj") == "box.zip"


def test_signed_download_url_works_and_guessed_tokens_do_not(session):
    user = create_random_user(session)
    model = add_model(session, user, "box")
    url = library.download_url(session, user=user, model_id=model.id, fmt="glb")
    token = url.rsplit("/files/", 1)[1]
    client = TestClient(Starlette(routes=ROUTES))
    ok = client.get(f"/files/{token}")
    assert ok.status_code == 200 and ok.content == library.export_bytes(session, user=user, model_id=model.id,
                                                                        fmt="glb")
    assert 'filename="box.glb"' in ok.headers["content-disposition"]
    body, mac = token.split(".", 1)
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    assert client.get(f"/files/{forged}").status_code == 403
    assert client.get("/files/users.1.models.x").status_code == 403


def test_preview_and_purge_date(session):
    user = create_random_user(session)
    model = add_model(session, user, "p")
    assert library.preview_polygons(model)[0]["color"] == [200, 100, 50]
    left = library.days_left(library.purge_date(session, user=user, model=model))
    assert left in (29, 30)
    premium = create_random_user(session, plan="premium")
    kept = add_model(session, premium, "kept")
    assert library.purge_date(session, user=premium, model=kept) is None


# --- the print size: slicers read millimetres ---------------------------------------------


def _stl_extents(data: bytes) -> list[float]:
    return [round(float(e), 3) for e in trimesh.load(io.BytesIO(data), file_type="stl").extents]


def test_every_model_prints_at_100_mm_on_its_longest_side_by_default(session):
    user = create_random_user(session, plan="premium")
    # A normalised mesh as the engine makes it without a size: largest extent 1 (0.5 x 1 x 0.25).
    model = add_model(session, user, "speck", glb=trimesh.creation.box(extents=(0.5, 1.0, 0.25)).export(
        file_type="glb"))
    model.extents = [0.5, 1.0, 0.25]
    session.add(model)
    session.commit()
    assert model.print_size_mm == 100.0
    assert library.print_extents(model) == pytest.approx([50.0, 100.0, 25.0])
    assert _stl_extents(library.export_bytes(session, user=user, model_id=model.id, fmt="stl")) == [50, 100, 25]
    three_mf = trimesh.load(io.BytesIO(library.export_bytes(session, user=user, model_id=model.id, fmt="3mf")),
                            file_type="3mf", force="mesh")
    assert max(three_mf.extents) == pytest.approx(100.0, rel=1e-4)
    ply = trimesh.load(io.BytesIO(library.export_bytes(session, user=user, model_id=model.id, fmt="ply")),
                       file_type="ply")
    assert max(ply.extents) == pytest.approx(100.0, rel=1e-4)
    import zipfile

    with zipfile.ZipFile(io.BytesIO(library.export_bytes(session, user=user, model_id=model.id, fmt="obj"))) as zf:
        obj = trimesh.load(io.BytesIO(zf.read("model.obj")), file_type="obj", force="mesh")
    assert max(obj.extents) == pytest.approx(100.0, rel=1e-4)
    # GLB in glTF's unit, the metre: 100 mm is 0.1, through the node's scale (vertices untouched).
    glb = trimesh.load(io.BytesIO(library.export_bytes(session, user=user, model_id=model.id, fmt="glb")),
                       file_type="glb", force="mesh")
    assert sorted(round(float(e), 4) for e in glb.extents) == [0.025, 0.05, 0.1]


def test_the_print_size_can_be_changed_and_the_downloads_follow(session):
    user = create_random_user(session)
    model = add_model(session, user, "mm", glb=trimesh.creation.box(extents=(40.0, 80.0, 20.0)).export(
        file_type="glb"))  # made with a print size of 80 mm: the mesh is in mm already
    model.extents, model.print_size_mm = [40.0, 80.0, 20.0], 80.0
    session.add(model)
    session.commit()
    first = library.ensure_export(session, user=user, model_id=model.id, fmt="stl")
    assert _stl_extents(get_storage().get(first)) == [40, 80, 20]
    library.set_print_size(session, user_id=user.id, model_id=model.id, size_mm=150)
    session.refresh(model)
    assert model.print_size_mm == 150.0 and library.print_extents(model) == pytest.approx([75, 150, 37.5])
    assert not get_storage().exists(first)  # the 80 mm file is not handed out any more
    assert _stl_extents(library.export_bytes(session, user=user, model_id=model.id, fmt="stl")) == [75, 150, 37.5]
    for bad in (0, -5, 2001, float("nan"), float("inf"), "100", True):
        with pytest.raises(ValidationError, match="print size"):
            library.set_print_size(session, user_id=user.id, model_id=model.id, size_mm=bad)  # type: ignore[arg-type]
    other = create_random_user(session)
    with pytest.raises(NotFound):
        library.set_print_size(session, user_id=other.id, model_id=model.id, size_mm=50)


@pytest.mark.parametrize("extents", [(1.0, 1.0, 1.0), (0.569, 1.0, 0.365), (100.0, 70.0, 5.0), (2.0, 0.1, 0.1)])
def test_the_viewer_never_zooms_inside_the_model(extents):
    import math

    half = [e / 2 for e in extents]
    corners = [[sx * half[0], sy * half[1], sz * half[2]] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]
    polys = [{"polygon": corners[i:i + 3], "color": [1, 2, 3]} for i in range(0, 8, 2)]
    camera = library.viewer_camera(polys, 520)
    # deck.gl's OrbitView: the camera is ORBIT_CAMERA_DISTANCE viewport heights from the target, 2**zoom px a unit.
    distance = library.ORBIT_CAMERA_DISTANCE * 520 / 2 ** camera.max_zoom
    radius = math.dist([-h for h in half], half) / 2
    assert distance >= 1.2 * radius * (1 - 1e-9)  # turned any way, no corner comes near the camera
    assert camera.min_zoom < camera.zoom <= camera.max_zoom
    assert camera.target == pytest.approx([0, 0, 0])
