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
from core.errors import NotFound
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
    monkeypatch.setattr(library, "_convert", lambda *a: pytest.fail("converted twice"))
    assert library.ensure_export(session, user=free, model_id=model.id, fmt="stl") == key
    with pytest.raises(library.FormatNotInPlan, match="PLY.*premium"):
        library.ensure_export(session, user=free, model_id=model.id, fmt="ply")
    assert library.ensure_export(session, user=free, model_id=model.id, fmt="glb") == model.glb_key


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
    assert ok.status_code == 200 and ok.content == get_storage().get(model.glb_key)
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
