"""Export: everything we hold about a user, as a ZIP (policy clause 6, right of access).

A request row (``PrivacyRequest`` kind "access", status pending); the worker's
``tick()`` builds the ZIP: a JSON and a CSV of every row in every table that refers
to the user (found by reflection through ``user_tables()``, so a new table is
exported without code here), the original uploads, every model's files and a
README. The link (and an email) lasts 7 days; the ZIP is deleted after that.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import secrets
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import IO, Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from core.audit import audit
from core.db import get_session
from core.errors import NotFound, QuotaExceeded
from core.i18n import N_, translate
from core.mail import enqueue_mail
from core.models import (
    Model3D,
    PrivacyRequest,
    Upload,
    User,
    user_tables,
    utcnow,
)
from core.storage import Storage, get_storage, user_prefix
from core.support.tickets import create_privacy_request

log = logging.getLogger(__name__)

EXPORT_VALID_DAYS = 7  # download link and ZIP lifetime
EXPORT_INTERVAL_HOURS = 24  # one self-service export per this many hours
EXPORT_STALE_MINUTES = 60  # a build claimed longer ago than this is taken to have crashed
ERASURE_RETRY_AFTER_SECONDS = 120  # the tick leaves a fresh erasure to the web process that started it


EXPORT_SPOOL_BYTES = 64 * 1024 * 1024  # ZIPs larger than this are built on disk, not in memory


#: Statuses of self-service export requests (support-form requests are "open" and handled by people).
EXPORT_STATUSES = ("pending", "processing", "done", "expired")


class ExportTooSoon(QuotaExceeded):
    """You can request one export per 24 hours. Please try again later."""

    code = "export_too_soon"




# --- listing what we hold (the "My data" page) ---------------------------------------


def page_of(session: Session, model: type[SQLModel], *, user_id: int, offset: int = 0,
            limit: int = 20) -> tuple[list[Any], int]:
    """One page of a user's rows in a table, newest first, and the total count."""
    table = model.__table__  # type: ignore[attr-defined]
    total = session.exec(select(sa.func.count()).select_from(table).where(table.c.user_id == user_id)).one()
    rows = session.exec(
        select(model).where(table.c.user_id == user_id).order_by(table.c.id.desc()).offset(offset).limit(limit)
    ).all()
    return list(rows), int(total)


# --- export -----------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(_jsonable(value))


def user_rows(session: Session, user_id: int) -> Iterator[tuple[sa.Table, list[dict[str, Any]]]]:
    """Every row about the user, table by table: the account row, then every table in user_tables()."""
    usr = User.__table__  # type: ignore[attr-defined]
    conn = session.connection()
    row = conn.execute(sa.select(usr).where(usr.c.id == user_id)).mappings().first()
    account = dict(row) if row else {}
    if account:
        account["password_hash"] = "(not exported: a one-way hash of your password)"
    yield usr, [account] if account else []
    for table in user_tables():
        pk = list(table.primary_key.columns)
        rows = conn.execute(sa.select(table).where(table.c.user_id == user_id).order_by(*pk)).mappings().all()
        yield table, [dict(r) for r in rows]


