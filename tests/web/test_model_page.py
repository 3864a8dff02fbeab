"""The model page and the library cards: print size in mm, the viewer's zoom, named buttons and dialogs."""

from __future__ import annotations

import json
import math

from core.content import library
from core.models import Model3D
from core.storage import get_storage
from tests.utils.builders import create_random_user
from tests.web.conftest import app, texts

#: A preview box of 0.569 × 1 × 0.365 units: the engine's normalised mesh, as the tester's first model.
EXTENTS = [0.569, 1.0, 0.365]


def _model(session, user, name: str = "mug") -> Model3D:  # type: ignore[no-untyped-def]
    prefix = f"users/{user.id}/models/{name}"
    model = Model3D(user_id=user.id, name=name, mode="inflate", storage_prefix=prefix, glb_key=f"{prefix}/model.glb",
                    preview_key=f"{prefix}/preview.json", faces=2, watertight=True, extents=EXTENTS)
    session.add(model)
    session.commit()
    x, y, z = (e / 2 for e in EXTENTS)
    get_storage().put(model.preview_key, json.dumps(
        [{"polygon": [[-x, -y, -z], [x, -y, z], [x, y, z]], "color": [200, 100, 50]},
         {"polygon": [[-x, -y, -z], [x, y, z], [-x, y, -z]], "color": [200, 100, 50]}]).encode())
    return model


def _open(token: str, model: Model3D, lang: str | None = None):  # type: ignore[no-untyped-def]
    at = app(token, lang=lang).run()
    at.query_params["id"] = str(model.id)
    return at.switch_page("pages/model.py").run()


def test_the_model_page_shows_the_print_size_in_mm_and_changes_it(web_db, web_session, login):
    owner = create_random_user(web_session)
    model = _model(web_session, owner)
    token = login(owner)
    at = _open(token, model)
    assert not at.exception
    assert "Print size: **56.9 × 100 × 36.5 mm**" in texts(at)
    assert "units" not in texts(at)
    at.number_input(key=f"print_size_{model.id}").set_value(150.0).run()
    assert not at.exception
    web_session.expire_all()
    assert web_session.get(Model3D, model.id).print_size_mm == 150.0
    assert "Print size: **85.3 × 150 × 54.8 mm**" in texts(at)
    dutch = _open(token, model, lang="nl")
    assert "Het model" in texts(dutch) and "Het net" not in texts(dutch)
    assert "Afdrukgrootte: **85,3 × 150 × 54,8 mm**" in texts(dutch)


def test_the_viewer_cannot_zoom_inside_the_model(web_db, web_session, login):
    owner = create_random_user(web_session)
    model = _model(web_session, owner)
    at = _open(login(owner), model)
    view = json.loads(at.get("deck_gl_json_chart")[0].proto.json)["initialViewState"]
    radius = math.dist([0, 0, 0], [e / 2 for e in EXTENTS])
    # deck.gl's OrbitView: the camera stands ORBIT_CAMERA_DISTANCE viewport heights away, 2**zoom px per unit.
    closest = library.ORBIT_CAMERA_DISTANCE * 520 / 2 ** view["maxZoom"]
    assert closest > radius  # the model's bounding sphere stays in front of the camera
    assert view["minZoom"] < view["zoom"] <= view["maxZoom"]


def test_library_buttons_have_names_and_the_rename_dialog_names_the_model(web_db, web_session, login):
    owner = create_random_user(web_session)
    model = _model(web_session, owner, name="teapot")
    at = app(login(owner)).run().switch_page("pages/library.py").run()
    assert not at.exception
    rename, delete = at.button(key=f"rename_{model.id}"), at.button(key=f"delete_{model.id}")
    assert (rename.label, delete.label) == ("Rename", "Delete")
    rename.click().run()
    assert not at.exception
    assert at.text_input(key="rename_value").label == "New name for “teapot”"
    dutch = app(login(owner), lang="nl").run().switch_page("pages/library.py").run()
    assert dutch.button(key=f"rename_{model.id}").label == "Hernoemen"
    assert dutch.button(key=f"delete_{model.id}").label == "Verwijderen"
