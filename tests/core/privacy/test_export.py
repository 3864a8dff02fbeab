"""Export: every row of every user table, the original files, a README, a link that works for 7 days."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from core.manage import main
from core.models import OutboxMessage, PrivacyRequest, user_tables, utcnow
from core.privacy import exports, maintenance
from core.routes import ROUTES
from core.storage import get_storage
from tests.core.privacy.conftest import full_user


def _rows_by_table(session, user_id: int) -> dict[str, set[tuple[str, ...]]]:
    conn = session.connection()
    found = {}
    for table in user_tables():
        pk = list(table.primary_key.columns)
        rows = conn.execute(sa.select(table).where(table.c.user_id == user_id)).mappings().all()
        found[table.name] = {tuple(str(r[c.name]) for c in pk) for r in rows}
    return found


def _assert_complete(zf: zipfile.ZipFile, expected: dict[str, set[tuple[str, ...]]], user_id: int) -> None:
    names = set(zf.namelist())
    assert "README.txt" in names and "data/all.json" in names and "data/user.json" in names
    account = json.loads(zf.read("data/user.json"))
    assert [a["id"] for a in account] == [user_id]
    assert "$2b$" not in zf.read("data/user.json").decode()  # the password hash stays home
    everything = json.loads(zf.read("data/all.json"))
    for table in user_tables():
        pk = [c.name for c in table.primary_key.columns]
        rows = json.loads(zf.read(f"data/{table.name}.json"))
        got = {tuple(str(r[c]) for c in pk) for r in rows}
        assert expected[table.name] <= got, f"rows of {table.name} missing from the export"
        assert all(r["user_id"] == user_id for r in rows), f"another user's rows in {table.name}"
        assert len(everything[table.name]) == len(rows)
        with zf.open(f"data/{table.name}.csv") as fh:
            csv_rows = list(csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8")))
        assert {tuple(r[c] for c in pk) for r in csv_rows} == {tuple(str(r[c]) for c in pk) for r in rows}


def test_export_holds_every_row_of_every_user_table_and_every_file(session):
    content = full_user(session)
    other = full_user(session, customer="cus_OTHER")
    uid = content.user.id
    expected = _rows_by_table(session, uid)
    # The fixture must cover every table that refers to a user: a new table fails here until it does.
    assert [name for name, rows in expected.items() if not rows] == []

    req = exports.request_export(session, user=content.user)
    assert req.status == "pending" and req.due_at > req.created_at
    assert maintenance.tick() == {"exports": 1, "erasures": 0, "errors": 0}
    req = session.get(PrivacyRequest, req.id)
    session.refresh(req)
    assert req.status == "done" and req.export_key.startswith(f"users/{uid}/exports/")
    assert req.export_expires_at - utcnow() > timedelta(days=6, hours=23)

    zf = zipfile.ZipFile(io.BytesIO(get_storage().get(req.export_key)))
    _assert_complete(zf, expected, uid)
    names = zf.namelist()
    upload_files = [n for n in names if n.startswith("uploads/")]
    model_files = [n for n in names if n.startswith("models/")]
    assert len(upload_files) == 1 and zf.read(upload_files[0]).startswith(b"\x89PNG")
    assert sorted(n.rsplit("/", 1)[1] for n in model_files) == ["model.glb", "model.stl", "preview.json",
                                                                 "thumb_front.png"]
    assert f"id {other.user.id})" not in zf.read("README.txt").decode()

    # The mail carries a download link that works (the local backend's signed /files/ route).
    mail = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "export_ready")).one()
    assert mail.to_address == content.user.email
    link = re.search(r"https?://\S+", mail.body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    response = TestClient(Starlette(routes=ROUTES)).get("/" + path)
    assert response.status_code == 200 and response.content[:2] == b"PK"
    assert exports.export_download_url(req) is not None


def test_one_export_per_day_and_exports_expire_after_a_week(session):
    content = full_user(session)
    req = exports.request_export(session, user=content.user)
    with pytest.raises(exports.ExportTooSoon, match="one export per 24 hours"):
        exports.request_export(session, user=content.user)
    maintenance.tick()
    session.refresh(req)
    key = req.export_key
    assert get_storage().exists(key)

    result = maintenance.daily_maintenance(utcnow() + timedelta(days=6))
    assert result["exports"] == {"exports_deleted": 0} and get_storage().exists(key)
    result = maintenance.daily_maintenance(utcnow() + timedelta(days=8))
    assert result["exports"] == {"exports_deleted": 1} and not get_storage().exists(key)
    session.refresh(req)
    assert req.status == "expired" and req.export_key is None and exports.export_download_url(req) is None

    req.created_at = utcnow() - timedelta(hours=25)
    session.add(req)
    session.commit()
    assert exports.request_export(session, user=content.user).status == "pending"


def test_cli_export_user_writes_the_zip(session, tmp_path):
    content = full_user(session)
    expected = _rows_by_table(session, content.user.id)
    out = tmp_path / "out" / "export.zip"
    assert main(["export-user", content.user.email.upper(), "-o", str(out)]) == 0
    _assert_complete(zipfile.ZipFile(out), expected, content.user.id)
    assert main(["export-user", "nobody@example.org", "-o", str(out)]) == 2
