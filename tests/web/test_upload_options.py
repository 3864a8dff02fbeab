"""The upload page's options: each mode shows its own; one image in carve mode is refused before queueing;
elevation and the print size go with the job."""

from __future__ import annotations

from sqlmodel import col, select

from core.models import GenerationJob, JobStatus, Model3D, Upload
from core.storage import get_storage
from tests.core.generation import builders
from tests.utils.builders import create_random_user
from tests.web.conftest import app, texts


def _earlier_model(session, user, n_images: int) -> Model3D:  # type: ignore[no-untyped-def]
    """A finished model of ``n_images`` stored uploads, so that ?again= fills the page without the uploader."""
    ids = []
    for i in range(n_images):
        key = f"users/{user.id}/uploads/view{i}.png"
        data = builders.png(builders.rgba(builders.disk_mask(96, 30 + i)))
        get_storage().put(key, data, "image/png")
        row = Upload(user_id=user.id, storage_key=key, filename=f"view{i}.png", size_bytes=len(data),
                     width=96, height=96)
        session.add(row)
        session.flush()
        ids.append(row.id)
    job = GenerationJob(user_id=user.id, status=JobStatus.SUCCEEDED, mode="inflate", upload_ids=ids,
                        options={"faces": 2000})
    session.add(job)
    session.flush()
    model = Model3D(user_id=user.id, job_id=job.id, name="ball", mode="inflate",
                    storage_prefix=f"users/{user.id}/models/m1", glb_key=f"users/{user.id}/models/m1/model.glb")
    session.add(model)
    session.commit()
    return model


def _jobs(session, user) -> list[GenerationJob]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.exec(select(GenerationJob).where(col(GenerationJob.user_id) == user.id)).all())


def test_one_image_in_carve_mode_is_refused_before_queueing(web_db, web_session, login):
    user = create_random_user(web_session)
    model = _earlier_model(web_session, user, 1)
    at = app(login(user), params={"again": str(model.id)}).run()
    assert not at.exception and "What will be modelled" in texts(at)
    at.selectbox(key="opt_mode").set_value("carve").run()
    at.button(key="make_model").click().run()
    assert not at.exception
    assert "Carving needs at least 2 views around the object." in texts(at)
    assert len(_jobs(web_session, user)) == 1  # only the earlier one: nothing was queued
    uploads = web_session.exec(select(Upload).where(col(Upload.user_id) == user.id)).all()
    assert len(uploads) == 1  # nor stored again


def test_carve_elevation_goes_with_the_job(web_db, web_session, login):
    user = create_random_user(web_session)
    model = _earlier_model(web_session, user, 3)
    at = app(login(user), params={"again": str(model.id)}).run()
    at.selectbox(key="opt_mode").set_value("carve").run()
    at.slider(key="opt_elevation").set_value(20)
    at.button(key="make_model").click().run()
    assert not at.exception
    queued = [j for j in _jobs(web_session, user) if j.status == JobStatus.QUEUED]
    assert len(queued) == 1 and queued[0].mode == "carve" and queued[0].options["elevation_deg"] == 20.0


def _keys(at, kind: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {w.key for w in getattr(at, kind)}


def test_each_mode_shows_only_its_own_options(web_db, web_session, login):
    user = create_random_user(web_session)
    one = _earlier_model(web_session, user, 1)
    at = app(login(user), params={"again": str(one.id)}).run()
    at.selectbox(key="opt_mode").set_value("auto").run()
    assert not at.exception
    # One image, automatic: an inflate. Neither the lithophane (relief) nor the camera height (carve).
    assert "opt_litho" not in _keys(at, "checkbox") and "opt_elevation" not in _keys(at, "slider")
    at.selectbox(key="opt_mode").set_value("relief").run()
    assert "opt_litho" in _keys(at, "checkbox") and "opt_elevation" not in _keys(at, "slider")
    at.selectbox(key="opt_mode").set_value("carve").run()
    assert "opt_litho" not in _keys(at, "checkbox") and "opt_elevation" in _keys(at, "slider")
    several = _earlier_model(web_session, user, 3)
    at = app(login(user), params={"again": str(several.id)}).run()
    at.selectbox(key="opt_mode").set_value("auto").run()
    # Several images, automatic: a carve.
    assert not at.exception
    assert "opt_litho" not in _keys(at, "checkbox") and "opt_elevation" in _keys(at, "slider")


def test_the_print_size_is_100_mm_unless_changed_and_goes_with_the_job(web_db, web_session, login):
    user = create_random_user(web_session)
    model = _earlier_model(web_session, user, 1)
    at = app(login(user), params={"again": str(model.id)}).run()
    assert at.number_input(key="opt_size").value == 100.0
    at.button(key="make_model").click().run()
    assert not at.exception
    (queued,) = [j for j in _jobs(web_session, user) if j.status == JobStatus.QUEUED]
    assert queued.options["size_mm"] == 100.0


def test_the_result_shows_the_model_in_a_viewer_and_a_queued_job_its_place(web_db, web_session, login):
    import json

    from tests.web.test_model_page import _model

    owner = create_random_user(web_session)
    model = _model(web_session, owner, name="mug")
    waiting = GenerationJob(user_id=owner.id, status=JobStatus.QUEUED, mode="inflate", upload_ids=[], name="cup")
    done = GenerationJob(user_id=owner.id, status=JobStatus.SUCCEEDED, mode="inflate", upload_ids=[], name="mug",
                         model_id=model.id)
    web_session.add_all([waiting, done])
    web_session.commit()
    at = app(login(owner)).run()
    at.session_state["upload_job_id"] = waiting.id
    at.switch_page("pages/upload.py").run()
    assert not at.exception
    assert "Making “cup”" in texts(at) and "Waiting in the queue: number 1." in texts(at)
    # While it waits, an empty viewer (deck.gl loads meanwhile, so the model draws at once when ready).
    (pending,) = at.get("deck_gl_json_chart")
    assert json.loads(pending.proto.json)["layers"][0]["data"] == []

    at.session_state["upload_job_id"] = done.id
    at.run()
    assert not at.exception
    assert "“mug” is ready." in texts(at)
    (chart,) = at.get("deck_gl_json_chart")
    assert len(json.loads(chart.proto.json)["layers"][0]["data"]) == 2  # the stored preview's two triangles
    assert "Open the model" in [link.proto.label for link in at.get("page_link")]
