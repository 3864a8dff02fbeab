"""Trust review, faults: storage outages, leaked server paths, orphaned objects, refusals after storing.

Storage faults are real: the local storage folder's parent is swapped for a plain file (the
way an unmounted or replaced volume looks; permissions would not stop root), S3 is moto's real
server or a port nobody listens on. Workers are real ``python -m jobs.worker`` processes.
"""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image, ImageDraw
from sqlmodel import Session, select

import tests.jobs.fast_engine  # noqa: F401  (registers the "fast" engine for in-process runs)
from core.db import get_session
from core.errors import NotFound, TransientError, VormError, render_code
from core.jobs import queue
from core.jobs import runner as job_runner
from core.models import AuditLog, GenerationJob, Model3D, PrivacyRequest, Upload, utcnow
from core.storage import get_storage, reset_storage
from tests.conftest import _apply_env, free_port
from tests.core.jobs.test_runner import claim, reload
from tests.utils.builders import create_random_user

# --- helpers -----------------------------------------------------------------------


@contextmanager
def unplugged(storage_dir: Path) -> Iterator[None]:
    """Storage gone for real: the folder above STORAGE_DIR becomes a plain file, then comes back."""
    mount = storage_dir.parent
    away = mount.with_name(mount.name + "-away")
    mount.rename(away)
    mount.write_text("the storage volume is not mounted\n")
    try:
        yield
    finally:
        mount.unlink()
        away.rename(mount)


