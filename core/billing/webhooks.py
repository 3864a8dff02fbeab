"""The Stripe webhook that keeps plans in step.

The webhook is verified with the signing secret before anything is read, and each
event id is recorded in ``webhook_event`` in the same transaction as its effect, so
a replayed (or concurrently redelivered) event changes nothing the second time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.audit import audit
from core.billing.client import ACTIVE_STATUSES, WEBHOOK_TOLERANCE_SECONDS, WebhookRejected
from core.config import get_settings
from core.db import get_session
from core.errors import TransientError
from core.models import InvoiceRecord, Plan, Subscription, User, WebhookEvent, utcnow

log = logging.getLogger(__name__)



# --- the webhook ------------------------------------------------------------


def _ts(value: Any) -> datetime | None:
    if value in (None, "", 0):
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)


def _user_for(session: Session, obj: dict[str, Any]) -> User | None:
    ref = obj.get("client_reference_id") or (obj.get("metadata") or {}).get("user_id")
    if ref and str(ref).isdigit():
        user = session.get(User, int(ref))
        if user is not None:
            return user
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    if customer:
        user = session.exec(select(User).where(User.stripe_customer_id == customer)).first()
        if user is not None:
            return user
        sub = session.exec(select(Subscription).where(Subscription.stripe_customer_id == customer)).first()
        if sub is not None:
            return session.get(User, sub.user_id)
    return None


def _refresh_plan(session: Session, user: User) -> None:
    """Premium while any subscription is active; free otherwise."""
    session.flush()
    active = session.exec(
        select(Subscription.id).where(Subscription.user_id == user.id)
        .where(Subscription.status.in_(ACTIVE_STATUSES))  # type: ignore[attr-defined]
    ).first()
    plan = Plan.PREMIUM if active is not None else Plan.FREE
    if user.plan != plan:
        user.plan = plan
        user.updated_at = utcnow()
        session.add(user)
        audit(session, "billing.plan_changed", user_id=user.id, plan=str(plan))


def _upsert_subscription(session: Session, user: User, *, sub_id: str, customer: str, status: str,
                         period_end: datetime | None, ended_at: datetime | None) -> Subscription:
    sub = session.exec(select(Subscription).where(Subscription.stripe_subscription_id == sub_id)).first()
    if sub is None:
        sub = Subscription(user_id=int(user.id or 0), stripe_customer_id=customer, stripe_subscription_id=sub_id)
    sub.status = status
    if period_end is not None:
        sub.current_period_end = period_end
    if status in ACTIVE_STATUSES:
        sub.ended_at = None
    elif sub.ended_at is None:
        # Retention counts 30 days from here for content kept under this subscription.
        sub.ended_at = ended_at or utcnow()
    sub.updated_at = utcnow()
    session.add(sub)
    if customer and user.stripe_customer_id != customer:
        user.stripe_customer_id = customer
        session.add(user)
    return sub


def _on_checkout_completed(session: Session, obj: dict[str, Any]) -> str:
    user = _user_for(session, obj)
    if user is None:
        return "unknown_user"
    customer = obj.get("customer") or ""
    sub_id = obj.get("subscription")
    if isinstance(sub_id, dict):
        sub_id = sub_id.get("id")
    if not sub_id:
        return "no_subscription"
    _upsert_subscription(session, user, sub_id=str(sub_id), customer=str(customer), status="active",
                         period_end=None, ended_at=None)
    _refresh_plan(session, user)
    return "subscribed"


def _period_end(obj: dict[str, Any]) -> datetime | None:
    end = obj.get("current_period_end")
    if end is None:  # newer API versions keep it on the subscription items
        items = (obj.get("items") or {}).get("data") or []
        end = items[0].get("current_period_end") if items else None
    return _ts(end)


def _on_subscription_changed(session: Session, obj: dict[str, Any], *, deleted: bool) -> str:
    user = _user_for(session, obj)
    if user is None:
        return "unknown_user"
    status = "canceled" if deleted else str(obj.get("status") or "active")
    _upsert_subscription(session, user, sub_id=str(obj["id"]), customer=str(obj.get("customer") or ""),
                         status=status, period_end=_period_end(obj), ended_at=_ts(obj.get("ended_at")))
    _refresh_plan(session, user)
    return status


def _on_invoice_paid(session: Session, obj: dict[str, Any]) -> str:
    invoice_id = str(obj["id"])
    if session.exec(select(InvoiceRecord.id).where(InvoiceRecord.stripe_invoice_id == invoice_id)).first():
        return "known"
    user = _user_for(session, obj)
    session.add(InvoiceRecord(user_id=user.id if user else None, stripe_invoice_id=invoice_id,
                              amount_cents=int(obj.get("amount_paid") or 0),
                              currency=str(obj.get("currency") or "eur")[:8],
                              created_at=_ts(obj.get("created")) or utcnow()))
    return "recorded"


def _apply(session: Session, event_type: str, obj: dict[str, Any]) -> str:
    if event_type == "checkout.session.completed":
        return _on_checkout_completed(session, obj)
    if event_type == "customer.subscription.updated" or event_type == "customer.subscription.created":
        return _on_subscription_changed(session, obj, deleted=False)
    if event_type == "customer.subscription.deleted":
        return _on_subscription_changed(session, obj, deleted=True)
    if event_type == "invoice.paid":
        return _on_invoice_paid(session, obj)
    return "ignored"


def handle_webhook(payload: bytes, sig_header: str) -> dict[str, Any]:
    """Verify and apply one Stripe event. Raises WebhookRejected for a bad signature or payload."""
    import stripe

    secret = get_settings().stripe_webhook_secret
    try:
        event = stripe.Webhook.construct_event(payload, sig_header, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError:
        raise WebhookRejected("The webhook signature is not valid.") from None
    except ValueError:
        raise WebhookRejected("The webhook payload is not valid JSON.") from None
    data = event.to_dict() if hasattr(event, "to_dict") else dict(event)
    event_id, event_type = str(data.get("id") or ""), str(data.get("type") or "")
    if not event_id:
        raise WebhookRejected("The webhook event has no id.")
    obj = (data.get("data") or {}).get("object") or {}
    with get_session() as session:
        if session.get(WebhookEvent, event_id) is not None:
            return {"id": event_id, "type": event_type, "result": "duplicate"}
        session.add(WebhookEvent(id=event_id, type=event_type[:64]))
        result = _apply(session, event_type, obj)
        try:
            session.commit()
        except IntegrityError:
            # The same event delivered twice at once: the other delivery's commit won.
            session.rollback()
            return {"id": event_id, "type": event_type, "result": "duplicate"}
    log.info("stripe webhook %s %s: %s", event_type, event_id, result)
    return {"id": event_id, "type": event_type, "result": result}


async def stripe_webhook(request: Request) -> Response:
    """POST /webhooks/stripe: 200 when handled (or a replay), 400 when the signature is wrong."""
    payload = await request.body()
    sig = request.headers.get("stripe-signature", "")
    try:
        result = await run_in_threadpool(handle_webhook, payload, sig)
    except WebhookRejected as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    except (TransientError, sa.exc.OperationalError):
        # 5xx makes Stripe retry later with backoff.
        log.exception("stripe webhook failed")
        return JSONResponse({"error": "temporarily unavailable"}, status_code=503)
    return JSONResponse(result)
