"""The data subject's rights, self-service (policy clauses 6 and 7): see, export, correct, delete.

- **Export.** A request row (``PrivacyRequest`` kind "access", status pending); the
  worker's ``tick()`` builds the ZIP: a JSON and a CSV of every row in every table
  that refers to the user (found by reflection through ``user_tables()``, so a new
  table is exported without code here), the original uploads, every model's files
  and a README. The link (and an email) lasts 7 days; the ZIP is deleted after that.
- **Erasure.** ``start_erasure`` locks the account at once (password hash scrapped,
  sessions deleted, queued jobs cancelled) and leaves a deletion request as the
  marker; ``erase_user`` then deletes the Stripe customer, the storage objects and,
  in one transaction, every row. Each step is safe to repeat, and the marker row
  goes in the last transaction, so a crash anywhere leaves work that the next run
  (the CLI again, or the worker's tick) finishes.
- **Correction.** Name directly; email through a link mailed to the new address.
- **Policy versions.** Publishing a new material version queues a notice mail per
  user; ``needs_policy_banner`` tells the UI to show the banner until acknowledged.

Retention rules live in ``core.retention``; support tickets in ``core.support``.
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
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from core import billing, policy, retention
from core.audit import audit
from core.auth import (
    Client,
    consume_one_time_token,
    issue_one_time_token,
    normalise_email,
    verify_password,
)
from core.config import get_settings
from core.db import get_session
from core.errors import DuplicateEmail, NotFound, QuotaExceeded, ValidationError, WrongCredentials
from core.i18n import t
from core.mail import enqueue_mail
from core.models import (
    AuthSession,
    GenerationJob,
    JobStatus,
    Model3D,
    OutboxMessage,
    PolicyAcceptance,
    PolicyVersion,
    PrivacyRequest,
    Subscription,
    SupportTicket,
    Upload,
    User,
    user_tables,
    utcnow,
)
from core.storage import Storage, get_storage, user_prefix
from core.support import add_month, create_privacy_request

log = logging.getLogger(__name__)

EXPORT_VALID_DAYS = 7  # download link and ZIP lifetime
EXPORT_INTERVAL_HOURS = 24  # one self-service export per this many hours
EXPORT_STALE_MINUTES = 60  # a build claimed longer ago than this is taken to have crashed
ERASURE_RETRY_AFTER_SECONDS = 120  # the tick leaves a fresh erasure to the web process that started it
EMAIL_CHANGE_TOKEN_MINUTES = 24 * 60
ERASED_PASSWORD_HASH = "!erased"  # not a bcrypt hash: no password matches it
MAX_NAME_CHARS = 120
EXPORT_SPOOL_BYTES = 64 * 1024 * 1024  # ZIPs larger than this are built on disk, not in memory

#: Tables kept after erasure because the law requires them; their user link is cut instead.
KEEP_ON_ERASURE = frozenset({"invoice_record", "audit_log"})
#: Statuses of self-service export requests (support-form requests are "open" and handled by people).
EXPORT_STATUSES = ("pending", "processing", "done", "expired")


class ExportTooSoon(QuotaExceeded):
    """You can request one export per 24 hours. Please try again later."""

    code = "export_too_soon"


class SameEmail(ValidationError):
    """That is already your email address."""

    code = "same_email"


class PasswordRequired(WrongCredentials):
    """The password is wrong. Please confirm with your current password."""

    code = "password_required"


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
never receive card data), invoice_record, access_event (IP address and browser at login
and upload), auth_session, one_time_token (only hashes of links), policy_acceptance,
privacy_request, support_ticket, outbox (emails we sent you), audit_log.
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
        raise ExportTooSoon(f"You can request one export per 24 hours. The next one is possible from {when}.",
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
                         subject=t("privacy.mail.export.subject", user.locale),
                         body=t("privacy.mail.export.body", user.locale, name=user.name or user.email, link=link,
                                days=EXPORT_VALID_DAYS, expires=req.export_expires_at.strftime("%Y-%m-%d %H:%M UTC")))
            audit(session, "privacy.export_ready", user_id=uid, request_id=req.id, rows=counts["rows"],
                  files=counts["files"], missing=counts["missing"])
            session.commit()
            return "done"
        except Exception:
            session.rollback()
            log.exception("export %s failed", request_id)
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


# --- correction ---------------------------------------------------------------------


def change_name(session: Session, *, user: User, name: str) -> User:
    name = (name or "").strip()
    if len(name) > MAX_NAME_CHARS:
        raise ValidationError(f"The name is too long (at most {MAX_NAME_CHARS} characters).")
    user = session.merge(user)
    user.name, user.updated_at = name, utcnow()
    session.add(user)
    audit(session, "user.name_changed", user_id=user.id)
    session.commit()
    return user


def request_email_change(session: Session, *, user: User, new_email: str, password: str) -> str:
    """Mail a confirmation link to the new address; the email changes only when it is opened.

    The current password is asked for, so that a borrowed session cannot move the account elsewhere.
    Returns the normalised new address.
    """
    user = session.merge(user)
    new_email = normalise_email(new_email)
    if not verify_password(password or "", user.password_hash):
        raise PasswordRequired()
    if new_email == user.email:
        raise SameEmail()
    if session.exec(select(User.id).where(User.email == new_email)).first() is not None:
        raise DuplicateEmail()
    token = issue_one_time_token(session, user_id=int(user.id or 0), purpose="email_change",
                                 minutes=EMAIL_CHANGE_TOKEN_MINUTES, new_email=new_email)
    link = f"{get_settings().public_url.rstrip('/')}/?confirm_email={token}"
    enqueue_mail(session, to=new_email, user_id=user.id, kind="email_change",
                 subject=t("privacy.mail.email_change.subject", user.locale),
                 body=t("privacy.mail.email_change.body", user.locale, name=user.name or user.email, link=link,
                        hours=EMAIL_CHANGE_TOKEN_MINUTES // 60))
    audit(session, "user.email_change_requested", user_id=user.id)
    session.commit()
    return new_email


def confirm_email_change(session: Session, *, token: str) -> User:
    """Open the link from the confirmation mail: the account's email becomes the new address."""
    row = consume_one_time_token(session, token=token, purpose="email_change")
    user = session.get(User, row.user_id)
    if user is None or not row.new_email or user.password_hash == ERASED_PASSWORD_HASH:
        session.rollback()
        raise NotFound("This account no longer exists.")
    if session.exec(select(User.id).where(User.email == row.new_email)).first() is not None:
        session.rollback()
        raise DuplicateEmail()
    old = user.email
    user.email, user.updated_at = row.new_email, utcnow()
    session.add(user)
    # Tell the old address, so an unexpected change does not go unnoticed.
    enqueue_mail(session, to=old, user_id=user.id, kind="email_changed",
                 subject=t("privacy.mail.email_changed.subject", user.locale),
                 body=t("privacy.mail.email_changed.body", user.locale, name=user.name or old, new=user.email,
                        support=get_settings().support_email))
    audit(session, "user.email_changed", user_id=user.id)
    session.commit()
    return user


