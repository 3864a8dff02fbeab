"""The webhook outbox: events become delivery rows, the worker delivers them, signed.

Events come in two ways, both durable:

- a job's end is read from the jobs table itself: ``collect_job_events`` finds jobs of endpoint
  owners that ended (succeeded, failed, cancelled) since the endpoint was registered and adds a
  delivery for each one not yet there. The row is unique per endpoint and event, so any number of
  workers may run it at once, and the hot path that finishes jobs stays untouched;
- other events (``model.deleted``, ``webhook.test``) are added by ``emit`` in the transaction
  that does what they announce.

``deliver_due`` then posts each due row at least once: signed per Standard Webhooks
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature``) with the ``standardwebhooks``
package, a short timeout, the answer's body capped, redirects not followed, the address
re-checked (``core.webhooks.ssrf``). A failure is retried on RETRY_SCHEDULE_SECONDS, about a
day in all; a delivery that gives up disables its endpoint unless something reached it since,
and the owner gets a mail.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select
from standardwebhooks.webhooks import Webhook

from core.audit import audit
from core.errors import VormError
from core.i18n import N_, translate
from core.mail import enqueue_mail
from core.models import GenerationJob, JobStatus, User, WebhookDelivery, WebhookEndpoint, utcnow
from core.webhooks import ssrf
from core.webhooks.endpoints import get_endpoint

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT_SECONDS = 5.0  # per socket operation; a receiver should answer at once and work later
MAX_RESPONSE_BYTES = 1024  # of the receiver's answer, kept for the delivery log
#: Waits before the 2nd, 3rd, ... attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about 27 h in all).
RETRY_SCHEDULE_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_ATTEMPTS = len(RETRY_SCHEDULE_SECONDS) + 1
CLAIM_SECONDS = 120  # a claimed delivery is not picked again for this long (a worker may die mid-post)
EVENT_LOOKBACK_HOURS = 24  # job ends older than this are not announced (an endpoint registered later sees none)
BATCH = 20  # deliveries per run
DELIVERY_RETENTION_DAYS = 30  # the log keeps this long
USER_AGENT = "Vorm-Webhooks/1"

#: Event type -> the job status it announces.
JOB_EVENTS = {"job.succeeded": JobStatus.SUCCEEDED, "job.failed": JobStatus.FAILED,
              "job.canceled": JobStatus.CANCELLED}
DELIVERIES: sa.Table = WebhookDelivery.__table__  # type: ignore[attr-defined]


def message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def job_data(job: GenerationJob) -> dict[str, Any]:
    """What a job event carries: enough to act on it without another request."""
    from core.errors import render_code
    from core.jobs.errors import JobFailed

    data: dict[str, Any] = {"id": job.id, "status": public_status(job.status), "model_id": job.model_id,
                            "name": job.name, "mode": job.mode}
    if job.status == JobStatus.FAILED:
        data["error"] = {"code": job.error_code,
                         "message": render_code(job.error_code, job.error_params, "en", default=JobFailed)}
    return data


def public_status(status: str) -> str:
    """The API's spelling: ``cancelled`` in our tables is ``canceled`` outside, as the event names have it."""
    return "canceled" if status == JobStatus.CANCELLED else str(status)


def _payload(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": event_type, "timestamp": utcnow().isoformat(), "data": data}


def add_delivery(session: Session, *, endpoint: WebhookEndpoint, event_type: str, event_key: str,
                 data: dict[str, Any], msg_id: str | None = None) -> WebhookDelivery:
    """A delivery row for one endpoint (flushes, does not commit)."""
    row = WebhookDelivery(user_id=endpoint.user_id, endpoint_id=endpoint.id or 0, event_type=event_type,
                          event_key=event_key, message_id=msg_id or message_id(),
                          payload=_payload(event_type, data), next_attempt_at=utcnow())
    session.add(row)
    session.flush()
    return row


def emit(session: Session, *, user_id: int, event_type: str, event_key: str, data: dict[str, Any]) -> int:
    """Queue ``event_type`` for each of the user's enabled endpoints that asked for it, in the caller's
    transaction (flushes, does not commit); returns how many."""
    n = 0
    for endpoint in session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.user_id) == user_id,
                                                               col(WebhookEndpoint.enabled).is_(True))).all():
        if event_type in endpoint.event_types:
            add_delivery(session, endpoint=endpoint, event_type=event_type, event_key=event_key, data=data)
            n += 1
    return n


def _insert_ignoring_duplicates(session: Session, values: dict[str, Any]) -> int:
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(DELIVERIES)
    # RETURNING, not rowcount: psycopg reports -1 rows for a conflict that was skipped.
    inserted = session.execute(insert.values(**values).on_conflict_do_nothing(
        index_elements=["endpoint_id", "event_key"]).returning(DELIVERIES.c.id)).all()
    return len(inserted)


