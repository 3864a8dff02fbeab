"""Every page through AppTest: no exception, logged-out refusal, role gating, ownership."""

from __future__ import annotations

import json

from core.accounts import sessions
from core.models import Model3D, Role
from core.storage import get_storage
from tests.utils.builders import PASSWORD, create_random_user
from tests.web.conftest import app, texts


def test_anonymous_gets_the_login_page(web_db):
    at = app().run()
    assert not at.exception
    assert "Log in" in texts(at)
    assert at.text_input(key="login_email") is not None
    assert "strictly necessary cookies" in texts(at)


def test_user_pages_refuse_without_login(web_db):
    for script in ("pages/upload.py", "pages/library.py", "pages/model.py", "pages/admin.py"):
        at = app(script=script).run()
        assert not at.exception, script
        assert "Please log in" in texts(at), script


def test_login_form_wrong_password_and_success(web_db, web_session):
    user = create_random_user(web_session)
    at = app().run()
    at.text_input(key="login_email").input(user.email)
    at.text_input(key="login_password").input("wrong-password-1")
    at.button(key="FormSubmitter:login_form-Log in").click().run()
    assert not at.exception
    assert "email address or password is wrong" in texts(at)
    at.text_input(key="login_password").input(PASSWORD)
    at.button(key="FormSubmitter:login_form-Log in").click().run()
    assert not at.exception
    assert at.session_state["_vorm_user"].id == user.id
    token = at.session_state["_vorm_token"]
    assert "New model" in texts(app(token).run())


def test_registration_shows_the_rule_and_refuses_weak_passwords(web_db):
    at = app(script="app.py").run()
    at.switch_page("pages/register.py").run()
    assert "At least 10 characters" in texts(at)
    at.text_input(key="register_email").input("new@example.org")
    at.text_input(key="register_password").input("short")
    at.checkbox(key="register_accept").check()
    at.button(key="FormSubmitter:register_form-Create account").click().run()
    assert "too weak" in texts(at)
    at.text_input(key="register_password").input("long-enough-42")
    at.button(key="FormSubmitter:register_form-Create account").click().run()
    assert not at.exception
    assert at.session_state["_vorm_user"].email == "new@example.org"


def test_revoked_session_logs_out_with_a_message(web_db, web_session, login):
    user = create_random_user(web_session)
    token = login(user)
    at = app(token).run()
    assert "New model" in texts(at)
    sessions.revoke_session(web_session, token)
    at = app(token).run()  # a new page load presenting the copied token
    assert not at.exception
    assert "Your session has ended" in texts(at)
    assert at.session_state["_vorm_user"] is None


def test_upload_page_renders_for_a_user(web_db, web_session, login):
    at = app(login(create_random_user(web_session))).run()
    assert not at.exception
    assert "New model" in texts(at) and "Inflate (one photo)" in texts(at)


def test_library_empty_state_and_dutch(web_db, web_session, login):
    token = login(create_random_user(web_session))
    at = app(token).run()
    at.switch_page("pages/library.py").run()
    assert not at.exception
    assert "Nothing here yet" in texts(at)
    at = app(token, lang="nl").run()
    at.switch_page("pages/library.py").run()
    assert "Hier staat nog niets" in texts(at)


def _model(session, user) -> Model3D:  # type: ignore[no-untyped-def]
    prefix = f"users/{user.id}/models/m1"
    model = Model3D(user_id=user.id, name="teapot", mode="inflate", storage_prefix=prefix,
                    glb_key=f"{prefix}/model.glb", preview_key=f"{prefix}/preview.json", faces=1,
                    watertight=True, extents=[1.0, 0.5, 0.5])
    session.add(model)
    session.commit()
    get_storage().put(model.preview_key, json.dumps(
        [{"polygon": [[0, 0, 0], [1, 0, 0], [0, 1, 0]], "color": [200, 100, 50]}]).encode())
    return model


def test_model_page_shows_the_viewer_to_its_owner_only(web_db, web_session, login):
    owner = create_random_user(web_session)
    model = _model(web_session, owner)
    at = app(login(owner)).run()
    at.query_params["id"] = str(model.id)
    at.switch_page("pages/model.py").run()
    assert not at.exception
    assert "teapot" in texts(at)
    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    assert deck["layers"][0]["@@type"] == "SolidPolygonLayer" and deck["views"][0]["@@type"] == "OrbitView"
    assert len(at.get("download_button")) == 3  # glb, obj, stl on the free plan
    intruder = create_random_user(web_session)
    at = app(login(intruder)).run()
    at.query_params["id"] = str(model.id)
    at.switch_page("pages/model.py").run()
    assert not at.exception
    assert "does not exist, or it is not yours" in texts(at)
    assert not at.get("deck_gl_json_chart")


def test_admin_page_is_for_admins_only(web_db, web_session, login):
    user_token = login(create_random_user(web_session))
    at = app(user_token, script="pages/admin.py").run()
    assert not at.exception
    assert "not allowed" in texts(at) and "Metrics" not in texts(at)
    # Not even registered in a user's navigation:
    at = app(user_token).run()
    try:
        at.switch_page("pages/admin.py").run()
    except Exception:
        pass
    assert "Accounts" not in texts(at)
    admin_token = login(create_random_user(web_session, role=Role.ADMIN))
    at = app(admin_token, script="pages/admin.py").run()
    assert not at.exception
    assert "Metrics" in texts(at) and "Workers" in texts(at)


def test_the_language_switch_shows_the_language_the_page_speaks(web_session, login):
    """An account's language replaces the browser's at login: the switch must follow, not keep its old value."""
    user = create_random_user(web_session)  # its account language is English
    at = app(login(user), lang=None)
    at.session_state["lang_switch"] = "nl"  # what the switch showed on the Dutch login page
    at.run()
    assert not at.exception
    assert at.radio(key="lang_switch").value == "en"
    assert "New model" in texts(at)


def test_model_page_says_how_the_mask_was_made_and_offers_a_box_when_automatic(web_db, web_session, login):
    owner = create_random_user(web_session)
    model = _model(web_session, owner)
    token = login(owner)
    shown = {}
    for method, segmenter in (("learned", "u2netp"), ("grabcut", None), ("box", None), ("alpha", None)):
        model.stats = {"mask_method": method, **({"segmenter": segmenter} if segmenter else {})}
        web_session.add(model)
        web_session.commit()
        for lang in ("en", "nl"):
            at = app(token, lang=lang).run()
            at.query_params["id"] = str(model.id)
            at.switch_page("pages/model.py").run()
            assert not at.exception
            links = [e.proto.label for e in at.get("page_link")]
            shown[method, lang] = (texts(at), links)
    assert "Mask made with the learned background remover (u2netp)." in shown["learned", "en"][0]
    assert "Masker gemaakt met de geleerde achtergrondverwijderaar (u2netp)." in shown["learned", "nl"][0]
    assert "Mask made with an automatic cut-out (GrabCut)." in shown["grabcut", "en"][0]
    assert "Mask made with your box." in shown["box", "en"][0]
    assert "Mask made with the image's transparency." in shown["alpha", "en"][0]
    for method in ("learned", "grabcut"):
        assert "Not right? Draw a box" in shown[method, "en"][1]
        assert "Klopt het niet? Teken een kader" in shown[method, "nl"][1]
    for method in ("box", "alpha"):
        assert "Not right? Draw a box" not in shown[method, "en"][1]