# --- deleting one item --------------------------------------------------------------


def delete_upload(session: Session, *, user: User, upload_id: int, storage: Storage | None = None) -> None:
    up = session.get(Upload, upload_id)
    if up is None or up.user_id != user.id:
        raise NotFound("That upload does not exist (any more).")
    (storage or get_storage()).delete_many([up.storage_key])
    session.delete(up)
    audit(session, "upload.deleted", user_id=user.id, upload_id=upload_id, actor="user")
    session.commit()


def delete_model(session: Session, *, user: User, model_id: int, storage: Storage | None = None) -> None:
    model = session.get(Model3D, model_id)
    if model is None or model.user_id != user.id:
        raise NotFound("That model does not exist (any more).")
    storage = storage or get_storage()
    storage.delete_many(_model_object_keys(storage, model))
    session.delete(model)
    audit(session, "model.deleted", user_id=user.id, model_id=model_id, actor="user")
    session.commit()


# --- erasure -----------------------------------------------------------------------


def start_erasure(session: Session, *, user_id: int) -> None:
    """Lock the account now; the rest of the erasure may follow later. Safe to repeat."""
    user = session.get(User, user_id)
    if user is None:
        return
    user.password_hash = ERASED_PASSWORD_HASH
    session.add(user)
    conn = session.connection()
    # Deleted rows, not revoked ones: resolve_session finds nothing, so every copied cookie is dead.
    sessions = AuthSession.__table__  # type: ignore[attr-defined]
    conn.execute(sessions.delete().where(sessions.c.user_id == user_id))
    jobs = GenerationJob.__table__  # type: ignore[attr-defined]
    conn.execute(jobs.update().where(jobs.c.user_id == user_id, jobs.c.status == str(JobStatus.QUEUED))
                 .values(status=str(JobStatus.CANCELLED)))
    marker = session.exec(
        select(PrivacyRequest.id).where(PrivacyRequest.user_id == user_id)
        .where(PrivacyRequest.kind == "deletion").where(PrivacyRequest.status == "processing")
    ).first()
    if marker is None:
        now = utcnow()
        session.add(PrivacyRequest(user_id=user_id, kind="deletion", status="processing", created_at=now,
                                   due_at=add_month(now), details="Account deletion (self-service or operator)."))
    session.commit()