def collect_job_events(session: Session, *, now: datetime | None = None) -> int:
    """Add deliveries for jobs that ended since their owner's endpoints were registered; commits."""
    now = now or utcnow()
    floor = now - timedelta(hours=EVENT_LOOKBACK_HOURS)
    added = 0
    endpoints = session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.enabled).is_(True))).all()
    for endpoint in endpoints:
        wanted = {JOB_EVENTS[e]: e for e in endpoint.event_types if e in JOB_EVENTS}
        if not wanted:
            continue
        since = max(endpoint.created_at, floor)
        jobs = session.exec(select(GenerationJob).where(
            col(GenerationJob.user_id) == endpoint.user_id, col(GenerationJob.status).in_(list(wanted)),
            col(GenerationJob.finished_at) >= since)).all()
        if not jobs:
            continue
        known = set(session.exec(select(WebhookDelivery.event_key).where(
            col(WebhookDelivery.endpoint_id) == endpoint.id, col(WebhookDelivery.event_key).like("job.%"))).all())
        for job in jobs:
            event_type = wanted[JobStatus(job.status)]
            key = f"job.{job.id}.{public_status(job.status)}"
            if key in known:
                continue
            added += _insert_ignoring_duplicates(session, {
                "user_id": endpoint.user_id, "endpoint_id": endpoint.id, "event_type": event_type,
                "event_key": key, "message_id": message_id(), "payload": _payload(event_type, job_data(job)),
                "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now})
    session.commit()
    return added


def signature(endpoint: WebhookEndpoint, msg_id: str, timestamp: datetime, body: bytes) -> str:
    """The ``webhook-signature`` header: the current secret's, and during a rotation's overlap the old one's too."""
    secrets_now = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > utcnow():
        secrets_now.append(endpoint.previous_secret)
    return " ".join(Webhook(s).sign(msg_id, timestamp, body) for s in secrets_now)


def _claim(session: Session, row_id: int, now: datetime) -> bool:
    due = sa.or_(DELIVERIES.c.next_attempt_at.is_(None), DELIVERIES.c.next_attempt_at <= now)
    result = session.execute(DELIVERIES.update().where(DELIVERIES.c.id == row_id, DELIVERIES.c.status == "pending",
                                                       due)
                             .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS)))
    session.commit()
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str, str | None]:
    """One attempt: (status code or None, the answer's start, an error for the log or None)."""
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = utcnow()
    headers = {"content-type": "application/json", "user-agent": USER_AGENT,
               "webhook-id": delivery.message_id, "webhook-timestamp": str(int(timestamp.timestamp())),
               "webhook-signature": signature(endpoint, delivery.message_id, timestamp, body)}
    try:
        target = ssrf.check_url(endpoint.url)
    except VormError as exc:
        return None, "", str(exc)[:500]
    try:
        status, answer = ssrf.post(target, body, headers, timeout=DELIVERY_TIMEOUT_SECONDS,
                                   max_response_bytes=MAX_RESPONSE_BYTES)
    except (OSError, ValueError) as exc:  # refused, timed out, TLS, a malformed answer (http.client raises these)
        return None, "", f"{type(exc).__name__}: {exc}"[:500]
    return status, answer.decode("utf-8", "replace")[:MAX_RESPONSE_BYTES], None


