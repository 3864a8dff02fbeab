"""A user's webhook endpoints: register, list, delete, rotate the secret, send a test event.

Every function finds rows through the caller's ``user_id``: another user's endpoint is "not found".
"""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta

from sqlmodel import Session, col, select

from core.audit import audit
from core.errors import NotFound, ValidationError
from core.i18n import N_
from core.models import User, WebhookDelivery, WebhookEndpoint, pk, utcnow
from core.webhooks import ssrf

#: The events an endpoint can ask for (webhook.test is always sent when the user asks for one).
EVENT_TYPES = ("job.succeeded", "job.failed", "job.canceled", "model.deleted", "webhook.test")
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24  # 192 bits, base64 as Standard Webhooks expects
MAX_ENDPOINTS_PER_USER = 10
ROTATION_OVERLAP_HOURS = 24  # after a rotation, deliveries carry the old secret's signature this long too


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _check_events(event_types: list[str]) -> list[str]:
    chosen = sorted({str(e).strip() for e in event_types or [] if str(e).strip()})
    unknown = [e for e in chosen if e not in EVENT_TYPES]
    if unknown:
        raise ValidationError(N_("Unknown event type {event}: use one of {events}."), event=unknown[0],
                              events=", ".join(EVENT_TYPES))
    if not chosen:
        raise ValidationError(N_("Choose at least one event type."))
    return chosen


def create_endpoint(session: Session, *, user: User, url: str, event_types: list[str]) -> WebhookEndpoint:
    """Register an endpoint after the SSRF check; commits and audits. Its secret is in the row (shown once)."""
    events = _check_events(event_types)
    ssrf.check_url(url)
    count = len(list_endpoints(session, user_id=pk(user)))
    if count >= MAX_ENDPOINTS_PER_USER:
        raise ValidationError(N_("You have {limit} webhook endpoints, the most an account may have. Delete one "
                                 "first."), limit=MAX_ENDPOINTS_PER_USER)
    row = WebhookEndpoint(user_id=pk(user), url=url.strip(), event_types=events, secret=new_secret())
    session.add(row)
    session.flush()
    audit(session, "webhook.created", user_id=pk(user), endpoint_id=row.id)
    session.commit()
    session.refresh(row)
    return row


def list_endpoints(session: Session, *, user_id: int) -> list[WebhookEndpoint]:
    return list(session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.user_id) == user_id)
                             .order_by(col(WebhookEndpoint.id))).all())


def get_endpoint(session: Session, *, user_id: int, endpoint_id: int) -> WebhookEndpoint:
    row = session.get(WebhookEndpoint, endpoint_id)
    if row is None or row.user_id != user_id:
        raise NotFound(N_("That webhook endpoint does not exist, or it is not yours."))
    return row


def delete_endpoint(session: Session, *, user_id: int, endpoint_id: int) -> None:
    """Delete the endpoint and its delivery log; commits and audits."""
    row = get_endpoint(session, user_id=user_id, endpoint_id=endpoint_id)
    for delivery in session.exec(select(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == row.id)).all():
        session.delete(delivery)
    session.flush()
    session.delete(row)
    audit(session, "webhook.deleted", user_id=user_id, endpoint_id=endpoint_id)
    session.commit()


def rotate_secret(session: Session, *, user_id: int, endpoint_id: int) -> WebhookEndpoint:
    """A new secret; the old one keeps signing alongside it for ROTATION_OVERLAP_HOURS. Commits."""
    row = get_endpoint(session, user_id=user_id, endpoint_id=endpoint_id)
    row.previous_secret = row.secret
    row.previous_secret_expires_at = utcnow() + timedelta(hours=ROTATION_OVERLAP_HOURS)
    row.secret = new_secret()
    session.add(row)
    audit(session, "webhook.secret_rotated", user_id=user_id, endpoint_id=endpoint_id)
    session.commit()
    session.refresh(row)
    return row


def enable_endpoint(session: Session, *, user_id: int, endpoint_id: int) -> WebhookEndpoint:
    """Turn a disabled endpoint back on (after its owner fixed the receiver); commits."""
    row = get_endpoint(session, user_id=user_id, endpoint_id=endpoint_id)
    ssrf.check_url(row.url)
    row.enabled, row.disabled_reason, row.consecutive_failures = True, None, 0
    session.add(row)
    audit(session, "webhook.enabled", user_id=user_id, endpoint_id=endpoint_id)
    session.commit()
    session.refresh(row)
    return row