def _without_operator_detail(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """The row as the user may see it: diagnostics meant for operators (exception text, server
    paths, mail server answers) are replaced by the message the user is shown in the app."""
    if table == "generation_job" and row.get("error_message"):
        from core.errors import render_code
        from core.jobs.errors import JobFailed

        locale = "en"  # the data files are in one language, like their column names
        row = {**row, "error_message": render_code(row.get("error_code"), row.get("error_params"), locale,
                                                   default=JobFailed)}
    elif table == "outbox" and row.get("last_error"):
        row = {**row, "last_error": "(not exported: our mail server's diagnostic message)"}
    elif table == "api_key":
        row = {**row, "key_hash": "(not exported: a one-way hash of the key)"}
    elif table == "webhook_endpoint":
        # Signing secrets are credentials: an export that leaks would let anyone forge our deliveries.
        row = {**row, "secret": "(not exported: the signing secret)",
               "previous_secret": "(not exported: the signing secret)" if row.get("previous_secret") else None}
    return row


def _safe_name(name: str, fallback: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in (name or ""))[:80].strip("._")
    return keep or fallback


def _model_object_keys(storage: Storage, model: Any) -> list[str]:
    keys: set[str] = {k for k in [model.glb_key, model.preview_key, *(model.thumbnail_keys or {}).values()] if k}
    prefix = model.storage_prefix or ""
    if prefix:
        prefix = prefix if prefix.endswith("/") else prefix + "/"
        if prefix.startswith(user_prefix(model.user_id)) and prefix != user_prefix(model.user_id):
            keys.update(storage.list(prefix))
    return sorted(keys)


README = """Vorm: your data export / je gegevensexport
==========================================

Created / Gemaakt: {created}
Account: {email} (id {user_id})

EN
--
This ZIP holds everything Vorm stores about you (GDPR articles 15 and 20).

  data/all.json          every row below in one JSON file, keyed by table name
  data/<table>.json      the rows of one table that refer to you, as JSON
  data/<table>.csv       the same rows as CSV (UTF-8; lists and objects as JSON text)
  uploads/               your original uploaded images, as stored (EXIF/GPS removed on upload)
  models/<id>_<name>/    every file of each 3D model (GLB, other formats, previews)
  README.txt             this file

Tables: user (your account; the password is stored only as a one-way hash and is not
included), upload, model3d, generation_job, subscription (Stripe references only; we
never receive card data), invoice_record, checkout_session (payment pages we opened for
you at Stripe), access_event (IP address and browser at login
and upload), auth_session, one_time_token (only hashes of links), policy_acceptance,
privacy_request, support_ticket, outbox (emails we sent you), audit_log, api_key (your API keys:
name, prefix and dates; the keys themselves are never stored), idempotency_record, webhook_endpoint
(URLs and event types; not the signing secrets) and webhook_delivery (what we sent to them).
Times are in UTC (ISO 8601).
{missing_en}
NL
--
Deze ZIP bevat alles wat Vorm over je bewaart (AVG artikelen 15 en 20).

  data/all.json          alle rijen hieronder in één JSON-bestand, per tabelnaam
  data/<tabel>.json      de rijen van één tabel die over jou gaan, als JSON
  data/<tabel>.csv       dezelfde rijen als CSV (UTF-8; lijsten en objecten als JSON-tekst)
  uploads/               je originele geüploade afbeeldingen, zoals opgeslagen (EXIF/GPS verwijderd)
  models/<id>_<naam>/    alle bestanden van elk 3D-model (GLB, andere formaten, voorbeelden)
  README.txt             dit bestand

Tijden zijn in UTC (ISO 8601). Het wachtwoord bewaren we alleen als eenrichtings-hash;
die zit er niet in. Van abonnementen bewaren we alleen Stripe-verwijzingen, nooit kaartgegevens.
{missing_nl}"""


def write_export(session: Session, *, user_id: int, out: IO[bytes], storage: Storage | None = None) -> dict[str, int]:
    """Write the user's export ZIP to ``out``; returns counts (rows, files, missing)."""
    storage = storage or get_storage()
    counts = {"rows": 0, "files": 0, "missing": 0}
    missing: list[str] = []
    email = ""
    everything: dict[str, list[dict[str, Any]]] = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for table, rows in user_rows(session, user_id):
            if table.name == "user" and rows:
                email = str(rows[0].get("email", ""))
            rows = [_without_operator_detail(table.name, r) for r in rows]
            data = [{k: _jsonable(v) for k, v in r.items()} for r in rows]
            everything[table.name] = data
            counts["rows"] += len(rows)
            zf.writestr(f"data/{table.name}.json", json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))
            buf = io.StringIO()
            writer = csv.writer(buf)
            columns = [c.name for c in table.columns]
            writer.writerow(columns)
            for r in rows:
                writer.writerow([_csv_cell(r.get(c)) for c in columns])
            zf.writestr(f"data/{table.name}.csv", buf.getvalue())
        zf.writestr("data/all.json", json.dumps(everything, ensure_ascii=False, indent=1, sort_keys=True))
        del everything

        def add_object(key: str, arcname: str) -> None:
            try:
                zf.writestr(arcname, storage.get(key), compress_type=zipfile.ZIP_STORED)
                counts["files"] += 1
            except NotFound:
                missing.append(arcname)

        for up in session.exec(select(Upload).where(Upload.user_id == user_id).order_by(col(Upload.id))):
            add_object(up.storage_key, f"uploads/{up.id}_{_safe_name(up.filename, 'upload')}")
        for model in session.exec(select(Model3D).where(Model3D.user_id == user_id).order_by(col(Model3D.id))):
            folder = f"models/{model.id}_{_safe_name(model.name, 'model')}"
            prefix = (model.storage_prefix or "").rstrip("/") + "/"
            for key in _model_object_keys(storage, model):
                rel = key[len(prefix):] if key.startswith(prefix) else key.rsplit("/", 1)[-1]
                add_object(key, f"{folder}/{rel}")
        counts["missing"] = len(missing)
        note_en = note_nl = ""
        if missing:
            listed = "\n".join(f"  {m}" for m in missing)
            note_en = f"\nThese files were listed but no longer exist in storage:\n{listed}\n"
            note_nl = f"\nDeze bestanden stonden vermeld maar bestaan niet meer in de opslag:\n{listed}\n"
        zf.writestr("README.txt", README.format(created=utcnow().isoformat(timespec="seconds"), email=email,
                                                user_id=user_id, missing_en=note_en, missing_nl=note_nl))
    return counts


def latest_export(session: Session, *, user: User) -> PrivacyRequest | None:
    return session.exec(
        select(PrivacyRequest).where(PrivacyRequest.user_id == user.id).where(PrivacyRequest.kind == "access")
        .where(col(PrivacyRequest.status).in_(EXPORT_STATUSES + ("failed",)))
        .order_by(col(PrivacyRequest.id).desc())
    ).first()