def _storage_keys_outside_prefix(session: Session, user_id: int) -> list[str]:
    """Objects the rows name outside users/<id>/ (none by our layout, but rows are the truth)."""
    prefix = user_prefix(user_id)
    keys: set[str] = set()
    for (key,) in session.connection().execute(sa.select(Upload.storage_key).where(Upload.user_id == user_id)):  # type: ignore[call-overload]
        keys.add(key)
    for model in session.exec(select(Model3D).where(Model3D.user_id == user_id)):
        keys.update(k for k in [model.glb_key, model.preview_key, *(model.thumbnail_keys or {}).values()] if k)
    for (key,) in session.connection().execute(
            sa.select(PrivacyRequest.export_key).where(PrivacyRequest.user_id == user_id)):  # type: ignore[call-overload]
        if key:
            keys.add(key)
    return sorted(k for k in keys if k and not k.startswith(prefix))


@dataclass
class ErasureResult:
    status: str  # "erased" or "absent" (nothing left to do)
    rows: dict[str, int]
    objects: int
    stripe: list[str]


def erase_user(user_id: int, *, storage: Storage | None = None, actor: str = "system") -> ErasureResult:
    """Erase everything about one user. Safe to repeat after a crash at any point."""
    storage = storage or get_storage()
    with get_session() as session:
        user = session.get(User, user_id)
        if user is None:
            return ErasureResult("absent", {}, 0, [])
        start_erasure(session, user_id=user_id)
        email = user.email
        customers = {user.stripe_customer_id} if user.stripe_customer_id else set()
        subs = Subscription.__table__  # type: ignore[attr-defined]
        customers.update(session.connection().execute(
            sa.select(subs.c.stripe_customer_id).where(subs.c.user_id == user_id)).scalars())
        outside = _storage_keys_outside_prefix(session, user_id)

    # Outside systems first, our rows last: the rows are what tells a rerun there is work left.
    stripe_results = [billing.delete_customer(c) for c in sorted(c for c in customers if c)]
    objects = storage.delete_many(outside)
    objects += storage.delete_many(storage.list(user_prefix(user_id)))

    rows: dict[str, int] = {}
    with get_session() as session:
        conn = session.connection()
        for table in user_tables():
            if table.name in KEEP_ON_ERASURE:
                n = conn.execute(table.update().where(table.c.user_id == user_id).values(user_id=None)).rowcount
            else:
                n = conn.execute(table.delete().where(table.c.user_id == user_id)).rowcount
            rows[table.name] = int(n or 0)
        # Rows about this person that only carry the address: anonymous tickets, mails sent before login.
        tickets = SupportTicket.__table__  # type: ignore[attr-defined]
        outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
        rows["support_ticket"] += int(conn.execute(tickets.delete().where(tickets.c.email == email)).rowcount or 0)
        rows["outbox"] += int(conn.execute(outbox.delete().where(outbox.c.to_address == email)).rowcount or 0)
        usr = User.__table__  # type: ignore[attr-defined]
        rows["user"] = int(conn.execute(usr.delete().where(usr.c.id == user_id)).rowcount or 0)
        # No user id, no email: the record says that an erasure happened and how much it removed.
        audit(session, "user.erased", actor=actor, rows=sum(rows.values()), objects=objects,
              stripe=",".join(stripe_results) or "none")
        session.commit()
    # A job that was running during the erasure may have written objects since the first sweep.
    objects += storage.delete_many(storage.list(user_prefix(user_id)))
    return ErasureResult("erased", rows, objects, stripe_results)