@pytest.fixture
def mounted(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """STORAGE_DIR one folder below a 'mount point' that ``unplugged`` can take away."""
    storage_dir = tmp_path / "mnt" / "storage"
    _apply_env(monkeypatch, STORAGE_DIR=str(storage_dir))
    get_storage()  # created while the volume is there, like a running process's client
    return storage_dir


def disk_png(size: int = 96) -> bytes:
    img = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(img).ellipse((size // 5, size // 5, size * 4 // 5, size * 4 // 5), fill=(200, 40, 40))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def make_job(session: Session, data: bytes, *, max_attempts: int = 3) -> GenerationJob:
    user = create_random_user(session)
    key = f"users/{user.id}/uploads/in.png"
    get_storage().put(key, data, "image/png")
    upload = Upload(user_id=user.id, storage_key=key)
    session.add(upload)
    session.flush()
    job = queue.insert_job(session, user_id=int(user.id or 0), upload_ids=[int(upload.id or 0)], mode="auto",
                           name="Box", options={"engine": "fast"})
    job.max_attempts = max_attempts
    session.commit()
    return job


def all_keys(prefix: str = "users/") -> set[str]:
    return set(get_storage().list(prefix))


# --- 1. a storage outage does not burn attempts ---------------------------------------------


@pytest.mark.slow
def test_a_60_second_storage_outage_on_a_worker_fleet_loses_no_job(tmp_path: Path) -> None:
    from tests.jobs.test_worker import Fleet, _pg_available, create_pg_database, drop_pg_database

    if not _pg_available():
        pytest.fail("PostgreSQL is required for the fleet test")
    from core.db import migrate

    url = create_pg_database("vorm_faults")
    migrate(url)
    storage_dir = tmp_path / "mnt" / "storage"
    storage_dir.mkdir(parents=True)
    (tmp_path / "storage").symlink_to(storage_dir)  # Fleet.add_jobs writes the inputs there
    fleet = Fleet(url, tmp_path)
    fleet.env.update(STORAGE_DIR=str(storage_dir), JOB_TRANSIENT_RETRY_MAX_SECONDS="5")
    try:
        ids = fleet.add_jobs([b"sleep:1.5"] * 12)
        for _ in range(2):
            fleet.start("--concurrency", "2", "--no-maintenance")
        fleet.wait_for("the first jobs to succeed", lambda: fleet.sql(
            "SELECT count(*) FROM generation_job WHERE status = 'succeeded'")[0][0] >= 2, timeout=90)
        with unplugged(storage_dir):
            time.sleep(60)
            during = dict(fleet.sql("SELECT status, count(*) FROM generation_job GROUP BY status"))
        restored = utcnow()
        fleet.wait_for("every job to end", lambda: fleet.sql(
            "SELECT count(*) FROM generation_job WHERE status IN ('queued', 'running')")[0][0] == 0, timeout=90)
        rows = fleet.sql("SELECT id, status, attempts, error_code, finished_at FROM generation_job ORDER BY id")
        assert [(r.status, r.attempts) for r in rows] == [("succeeded", 1)] * 12, (during, rows, fleet.logs()[-3000:])
        assert any(r.finished_at > restored for r in rows), "the outage should have held jobs back"
        assert "transient error" in fleet.logs()
        per_job = fleet.sql("SELECT job_id, count(*) FROM model3d GROUP BY job_id")
        assert sorted(per_job) == [(i, 1) for i in sorted(ids)]
        for proc in fleet.procs:
            assert fleet.stop(proc) == 0
    finally:
        fleet.close()
        drop_pg_database(url)


def test_transient_storage_failures_back_off_without_attempts_until_the_deadline(
        session: Session, mounted: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _apply_env(monkeypatch, JOB_TRANSIENT_DEADLINE_SECONDS="1.0", JOB_TRANSIENT_RETRY_MAX_SECONDS="5")
    job = make_job(session, b"box")
    with unplugged(mounted):
        assert job_runner.process(claim(session)) == "retry"
        row = reload(session, job.id)
        assert (row.status, row.attempts, row.error_code) == ("queued", 0, "transient")
        assert row.run_after is not None
        for _ in range(10):  # retries within the deadline use no attempt, however many
            session.execute(sa.update(GenerationJob).values(run_after=None))
            session.commit()
            assert job_runner.process(claim(session)) in ("retry", "failed")
            if reload(session, job.id).status == "failed":
                break
            time.sleep(0.4)
        row = reload(session, job.id)
        assert (row.status, row.attempts, row.error_code) == ("failed", 1, "transient_gave_up")  # just the last
    # Back in service, an operator's requeue runs it to the end.
    queue.requeue(session, job_id=int(job.id or 0))
    assert job_runner.process(claim(session)) == "succeeded"


# --- 2. no server path or exception text reaches a user ----------------------------------------


def test_storage_failures_are_classified_and_say_nothing_about_the_server(
        session: Session, mounted: Path) -> None:
    from core.content import uploads

    storage = get_storage()
    storage.put("users/1/uploads/a.png", b"x")
    with pytest.raises(NotFound) as missing:
        storage.get("users/1/uploads/gone.png")
    user = create_random_user(session)
    with unplugged(mounted):
        for call in (lambda: storage.put("users/1/uploads/b.png", b"x"), lambda: storage.get("users/1/uploads/a.png"),
                     lambda: list(storage.list("users/1/")), lambda: storage.delete_many(["users/1/uploads/a.png"])):
            with pytest.raises(TransientError):
                call()
        with pytest.raises(VormError) as refused:  # the upload page's path: a message, not a traceback
            uploads.store_upload(session, user=user, data=disk_png(), filename="disk.png")
    assert storage.get("users/1/uploads/a.png") == b"x"  # an outage is not a deletion
    for exc in (missing.value, refused.value):
        shown = {lang: exc.render(lang) for lang in ("en", "nl")}
        assert shown["en"] != shown["nl"], f"{exc.code} has no Dutch message"
        for text in shown.values():
            assert str(mounted.parent) not in text and "Error" not in text and "/" not in text, text
    assert session.exec(select(sa.func.count()).select_from(Upload)).one() == 0


def test_s3_connection_failure_is_transient_and_names_no_endpoint(db: str) -> None:
    import boto3
    from botocore.config import Config

    from core.config import get_settings
    from core.storage import S3Storage

    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1", aws_access_key_id="x",
                          aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
    storage = S3Storage(get_settings().model_copy(update={"s3_bucket": "b"}), client=client)
    with pytest.raises(TransientError) as caught:
        storage.put("users/1/uploads/a.png", b"x")
    assert caught.value.code == "storage_unavailable"
    assert "127.0.0.1" not in caught.value.render("en") and "Endpoint" not in caught.value.render("en")


def test_a_job_failed_by_storage_shows_its_user_no_path_not_even_in_the_data_export(
        session: Session, mounted: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.privacy.exports import write_export

    _apply_env(monkeypatch, JOB_TRANSIENT_DEADLINE_SECONDS="0")  # give up at the first failure
    job = make_job(session, b"box", max_attempts=1)
    with unplugged(mounted):
        assert job_runner.process(claim(session)) == "failed"
    row = reload(session, job.id)
    assert str(mounted) in (row.error_message or "")  # the operator keeps the detail
    for lang in ("en", "nl"):
        shown = render_code(row.error_code, row.error_params, lang) or ""
        assert shown and str(mounted.parent) not in shown and "Error" not in shown
    buf = io.BytesIO()
    write_export(session, user_id=job.user_id, out=buf)
    with zipfile.ZipFile(buf) as zf:
        exported = {name: zf.read(name).decode("utf-8", "replace") for name in zf.namelist()
                    if name.startswith("data/")}
    assert exported and not [name for name, text in exported.items() if str(mounted.parent) in text]
    assert json.loads(exported["data/generation_job.json"])[0]["error_message"] == render_code(
        row.error_code, row.error_params, "en")


def test_a_signed_link_during_a_storage_outage_answers_503_without_detail(
        web_server, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from core.config import reset_settings
    from core.signing import sign

    secret = "storage-outage-test-secret-0123456789"
    monkeypatch.setenv("SECRET_KEY", secret)  # this process signs the link the server checks
    reset_settings()
    storage_dir = tmp_path / "vol" / "storage"
    server = web_server(STORAGE_DIR=str(storage_dir), SECRET_KEY=secret)
    storage_dir.mkdir(parents=True, exist_ok=True)
    (storage_dir / "users" / "1" / "uploads").mkdir(parents=True)
    (storage_dir / "users" / "1" / "uploads" / "a.png").write_bytes(b"png")
    url = f"{server.url}/files/{sign({'k': 'users/1/uploads/a.png'}, purpose='file', ttl_seconds=60)}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"png"
    with unplugged(storage_dir), pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url, timeout=10)
    body = caught.value.read().decode()
    assert caught.value.code == 503 and "temporarily unavailable" in body
    assert str(tmp_path) not in body and "Traceback" not in body and "Error" not in body


# --- 3. orphans: objects without rows go, after a grace period -----------------------------------


def _orphans_and_keepers(session: Session) -> tuple[set[str], set[str]]:
    """Objects a killed worker, a refused upload or a failed export left behind, and ones rows refer to."""
    storage = get_storage()
    user = create_random_user(session)
    uid = user.id
    kept_upload = Upload(user_id=uid, storage_key=f"users/{uid}/uploads/kept.png")
    model = Model3D(user_id=uid, name="kept", mode="inflate", storage_prefix=f"users/{uid}/models/kept/",
                    glb_key=f"users/{uid}/models/kept/model.glb", faces=1, watertight=True, extents=[1.0])
    request = PrivacyRequest(user_id=uid, kind="access", status="done", export_key=f"users/{uid}/exports/kept.zip",
                             due_at=utcnow() + timedelta(days=30),
                             export_expires_at=utcnow() + timedelta(days=30))
    session.add_all([kept_upload, model, request])
    session.commit()
    keepers = {kept_upload.storage_key, model.glb_key, f"users/{uid}/models/kept/model.obj",
               request.export_key or "", "users/999999/avatar/keep-unknown-kinds.png"}
    orphans = {f"users/{uid}/models/0123abcd/model.glb", f"users/{uid}/models/0123abcd/thumb_front.png",
               f"users/{uid}/uploads/refused.png", f"users/{uid}/exports/2-half.zip",
               "users/999999/uploads/of-an-erased-user.png"}
    for key in keepers | orphans:
        storage.put(key, b"data")
    return orphans, keepers


def _audited_orphans(session: Session) -> list[int]:
    rows = session.exec(select(AuditLog).where(AuditLog.action == "retention.purge")).all()
    return [int((r.details or {}).get("orphans", -1)) for r in rows]


def _sweep_test(session: Session) -> None:
    from core.manage import main
    from core.privacy.maintenance import daily_maintenance

    orphans, keepers = _orphans_and_keepers(session)
    assert all_keys() == orphans | keepers
    soon = utcnow() + timedelta(hours=23)  # within the grace period: maybe a write whose commit is on its way
    out = daily_maintenance(soon)
    assert not out["errors"] and out["purge"]["orphans"] == 0 and all_keys() == orphans | keepers
    later = utcnow() + timedelta(hours=25)
    assert main(["purge", "--dry-run", "--now", later.isoformat()]) == 0
    assert all_keys() == orphans | keepers
    out = daily_maintenance(later)
    assert not out["errors"] and out["purge"]["orphans"] == len(orphans)
    assert all_keys() == keepers
    session.expire_all()
    assert _audited_orphans(session) == [0, len(orphans)]


def test_daily_maintenance_sweeps_objects_without_rows_on_local_storage(session: Session) -> None:
    _sweep_test(session)
    # A killed local write leaves a temp file; it goes too.
    root = Path(get_storage().root)  # type: ignore[attr-defined]
    stale = root / "users" / "5" / "uploads" / ".tmp-killed"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"half")
    from core.privacy.maintenance import daily_maintenance

    daily_maintenance(utcnow() + timedelta(hours=25))
    assert not stale.exists()


def test_daily_maintenance_sweeps_objects_without_rows_on_s3(session: Session, s3_env: str) -> None:
    reset_storage()
    _sweep_test(session)


class _LinkFails:
    """Storage that stores, but cannot make the link afterwards (the export fails after the put)."""

    def __getattr__(self, name: str) -> object:
        return getattr(get_storage(), name)

    def url(self, key: str, **kwargs: object) -> str:
        raise TransientError("Storage could not sign a link.")


def test_an_export_that_fails_half_way_leaves_nothing_readable(session: Session, mounted: Path,
                                                               tmp_path: Path) -> None:
    from core.manage import main
    from core.privacy import exports

    user = create_random_user(session)
    get_storage().put(f"users/{user.id}/uploads/a.png", disk_png())
    session.add(Upload(user_id=user.id, storage_key=f"users/{user.id}/uploads/a.png", filename="a.png"))
    session.commit()
    request = exports.request_export(session, user=user)
    with pytest.raises(TransientError):
        exports.build_export(int(request.id or 0), storage=_LinkFails())  # type: ignore[arg-type]
    assert not all_keys(f"users/{user.id}/exports/")
    session.expire_all()
    assert session.get(PrivacyRequest, request.id).status == "failed"  # type: ignore[union-attr]
    # The operator's export-user: the storage goes away while the ZIP is written.
    out = tmp_path / "exports" / "user.zip"
    out.parent.mkdir()
    with unplugged(mounted):
        assert main(["export-user", user.email, "-o", str(out)]) == 3
    assert list(out.parent.iterdir()) == []


# --- 4. a refused generation stores nothing ---------------------------------------------------


def test_a_refused_generation_on_the_upload_page_stores_nothing(session: Session, db: str) -> None:
    from core.accounts import sessions
    from tests.web.conftest import app

    user = create_random_user(session)
    uid = int(user.id or 0)
    key = f"users/{uid}/uploads/earlier.png"
    get_storage().put(key, disk_png())
    upload = Upload(user_id=uid, storage_key=key, filename="earlier.png")
    session.add(upload)
    session.flush()
    done = queue.insert_job(session, user_id=uid, upload_ids=[int(upload.id or 0)], name="earlier")
    done.status = "succeeded"
    model = Model3D(user_id=uid, job_id=done.id, name="earlier", mode="inflate", storage_prefix=f"users/{uid}/m/",
                    glb_key=f"users/{uid}/m/model.glb", faces=1, watertight=True, extents=[1.0])
    session.add(model)
    for _ in range(2):  # the plan's limit of jobs queued or running at once
        queue.insert_job(session, user_id=uid, upload_ids=[int(upload.id or 0)])
    session.commit()
    before = all_keys()
    at = app(sessions.create_session(session, user=user), params={"again": str(model.id)}).run()
    assert not at.exception
    submit = next(b for b in at.button if "3D model" in str(b.label))
    submit.click().run()
    assert not at.exception
    assert any("queued or running" in e.value for e in at.error), [e.value for e in at.error]
    assert session.exec(select(sa.func.count()).select_from(Upload)).one() == 1
    assert all_keys() == before


def test_daily_quota_refuses_before_storing_and_a_lost_race_deletes_what_it_stored(
        session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.content import uploads
    from core.jobs.errors import DailyQuotaReached

    _apply_env(monkeypatch, FREE_DAILY_GENERATIONS="1", MAX_RUNNING_JOBS_PER_USER="5")
    user = create_random_user(session)
    image = uploads.validate_upload(disk_png(), filename="disk.png", plan="free")
    results: list[object] = []

    def submit() -> None:
        with get_session() as own:
            try:
                results.append(uploads.submit_generation(own, user=user, images=[image], mode="auto", options={}))
            except VormError as exc:
                results.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(4)]  # four tabs, one generation left today
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    jobs = [r for r in results if isinstance(r, GenerationJob)]
    assert len(jobs) == 1 and all(isinstance(r, DailyQuotaReached) for r in results if r not in jobs), results
    (job,) = jobs
    session.expire_all()
    rows = session.exec(select(Upload)).all()
    assert [r.id for r in rows] == job.upload_ids
    assert all_keys() == {r.storage_key for r in rows}
    # At the quota: refused before anything is stored.
    with pytest.raises(DailyQuotaReached):
        uploads.submit_generation(session, user=user, images=[image], mode="auto", options={})
    assert session.exec(select(sa.func.count()).select_from(Upload)).one() == 1
    assert all_keys() == {r.storage_key for r in rows}



def test_an_unreachable_database_is_reported_without_its_detail(monkeypatch, tmp_path):
    """The health check and the pages say that the database is down, not where it is or what the driver said."""
    from starlette.applications import Starlette
    from starlette.testclient import TestClient
    from streamlit.testing.v1 import AppTest

    from core.config import ROOT, reset_settings
    from core.db import reset_engines
    from core.routes import ROUTES

    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://vorm:secret-password@127.0.0.1:1/nowhere")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    reset_settings()
    reset_engines()
    try:
        resp = TestClient(Starlette(routes=ROUTES)).get("/healthz")
        assert resp.status_code == 503 and resp.json() == {"status": "error", "database": "unreachable"}
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        shown = " ".join(e.value for e in at.error)
        assert "cannot reach its database" in shown
        assert "secret-password" not in shown and "127.0.0.1" not in shown and "psycopg" not in shown.lower()
    finally:
        monkeypatch.undo()
        reset_settings()
        reset_engines()