def _give_up(session: Session, endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> None:
    """A delivery failed for about a day: disable the endpoint unless another reached it since, and mail its owner."""
    reached_since = session.exec(select(sa.func.count()).select_from(WebhookDelivery).where(
        col(WebhookDelivery.endpoint_id) == endpoint.id, col(WebhookDelivery.status) == "delivered",
        col(WebhookDelivery.delivered_at) >= delivery.created_at)).one()
    if reached_since or not endpoint.enabled:
        return
    endpoint.enabled = False
    last = delivery.last_error or delivery.last_status_code
    endpoint.disabled_reason = f"Deliveries failed for about a day (last: {last})"[:255]
    session.add(endpoint)
    audit(session, "webhook.disabled", user_id=endpoint.user_id, endpoint_id=endpoint.id)
    user = session.get(User, endpoint.user_id)
    if user is not None:
        lang = user.locale
        enqueue_mail(session, to=user.email, kind="webhook_disabled", user_id=user.id,
                     subject=translate(N_("Vorm: your webhook endpoint was disabled"), lang),
                     body=translate(N_("Deliveries to your webhook endpoint {url} have failed for about a day, so we "
                                       "disabled it. Fix the receiver, then turn the endpoint back on and resend "
                                       "the failed deliveries on the Account page."), lang, url=endpoint.url))
    log.warning("Webhook endpoint %s disabled after failing deliveries", endpoint.id)


def _record(session: Session, delivery: WebhookDelivery, endpoint: WebhookEndpoint, status: int | None,
            answer: str, error: str | None, now: datetime) -> bool:
    delivery.attempts += 1
    delivery.last_status_code = status
    delivery.response_body = answer or None
    ok = status is not None and 200 <= status < 300
    if ok:
        delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
        delivery.next_attempt_at = None
        endpoint.consecutive_failures = 0
    else:
        delivery.last_error = error or f"HTTP {status}"
        endpoint.consecutive_failures += 1
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = "failed", None
        else:
            delivery.next_attempt_at = now + timedelta(seconds=RETRY_SCHEDULE_SECONDS[delivery.attempts - 1])
    session.add(delivery)
    session.add(endpoint)
    if delivery.status == "failed":
        _give_up(session, endpoint, delivery)
    session.commit()
    return ok


def deliver_due(session: Session, *, now: datetime | None = None, limit: int = BATCH) -> dict[str, int]:
    """Attempt every due delivery once (claimed first, so two workers never post the same one); commits."""
    now = now or utcnow()
    due = sa.or_(col(WebhookDelivery.next_attempt_at).is_(None), col(WebhookDelivery.next_attempt_at) <= now)
    ids = list(session.exec(select(WebhookDelivery.id).where(col(WebhookDelivery.status) == "pending", due)
                            .order_by(col(WebhookDelivery.id)).limit(limit)).all())
    session.rollback()
    counts = {"delivered": 0, "failed": 0}
    for row_id in ids:
        if row_id is None or not _claim(session, row_id, now):
            continue
        delivery = session.get(WebhookDelivery, row_id, populate_existing=True)
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id) if delivery else None
        if delivery is None or endpoint is None:
            continue
        if not endpoint.enabled:
            delivery.status, delivery.last_error, delivery.next_attempt_at = "failed", "endpoint disabled", None
            session.add(delivery)
            session.commit()
            counts["failed"] += 1
            continue
        status, answer, error = _post(endpoint, delivery)
        counts["delivered" if _record(session, delivery, endpoint, status, answer, error, now) else "failed"] += 1
    return counts


def resend(session: Session, *, user_id: int, delivery_id: int) -> WebhookDelivery:
    """Queue the same message (same ``webhook-id``, so receivers can tell) once more; commits."""
    original = session.get(WebhookDelivery, delivery_id)
    if original is None or original.user_id != user_id:
        from core.errors import NotFound

        raise NotFound(N_("That delivery does not exist, or it is not yours."))
    endpoint = get_endpoint(session, user_id=user_id, endpoint_id=original.endpoint_id)
    row = WebhookDelivery(user_id=user_id, endpoint_id=endpoint.id or 0, event_type=original.event_type,
                          event_key=f"{original.event_key}.resend.{secrets.token_hex(4)}"[:128],
                          message_id=original.message_id, payload=dict(original.payload), next_attempt_at=utcnow())
    session.add(row)
    audit(session, "webhook.resent", user_id=user_id, delivery_id=delivery_id)
    session.commit()
    session.refresh(row)
    return row


def list_deliveries(session: Session, *, user_id: int, endpoint_id: int | None = None,
                    limit: int = 50) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).where(col(WebhookDelivery.user_id) == user_id)
    if endpoint_id is not None:
        query = query.where(col(WebhookDelivery.endpoint_id) == endpoint_id)
    return list(session.exec(query.order_by(col(WebhookDelivery.id).desc()).limit(limit)).all())


def purge_old(session: Session, *, now: datetime | None = None) -> int:
    """Drop delivery log rows older than DELIVERY_RETENTION_DAYS that are finished; commits."""
    cutoff = (now or utcnow()) - timedelta(days=DELIVERY_RETENTION_DAYS)
    n = session.execute(DELIVERIES.delete().where(DELIVERIES.c.created_at < cutoff,
                                                  DELIVERIES.c.status != "pending")).rowcount  # type: ignore[attr-defined]
    session.commit()
    return int(n or 0)


def run_once(session: Session) -> dict[str, int]:
    """The worker's webhook tick: announce ended jobs, deliver what is due."""
    added = collect_job_events(session)
    counts = deliver_due(session)
    return {"added": added, **counts}


def send_test(session: Session, *, user_id: int, endpoint_id: int) -> WebhookDelivery:
    """Queue a ``webhook.test`` event for the endpoint; commits. The worker delivers it within seconds."""
    row = get_endpoint(session, user_id=user_id, endpoint_id=endpoint_id)
    stamp = secrets.token_hex(6)
    delivery = add_delivery(session, endpoint=row, event_type="webhook.test", event_key=f"test.{stamp}",
                            data={"endpoint_id": row.id})
    session.commit()
    session.refresh(delivery)
    return delivery