def delete_account(session: Session, *, user: User, password: str, client: Client | None = None) -> str:
    """The user's own "delete my account", confirmed with the password.

    Returns "erased", or "scheduled" when part of the erasure failed and the worker will finish it
    (the account is locked and logged out either way).
    """
    fresh = session.get(User, user.id)
    if fresh is None:
        raise NotFound("This account no longer exists.")
    if not verify_password(password or "", fresh.password_hash):
        raise PasswordRequired()
    start_erasure(session, user_id=fresh.id)  # type: ignore[arg-type]
    try:
        erase_user(fresh.id, actor="user")  # type: ignore[arg-type]
    except Exception:
        log.exception("erasure of user %s failed; the worker will retry it", fresh.id)
        return "scheduled"
    return "erased"


# --- policy versions ----------------------------------------------------------------


def _date_start(iso_date: str) -> datetime:
    return datetime.fromisoformat(iso_date).replace(tzinfo=UTC)


def _current_material() -> policy.PolicyDoc | None:
    material = [v for v in policy.all_versions() if v.material]
    return material[-1] if material else None


def needs_policy_banner(session: Session, *, user: User) -> policy.PolicyDoc | None:
    """The current policy, when the user has not acknowledged its latest material change; else None."""
    latest = _current_material()
    if latest is None:
        return None
    order = [v.version for v in policy.all_versions()]
    seen = user.policy_acknowledged_version
    if seen is None and user.created_at.date().isoformat() >= latest.last_updated:
        # Accounts made by an operator accepted nothing, but nothing changed since they were made either.
        return None
    if seen in order and order.index(seen) >= order.index(latest.version):
        return None
    return policy.current()


def acknowledge_policy(session: Session, *, user: User) -> None:
    """The user has read the current policy: the banner goes, and the acceptance is recorded."""
    current = policy.current()
    fresh = session.get(User, user.id)
    if fresh is None:
        raise NotFound("This account no longer exists.")
    fresh.policy_acknowledged_version = current.version
    session.add(fresh)
    session.add(PolicyAcceptance(user_id=int(fresh.id or 0), version=current.version))
    audit(session, "policy.acknowledged", user_id=fresh.id, version=current.version)
    session.commit()
    user.policy_acknowledged_version = current.version


def publish_policies(session: Session) -> list[dict[str, Any]]:
    """Record every version in versions.toml not yet published; a material one mails each user a notice.

    Safe to run on every start: a version is published (and announced) once.
    """
    published = []
    known = set(session.exec(select(PolicyVersion.version)).all())
    for doc in policy.all_versions():
        if doc.version in known:
            continue
        session.add(PolicyVersion(version=doc.version, last_updated=doc.last_updated, material=doc.material))
        session.flush()
        mails = _announce(session, doc) if doc.material and doc is policy.current() else 0
        audit(session, "policy.published", version=doc.version, material=doc.material, notices=mails)
        session.commit()
        published.append({"version": doc.version, "material": doc.material, "notices": mails})
    return published