def next_export_allowed_at(session: Session, *, user: User) -> datetime | None:
    """When the user may ask for the next export; None when they may now."""
    last = session.exec(
        select(PrivacyRequest.created_at).where(PrivacyRequest.user_id == user.id)
        .where(PrivacyRequest.kind == "access").where(col(PrivacyRequest.status).in_(EXPORT_STATUSES))
        .order_by(col(PrivacyRequest.created_at).desc())
    ).first()
    if last is None:
        return None
    allowed = last + timedelta(hours=EXPORT_INTERVAL_HOURS)
    return allowed if allowed > utcnow() else None


def request_export(session: Session, *, user: User) -> PrivacyRequest:
    """Ask for an export ZIP; the worker builds it within seconds. One per 24 hours."""
    allowed = next_export_allowed_at(session, user=user)
    if allowed is not None:
        when = allowed.strftime("%Y-%m-%d %H:%M UTC")
        raise ExportTooSoon(N_("You can request one export per 24 hours. The next one is possible from {when}."),
                            when=when)
    req = create_privacy_request(session, user=user, kind="access", status="pending",
                                 details="Self-service export from the My data page.")
    session.commit()
    return req


def _claim_export(session: Session, request_id: int) -> bool:
    reqs = PrivacyRequest.__table__  # type: ignore[attr-defined]
    stale = utcnow() - timedelta(minutes=EXPORT_STALE_MINUTES)
    # A conditional UPDATE: of two workers, exactly one sees rowcount 1.
    claimed = session.connection().execute(
        reqs.update().where(reqs.c.id == request_id, reqs.c.kind == "access")
        .where(sa.or_(reqs.c.status == "pending", sa.and_(reqs.c.status == "processing", reqs.c.created_at < stale)))
        .values(status="processing")
    ).rowcount
    session.commit()
    return claimed == 1


def build_export(request_id: int, *, storage: Storage | None = None) -> str:
    """Build one pending export: ZIP into storage, link into the request row and an email."""
    storage = storage or get_storage()
    with get_session() as session:
        if not _claim_export(session, request_id):
            return "skipped"
        req = session.get(PrivacyRequest, request_id)
        user = session.get(User, req.user_id) if req else None
        if req is None or user is None or user.id is None:
            return "skipped"
        uid = user.id
        key = None
        try:
            now = utcnow()
            key = f"{user_prefix(uid)}exports/{req.id}-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(4)}.zip"
            with tempfile.SpooledTemporaryFile(max_size=EXPORT_SPOOL_BYTES) as tmp:
                counts = write_export(session, user_id=uid, out=tmp, storage=storage)
                tmp.seek(0)
                storage.put(key, tmp.read(), content_type="application/zip")
            req.export_key = key
            req.export_expires_at = now + timedelta(days=EXPORT_VALID_DAYS)
            req.status, req.resolved_at = "done", now
            session.add(req)
            link = storage.url(key, expires_seconds=EXPORT_VALID_DAYS * 86400, filename=export_filename(req))
            enqueue_mail(session, to=user.email, user_id=user.id, kind="export_ready",
                         subject=translate("Your Vorm data export is ready", user.locale),
                         body=translate("Hello {name},\n\nThe export of your data that you asked for is ready. "
                                        "Download it here:\n\n{link}\n\nThe link works for {days} days (until "
                                        "{expires}); after that the file is deleted. You can also download it from "
                                        "the My data page.\n\nVorm",
                                        user.locale, name=user.name or user.email, link=link,
                                days=EXPORT_VALID_DAYS, expires=req.export_expires_at.strftime("%Y-%m-%d %H:%M UTC")))
            audit(session, "privacy.export_ready", user_id=uid, request_id=req.id, rows=counts["rows"],
                  files=counts["files"], missing=counts["missing"])
            session.commit()
            return "done"
        except Exception:
            session.rollback()
            log.exception("export %s failed", request_id)
            if key is not None:
                # The ZIP may be stored already; no row will point to it, so it goes now (and if
                # storage refuses, the orphan sweep takes it a day later).
                try:
                    storage.delete_many([key])
                except Exception:
                    log.warning("could not delete the unfinished export %s", key, exc_info=True)
            req = session.get(PrivacyRequest, request_id)
            if req is not None:
                req.status = "failed"
                session.add(req)
                session.commit()
            raise


def export_filename(req: PrivacyRequest) -> str:
    return f"vorm-export-{req.created_at:%Y-%m-%d}.zip"


def export_download_url(req: PrivacyRequest, *, storage: Storage | None = None) -> str | None:
    """A signed link to a finished export, valid until the export expires; None when not ready or expired."""
    if req.status != "done" or not req.export_key or req.export_expires_at is None:
        return None
    remaining = int((req.export_expires_at - utcnow()).total_seconds())
    if remaining <= 0:
        return None
    return (storage or get_storage()).url(req.export_key, expires_seconds=remaining, filename=export_filename(req))
