"""Running one job in-process: the real engine end to end, and every way a job can end."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
import sqlalchemy as sa
from PIL import Image, ImageDraw
from sqlmodel import Session, select

import tests.jobs.fast_engine  # noqa: F401  (registers the "fast" engine)
from core.db import get_session
from core.errors import TransientError
from core.jobs import claims, queue
from core.jobs import runner as generation_jobs
from core.models import GenerationJob, Model3D, Upload
from core.storage import get_storage
from tests.utils.builders import create_random_user


def disk_png(size: int = 96, background: str = "white") -> bytes:
    img = Image.new("RGB", (size, size), background)
    if background == "white":
        ImageDraw.Draw(img).ellipse((size // 5, size // 5, size * 4 // 5, size * 4 // 5), fill=(200, 40, 40))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def make_job(session: Session, data: bytes, *, engine: str = "classic", mode: str = "inflate",
             max_attempts: int | None = None) -> GenerationJob:
    user = create_random_user(session)
    key = f"users/{user.id}/uploads/in.png"
    get_storage().put(key, data, "image/png")
    upload = Upload(user_id=user.id, storage_key=key)
    session.add(upload)
    session.flush()
    job = queue.insert_job(session, user_id=int(user.id or 0), upload_ids=[int(upload.id or 0)], mode=mode,
                           name="Disk", options={"engine": engine, "faces": 500, "resolution": 64})
    if max_attempts:
        job.max_attempts = max_attempts
    session.commit()
    return job


def claim(session: Session) -> GenerationJob:
    (job,) = claims.claim_jobs(session, worker_id="test-worker")
    return job


def reload(session: Session, job_id: int | None) -> GenerationJob:
    return queue.get_job(session, job_id=int(job_id or 0), user_id=None)


def test_real_engine_stores_outputs_and_the_model_row(session: Session) -> None:
    job = make_job(session, disk_png())
    assert generation_jobs.process(claim(session)) == "succeeded"
    done = reload(session, job.id)
    assert (done.status, done.progress_stage, done.progress_pct, done.error_code) == ("succeeded", "done", 100, None)
    model = session.get(Model3D, done.model_id)
    assert model is not None and model.job_id == job.id and model.name == "Disk" and model.mode == "inflate"
    assert model.storage_prefix.startswith(f"users/{job.user_id}/models/")
    storage = get_storage()
    assert storage.get(model.glb_key)[:4] == b"glTF"
    assert set(model.thumbnail_keys) and all(storage.get(k)[:4] == b"\x89PNG" for k in model.thumbnail_keys.values())
    preview = json.loads(storage.get(model.preview_key or ""))
    assert preview and {"polygon", "color"} <= set(preview[0])
    assert model.faces == 500 and model.watertight and max(model.extents) == pytest.approx(1.0, abs=1e-3)
    for stats in (done.stats, model.stats):
        assert stats["device"] == "cpu" and stats["faces"] == 500
        assert {"load", "mask", "solve", "mesh", "export"} <= set(stats["seconds"])
        assert stats["seconds_total"] > 0 and stats["attempt"] == 1


def test_the_cards_thumbnail_comes_with_the_job_and_the_other_views_right_after(session: Session) -> None:
    from core.generation import generate, render

    job = make_job(session, disk_png())
    # At job time the engine renders only the view the library's card shows ...
    at_job_time = generate([disk_png()], generation_jobs._engine_options(job, "cpu"))
    assert set(at_job_time.thumbnails) == set(generation_jobs.VIEWS_AT_JOB_TIME) == {"front"}
    assert set(at_job_time.deferred_thumbnails) == set(render.THUMBNAIL_VIEWS) - {"front"}
    # ... and once the job is recorded, the model has every view, each a PNG under its own prefix.
    assert generation_jobs.process(claim(session)) == "succeeded"
    model = session.get(Model3D, reload(session, job.id).model_id, populate_existing=True)
    assert model is not None and set(model.thumbnail_keys) == set(render.THUMBNAIL_VIEWS)
    storage = get_storage()
    for key in model.thumbnail_keys.values():
        assert key.startswith(model.storage_prefix)
        assert Image.open(io.BytesIO(storage.get(key))).size == (render.THUMBNAIL_PX, render.THUMBNAIL_PX)


def test_an_engine_that_leaves_no_views_for_later_gets_none_added(session: Session) -> None:
    job = make_job(session, b"box", engine="fast")  # a plugin engine: it renders its front view only
    assert generation_jobs.process(claim(session)) == "succeeded"
    model = session.get(Model3D, reload(session, job.id).model_id, populate_existing=True)
    assert model is not None and set(model.thumbnail_keys) == {"front"}


def test_later_views_of_a_model_deleted_meanwhile_are_not_left_behind(session: Session) -> None:
    from core.generation import generate

    job = make_job(session, disk_png())
    result = generate([disk_png()], generation_jobs._engine_options(job, "cpu"))
    storage = get_storage()
    model = generation_jobs.store_outputs(storage, job=job, result=result)
    session.add(model)
    session.commit()
    model_id = model.id
    session.delete(model)
    session.commit()
    model.id = model_id  # what the runner still holds after recording it
    generation_jobs.add_later_views(storage, model=model, result=result, device="cpu")
    assert sorted(storage.list(model.storage_prefix)) == sorted(
        [model.glb_key, model.preview_key, model.thumbnail_keys["front"]])


def test_bad_input_fails_at_once_with_the_engines_message(session: Session) -> None:
    job = make_job(session, disk_png(background="red"))  # a plain image: no object in it
    assert generation_jobs.process(claim(session)) == "failed"
    done = reload(session, job.id)
    assert done.status == "failed" and done.attempts == 1
    assert done.error_code in ("no_foreground", "foreground_fills_frame")
    assert "background" in (done.error_message or "")
    assert not list(get_storage().list(f"users/{job.user_id}/models/"))


def test_missing_upload_fails_with_a_clear_reason(session: Session) -> None:
    job = make_job(session, disk_png())
    get_storage().delete_many([f"users/{job.user_id}/uploads/in.png"])
    assert generation_jobs.process(claim(session)) == "failed"
    done = reload(session, job.id)
    assert done.error_code == "upload_missing" and "upload it again" in (done.error_message or "")


def test_engine_crash_retries_with_backoff_then_fails(session: Session) -> None:
    job = make_job(session, b"crash", engine="fast", max_attempts=2)
    assert generation_jobs.process(claim(session)) == "retry"
    row = reload(session, job.id)
    assert (row.status, row.attempts, row.error_code) == ("queued", 1, "crashed")
    assert row.run_after is not None
    assert claims.claim_jobs(session, worker_id="w") == []  # backing off
    session.execute(sa.update(GenerationJob).values(run_after=None))
    session.commit()
    assert generation_jobs.process(claim(session)) == "failed"
    row = reload(session, job.id)
    assert (row.status, row.attempts, row.error_code) == ("failed", 2, "crashed")
    assert "failed 2 times" in (row.error_message or "") and "RuntimeError" in (row.error_message or "")
    # The user's message comes from the code and its parameters, in their language, without the detail.
    from core.errors import render_code

    shown = {lang: render_code(row.error_code, row.error_params, lang) for lang in ("en", "nl")}
    assert "failed 2 times" in shown["en"] and "2 keer mislukt" in shown["nl"]
    assert not any("RuntimeError" in text for text in shown.values())


class FlakyStorage:
    """Storage whose reads fail with a transient error (a storage hiccup)."""

    def __getattr__(self, name: str) -> object:
        return getattr(get_storage(), name)

    def get(self, key: str) -> bytes:
        raise TransientError("Storage is temporarily unavailable (SlowDown).")


def test_transient_error_retries_without_using_an_attempt(session: Session) -> None:
    job = make_job(session, disk_png())
    assert generation_jobs.process(claim(session), storage=FlakyStorage()) == "retry"  # type: ignore[arg-type]
    row = reload(session, job.id)
    assert (row.status, row.attempts, row.error_code) == ("queued", 0, "transient")
    assert row.stats["transient_retries"] == 1 and row.run_after is not None


def test_cancel_while_running_discards_the_result(session: Session) -> None:
    job = make_job(session, b"sleep:1.5", engine="fast")
    claimed = claim(session)
    outcome: list[str] = []
    runner = threading.Thread(target=lambda: outcome.append(generation_jobs.process(claimed)))
    runner.start()
    time.sleep(0.3)
    with get_session() as other:
        queue.cancel_job(other, job_id=int(job.id or 0), user_id=job.user_id)
    runner.join(10)
    assert outcome == ["lost"]
    assert reload(session, job.id).status == "cancelled"
    assert session.exec(select(sa.func.count()).select_from(Model3D)).one() == 0
    assert not list(get_storage().list(f"users/{job.user_id}/models/"))


def test_an_automatic_job_records_the_mode_the_engine_used_and_a_print_size(session: Session) -> None:
    job = make_job(session, disk_png(), mode="auto")
    assert generation_jobs.process(claim(session)) == "succeeded"
    model = session.get(Model3D, reload(session, job.id).model_id)
    assert model is not None
    assert model.mode == "inflate"  # not "auto": the library card says what was made
    assert model.print_size_mm == 100.0  # no size asked for: the default, never a 1 mm speck
    sized = make_job(session, disk_png(), mode="inflate")
    sized.options = {**sized.options, "size_mm": 60.0}
    session.add(sized)
    session.commit()
    assert generation_jobs.process(claim(session)) == "succeeded"
    model = session.get(Model3D, reload(session, sized.id).model_id)
    assert model is not None and model.print_size_mm == 60.0
    assert max(model.extents) == pytest.approx(60.0, rel=1e-3)