def _announce(session: Session, doc: policy.PolicyDoc) -> int:
    url = f"{get_settings().public_url.rstrip('/')}/privacy-policy"  # the page's url_path in app.py
    usr = User.__table__  # type: ignore[attr-defined]
    count, after = 0, 0
    while True:
        users = session.connection().execute(
            sa.select(usr.c.id, usr.c.email, usr.c.name, usr.c.locale)
            .where(usr.c.id > after, usr.c.password_hash != ERASED_PASSWORD_HASH)
            .where(sa.or_(sa.and_(usr.c.policy_acknowledged_version.is_(None),
                                  usr.c.created_at < _date_start(doc.last_updated)),
                          usr.c.policy_acknowledged_version != doc.version))
            .order_by(usr.c.id).limit(1000)
        ).all()
        if not users:
            return count
        after = users[-1].id
        for u in users:
            enqueue_mail(session, to=u.email, user_id=u.id, kind="policy_notice",
                         subject=t("privacy.mail.policy.subject", u.locale),
                         body=t("privacy.mail.policy.body", u.locale, name=u.name or u.email,
                                date=doc.last_updated, link=url))
            count += 1
        session.flush()


# --- the worker's entry points ------------------------------------------------------


_published_here: set[str] = set()  # versions this process has seen published: no query for them again


def publish_new_policies() -> list[dict[str, Any]]:
    """Publish versions added to versions.toml since the last deploy; nothing when all are known."""
    wanted = {v.version for v in policy.all_versions()}
    if wanted <= _published_here:
        return []
    with get_session() as session:
        published = publish_policies(session)
        _published_here.update(session.exec(select(PolicyVersion.version)).all())
    return published


def tick(*, storage: Storage | None = None) -> dict[str, int]:
    """Build pending exports, finish interrupted erasures, publish new policy versions. Cheap when idle."""
    now = utcnow()
    try:
        publish_new_policies()
    except Exception:
        log.exception("publishing new policy versions failed; retrying on a later tick")
    with get_session() as session:
        exports = session.exec(
            select(PrivacyRequest.id).where(PrivacyRequest.kind == "access")
            .where(sa.or_(col(PrivacyRequest.status) == "pending",
                          sa.and_(col(PrivacyRequest.status) == "processing",
                                  col(PrivacyRequest.created_at) < now - timedelta(minutes=EXPORT_STALE_MINUTES))))
            .order_by(col(PrivacyRequest.id)).limit(10)
        ).all()
        erasures = session.exec(
            select(PrivacyRequest.user_id).where(PrivacyRequest.kind == "deletion")
            .where(PrivacyRequest.status == "processing")
            .where(col(PrivacyRequest.created_at) < now - timedelta(seconds=ERASURE_RETRY_AFTER_SECONDS))
            .distinct().limit(10)
        ).all()
    result = {"exports": 0, "erasures": 0, "errors": 0}
    for request_id in exports:
        try:
            if build_export(int(request_id), storage=storage) == "done":  # type: ignore[arg-type]
                result["exports"] += 1
        except Exception:
            result["errors"] += 1
    for user_id in erasures:
        try:
            erase_user(int(user_id), storage=storage)
            result["erasures"] += 1
        except Exception:
            log.exception("erasure of user %s failed; retrying on a later tick", user_id)
            result["errors"] += 1
    return result


def daily_maintenance(now: datetime | None = None, *, storage: Storage | None = None) -> dict[str, Any]:
    """Once a day per fleet: retention purge, IP truncation, export and token cleanup.

    Each part runs even when an earlier one failed; failures are reported in "errors".
    """
    now = now or utcnow()
    storage = storage or get_storage()
    out: dict[str, Any] = {"errors": {}}
    steps = {
        "purge": lambda s: retention.purge_expired(s, now=now, storage=storage).as_dict(),
        "access_log": lambda s: retention.truncate_access_ips(s, now=now),
        "exports": lambda s: retention.cleanup_exports(s, now=now, storage=storage),
        "tokens": lambda s: retention.cleanup_tokens_and_sessions(s, now=now),
    }
    for name, step in steps.items():
        with get_session() as session:
            try:
                out[name] = step(session)
            except Exception as exc:
                session.rollback()
                log.exception("daily maintenance step %s failed", name)
                out["errors"][name] = f"{type(exc).__name__}: {exc}"[:500]
    return out


# Re-exported for the UI: "days left" next to a free user's uploads and models.
purge_date = retention.purge_date
retention_rule = retention.retention_rule
