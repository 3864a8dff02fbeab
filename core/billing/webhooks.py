"""The Stripe webhook that keeps plans in step.

Anyone can POST to the webhook's URL, and Stripe itself delivers events late, twice, concurrently
and out of order. So, in this order:

1. Without a real signing secret every event is refused (503): a placeholder secret is public.
2. A body over ``MAX_BODY_BYTES`` is refused (413) from its Content-Length, or while it streams in
   when chunked, so no request can make the process hold more than that.
3. The signature is verified over the raw body; its timestamp may be at most
   ``WEBHOOK_TOLERANCE_SECONDS`` old, or ahead.
4. The payload is validated into one typed change. A signed but malformed payload is refused (400)
   with its reason, logged and written to the audit log (only Stripe can sign, so this cannot flood it).
5. A subscription's state is fetched from Stripe and applied, rather than the event's copy. When
   Stripe cannot be asked, the event's copy is applied unless a newer event about the subscription
   was applied already (``Subscription.last_event_at``). A canceled subscription never comes back:
   Stripe makes a new one instead.
6. The event id is claimed first, in the transaction that applies the event (INSERT ... ON CONFLICT
   DO NOTHING): concurrent deliveries of one event wait for the first, which alone applies it.
7. An event may not bind a Stripe customer to an account that has another one, or move a customer
   or subscription between accounts (an erasure would delete the other person's customer): it is
   acknowledged as "ignored", audited, and changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from core.audit import audit
from core.billing.client import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    WEBHOOK_TOLERANCE_SECONDS,
    BillingNotConfigured,
    RequestTooLarge,
    WebhookRejected,
    fetch_subscription,
    webhook_secret,
)
from core.db import get_session
from core.errors import TransientError, VormError
from core.models import InvoiceRecord, Plan, Subscription, User, WebhookEvent, utcnow

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Stripe's events are a few kB; this bounds what one request can make us hold
EVENT_ID_CHARS = 255  # webhook_event.id
EVENT_TYPE_CHARS = 64  # webhook_event.type
STRIPE_ID_CHARS = 64  # the Stripe ids we store: subscription, customer, invoice
STATUS_CHARS = 32  # subscription.status
CURRENCY_CHARS = 8  # invoice_record.currency
MAX_TIMESTAMP = 253402300799  # 9999-12-31 in Unix seconds: anything later is not a time
APPLY_ATTEMPTS = 3  # two events creating one subscription at once: the loser retries and finds it


# --- what an event says, validated -----------------------------------------------------------


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    created: datetime  # Stripe's time of the event: orders events about one subscription


@dataclass(frozen=True)
class SubscriptionState:
    id: str
    customer: str
    status: str
    period_end: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class Checkout:
    user_ref: int | None
    customer: str
    subscription_id: str


@dataclass(frozen=True)
class SubscriptionChange:
    user_ref: int | None
    state: SubscriptionState  # the event's own copy


@dataclass(frozen=True)
class InvoicePaid:
    user_ref: int | None
    id: str
    customer: str
    amount_cents: int
    currency: str
    created: datetime | None


Change = Checkout | SubscriptionChange | InvoicePaid | None


def _rejected(message: str, reason: str) -> WebhookRejected:
    return WebhookRejected(message, reason=reason)


def _timestamp(value: Any, name: str) -> datetime | None:
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_TIMESTAMP:
        raise _rejected(f"The field {name} is not a Unix timestamp.", f"bad_{name}")
    return datetime.fromtimestamp(value, tz=UTC)


def _stripe_id(obj: dict[str, Any], key: str, *, required: bool) -> str:
    value = obj.get(key)
    if isinstance(value, dict):  # an expanded object
        value = value.get("id")
    if value is None or value == "":
        if required:
            raise _rejected(f"The event's object has no {key}.", f"missing_{key}")
        return ""
    if not isinstance(value, str) or len(value) > STRIPE_ID_CHARS:
        raise _rejected(f"The field {key} is not a Stripe id of at most {STRIPE_ID_CHARS} characters.", f"bad_{key}")
    return value


def _user_ref(obj: dict[str, Any]) -> int | None:
    """The account our checkout named (client_reference_id, or metadata.user_id); a hint, checked later."""
    metadata = obj.get("metadata")
    ref = obj.get("client_reference_id") or (metadata.get("user_id") if isinstance(metadata, dict) else None)
    if isinstance(ref, int) and not isinstance(ref, bool) and ref > 0:
        return ref
    if isinstance(ref, str) and ref.isdigit() and len(ref) <= 18:
        return int(ref)
    return None


def _period_end(obj: dict[str, Any]) -> datetime | None:
    end = obj.get("current_period_end")
    if end is None:  # newer API versions keep it on the subscription items
        items = obj.get("items")
        data = items.get("data") if isinstance(items, dict) else None
        first = data[0] if isinstance(data, list) and data else None
        end = first.get("current_period_end") if isinstance(first, dict) else None
    return _timestamp(end, "current_period_end")


def _subscription_state(obj: dict[str, Any], *, deleted: bool = False) -> SubscriptionState:
    status = "canceled" if deleted else obj.get("status")
    if not isinstance(status, str) or not status or len(status) > STATUS_CHARS:
        raise _rejected("The subscription's status is not valid.", "bad_status")
    return SubscriptionState(id=_stripe_id(obj, "id", required=True),
                             customer=_stripe_id(obj, "customer", required=True), status=status,
                             period_end=_period_end(obj), ended_at=_timestamp(obj.get("ended_at"), "ended_at"))


def _invoice(obj: dict[str, Any]) -> InvoicePaid:
    amount = obj.get("amount_paid") or 0
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise _rejected("The invoice's amount_paid is not a whole number of cents.", "bad_amount_paid")
    currency = obj.get("currency") or "eur"
    if not isinstance(currency, str) or len(currency) > CURRENCY_CHARS:
        raise _rejected("The invoice's currency is not valid.", "bad_currency")
    return InvoicePaid(user_ref=_user_ref(obj), id=_stripe_id(obj, "id", required=True),
                       customer=_stripe_id(obj, "customer", required=False), amount_cents=amount,
                       currency=currency, created=_timestamp(obj.get("created"), "created"))


HANDLED_TYPES = frozenset({"checkout.session.completed", "customer.subscription.created",
                           "customer.subscription.updated", "customer.subscription.deleted", "invoice.paid"})


def parse_event(payload: bytes) -> tuple[Event, Change]:
    """The event and the change it asks for (None: a type we do not handle). Raises WebhookRejected."""
    try:
        data = json.loads(payload)
    except ValueError:  # UnicodeDecodeError too
        raise _rejected("The webhook payload is not valid JSON.", "not_json") from None
    if not isinstance(data, dict):
        raise _rejected("The webhook payload is not a JSON object.", "not_an_object")
    event_id, event_type = data.get("id"), data.get("type")
    if not isinstance(event_id, str) or not event_id:
        raise _rejected("The webhook event has no id.", "missing_event_id")
    if len(event_id) > EVENT_ID_CHARS:
        raise _rejected(f"The webhook event's id is longer than {EVENT_ID_CHARS} characters.", "bad_event_id")
    if not isinstance(event_type, str) or not event_type:
        raise _rejected("The webhook event has no type.", "missing_type")
    event = Event(id=event_id, type=event_type, created=_timestamp(data.get("created"), "created") or utcnow())
    if event_type not in HANDLED_TYPES:
        return event, None
    body = data.get("data")
    obj = body.get("object") if isinstance(body, dict) else None
    if not isinstance(obj, dict):
        raise _rejected("The webhook event has no data.object.", "bad_object")
    if event_type == "checkout.session.completed":
        return event, Checkout(user_ref=_user_ref(obj), customer=_stripe_id(obj, "customer", required=False),
                               subscription_id=_stripe_id(obj, "subscription", required=False))
    if event_type == "invoice.paid":
        return event, _invoice(obj)
    state = _subscription_state(obj, deleted=event_type == "customer.subscription.deleted")
    return event, SubscriptionChange(user_ref=_user_ref(obj), state=state)


def verify_signature(payload: bytes, header: str, secret: str, *, now: float | None = None) -> None:
    """Stripe's scheme: ``t=TIMESTAMP,v1=HEX`` with v1 = HMAC-SHA256(secret, "TIMESTAMP." + raw body)."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise _rejected("The webhook signature is missing or malformed.", "bad_signature_header")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest().encode()
    if not any(hmac.compare_digest(expected, sig.encode()) for sig in signatures):
        raise _rejected("The webhook signature is not valid.", "bad_signature")
    now = time.time() if now is None else now
    if timestamp < now - WEBHOOK_TOLERANCE_SECONDS:
        raise _rejected("The webhook signature is too old (a replay?).", "signature_expired")
    if timestamp > now + WEBHOOK_TOLERANCE_SECONDS:
        raise _rejected("The webhook signature's timestamp lies in the future.", "signature_in_future")


# --- applying it -------------------------------------------------------------------------------------


class _Mismatch(Exception):
    """The event's hints name different accounts; nothing may change."""

    def __init__(self, user_id: int | None, detail: str) -> None:
        super().__init__(detail)
        self.user_id = user_id


def _account(session: Session, *, customer: str, user_ref: int | None) -> User | None:
    """The account a Stripe object belongs to: the customer's owner, else the account our checkout named.

    Raises _Mismatch when the named account has another customer, or the customer belongs to another account.
    """
    named = session.get(User, user_ref) if user_ref is not None else None
    owner = None
    if customer:
        owner = session.exec(select(User).where(User.stripe_customer_id == customer)).first()
        if owner is None:
            sub = session.exec(select(Subscription).where(Subscription.stripe_customer_id == customer)).first()
            owner = session.get(User, sub.user_id) if sub is not None else None
    if named is not None:
        if owner is not None and owner.id != named.id:
            raise _Mismatch(named.id, "the customer belongs to another account")
        if owner is None and customer and named.stripe_customer_id and named.stripe_customer_id != customer:
            raise _Mismatch(named.id, "the account has another Stripe customer")
    return owner or named


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


def _apply_state(session: Session, event: Event, user: User, state: SubscriptionState, *, current: bool,
                 only_if_new: bool = False) -> str:
    """Apply a subscription's state; "stale" when an older or impossible state would overwrite a newer one.

    ``current``: the state is Stripe's own, fetched now, so it wins over whatever events said before.
    ``only_if_new``: the event says only that the subscription exists (a checkout, Stripe not reachable).
    """
    # Locked, so that two events about one subscription are compared and applied one after the other.
    sub = session.exec(select(Subscription).where(Subscription.stripe_subscription_id == state.id)
                       .with_for_update()).first()
    if sub is not None and sub.user_id != user.id:
        raise _Mismatch(user.id, "the subscription belongs to another account")
    if sub is None:
        sub = Subscription(user_id=int(user.id or 0), stripe_customer_id=state.customer,
                           stripe_subscription_id=state.id)
    elif only_if_new:
        state = SubscriptionState(sub.stripe_subscription_id, sub.stripe_customer_id, sub.status, None, None)
    elif sub.status in FINAL_STATUSES and state.status not in FINAL_STATUSES:
        log.info("stripe webhook %s: subscription %s is %s for good; %s ignored", event.id, state.id, sub.status,
                 state.status)
        return "stale"
    elif not current and sub.last_event_at is not None and event.created < sub.last_event_at:
        log.info("stripe webhook %s: older than the last event applied to %s; ignored", event.id, state.id)
        return "stale"
    sub.status = state.status
    if state.period_end is not None:
        sub.current_period_end = state.period_end
    if state.status in ACTIVE_STATUSES:
        sub.ended_at = None
    elif sub.ended_at is None:
        # Retention counts 30 days from here for content kept under this subscription.
        sub.ended_at = state.ended_at or utcnow()
    if not only_if_new and (sub.last_event_at is None or event.created > sub.last_event_at):
        sub.last_event_at = event.created
    sub.updated_at = utcnow()
    session.add(sub)
    if state.customer and not user.stripe_customer_id:
        user.stripe_customer_id = state.customer
        session.add(user)
    _refresh_plan(session, user)
    return state.status


def _apply(session: Session, event: Event, change: Change, current: SubscriptionState | None) -> str:
    if isinstance(change, Checkout):
        customer = current.customer if current is not None else change.customer
        user = _account(session, customer=customer, user_ref=change.user_ref)
        if user is None:
            return "unknown_user"
        if not change.subscription_id:
            return "no_subscription"
        state = current or SubscriptionState(change.subscription_id, customer, "active", None, None)
        result = _apply_state(session, event, user, state, current=current is not None, only_if_new=current is None)
        return "stale" if result == "stale" else "subscribed"
    if isinstance(change, SubscriptionChange):
        state = current or change.state
        user = _account(session, customer=state.customer, user_ref=change.user_ref)
        if user is None:
            return "unknown_user"
        return _apply_state(session, event, user, state, current=current is not None)
    if isinstance(change, InvoicePaid):
        if session.exec(select(InvoiceRecord.id).where(InvoiceRecord.stripe_invoice_id == change.id)).first():
            return "known"
        # Bookkeeping only: it binds nothing, so the customer's owner wins and a hint is used only without one.
        try:
            user = _account(session, customer=change.customer, user_ref=change.user_ref)
        except _Mismatch:
            user = _account(session, customer=change.customer, user_ref=None)
        session.add(InvoiceRecord(user_id=user.id if user else None, stripe_invoice_id=change.id,
                                  amount_cents=change.amount_cents, currency=change.currency,
                                  created_at=change.created or utcnow()))
        return "recorded"
    return "ignored"


def _claim(session: Session, event: Event) -> bool:
    """Record the event id as the transaction's first write; False when another delivery has it already.

    A concurrent delivery of the same id waits here (PostgreSQL's unique index, SQLite's write lock)
    until the first one commits, then finds it, instead of failing with an IntegrityError.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    table = cast(sa.Table, WebhookEvent.__table__)  # type: ignore[attr-defined]
    row = insert(table).values(id=event.id, type=event.type[:EVENT_TYPE_CHARS], received_at=utcnow())
    return session.execute(row.on_conflict_do_nothing(index_elements=["id"]).returning(table.c.id)).first() is not None


def _already_handled(event_id: str) -> bool:
    with get_session() as session:
        return session.get(WebhookEvent, event_id) is not None


def _current_state(change: Change) -> SubscriptionState | None:
    """Stripe's current state of the subscription the change is about; None when it cannot be had."""
    sub_id = change.subscription_id if isinstance(change, Checkout) else (
        change.state.id if isinstance(change, SubscriptionChange) else "")
    if not sub_id:
        return None
    data = fetch_subscription(sub_id)
    if data is None:
        return None
    try:
        state = _subscription_state(data)
    except WebhookRejected as exc:
        log.warning("Stripe's copy of subscription %s is not usable (%s); applying the event's own copy", sub_id,
                    exc.reason)
        return None
    return state if state.id == sub_id else None


def _answer(event: Event, result: str, **extra: str) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "result": result, **extra}


def _event_id_of(payload: bytes) -> str | None:
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    event_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(event_id, str):
        return None
    return event_id if len(event_id) <= STRIPE_ID_CHARS else event_id[:STRIPE_ID_CHARS] + "…"


def _record_rejection(exc: WebhookRejected, payload: bytes) -> None:
    event_id = _event_id_of(payload)
    log.warning("stripe webhook %s rejected (%s): %s", event_id or "-", exc.reason, exc)
    try:
        with get_session() as session:
            audit(session, "billing.webhook_rejected", reason=exc.reason, event_id=event_id)
            session.commit()
    except sa.exc.SQLAlchemyError:
        log.exception("could not write the rejected stripe webhook to the audit log")


def handle_webhook(payload: bytes, sig_header: str) -> dict[str, Any]:
    """Verify and apply one Stripe event.

    Raises BillingNotConfigured without a real signing secret, WebhookRejected for a bad signature
    or payload, TransientError when the database keeps refusing.
    """
    secret = webhook_secret()
    if secret is None:
        raise BillingNotConfigured()
    try:
        verify_signature(payload, sig_header, secret)
    except WebhookRejected as exc:
        # Unsigned: logged, never written to the database, so nobody can flood the audit log.
        log.warning("stripe webhook rejected (%s): %s", exc.reason, exc)
        raise
    try:
        event, change = parse_event(payload)
    except WebhookRejected as exc:
        _record_rejection(exc, payload)
        raise
    if _already_handled(event.id):
        return _answer(event, "duplicate")
    # Asked before the transaction, so that no database lock waits on Stripe.
    current = _current_state(change)
    for _attempt in range(APPLY_ATTEMPTS):
        try:
            with get_session() as session:
                if not _claim(session, event):
                    return _answer(event, "duplicate")
                try:
                    result = _apply(session, event, change, current)
                except _Mismatch as exc:
                    session.rollback()
                    if not _claim(session, event):
                        return _answer(event, "duplicate")
                    audit(session, "billing.customer_mismatch", user_id=exc.user_id, event_id=event.id[:64],
                          detail=str(exc))
                    session.commit()
                    log.warning("stripe webhook %s %s ignored (customer_mismatch): %s", event.type, event.id, exc)
                    return _answer(event, "ignored", reason="customer_mismatch")
                session.commit()
        except IntegrityError:
            # Another event created the same subscription or invoice at the same moment; the next try sees it.
            log.info("stripe webhook %s raced another event; trying again", event.id)
            continue
        log.info("stripe webhook %s %s: %s", event.type, event.id, result)
        return _answer(event, result)
    raise TransientError("The Stripe event {event_id} could not be applied; Stripe will retry it.",
                         event_id=event.id[:64])


# --- the route ----------------------------------------------------------------------------------------


async def read_body(request: Request, *, limit_bytes: int) -> bytes:
    """The request body; RequestTooLarge as soon as it is known to exceed ``limit_bytes``, before reading it."""
    too_large = RequestTooLarge(limit_kb=limit_bytes // 1024)
    declared = request.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit_bytes:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():  # chunked bodies: counted as they arrive
        body += chunk
        if len(body) > limit_bytes:
            raise too_large
    return bytes(body)


def _refusal(exc: VormError, status_code: int) -> JSONResponse:
    return JSONResponse({"error": str(exc), "reason": getattr(exc, "reason", exc.code)}, status_code=status_code)


async def stripe_webhook(request: Request) -> Response:
    """POST /webhooks/stripe: 200 when handled (or a replay), 4xx when refused, 503 to make Stripe retry later."""
    if webhook_secret() is None:
        exc: VormError = BillingNotConfigured()
        log.error("stripe webhook refused (%s): %s Set STRIPE_WEBHOOK_SECRET to the endpoint's signing secret.",
                  exc.code, exc)
        return _refusal(exc, 503)
    try:
        payload = await read_body(request, limit_bytes=MAX_BODY_BYTES)
    except RequestTooLarge as too_large:
        log.warning("stripe webhook refused (%s): %s", too_large.code, too_large)
        return _refusal(too_large, 413)
    except ClientDisconnect:
        log.warning("stripe webhook: the client disconnected before its body was read")
        return Response(status_code=400)
    sig = request.headers.get("stripe-signature", "")
    try:
        result = await run_in_threadpool(handle_webhook, payload, sig)
    except BillingNotConfigured as not_configured:
        return _refusal(not_configured, 503)
    except WebhookRejected as rejected:
        return _refusal(rejected, 400)
    except (TransientError, sa.exc.OperationalError):
        # 5xx makes Stripe retry later with backoff.
        log.exception("stripe webhook failed")
        return JSONResponse({"error": "temporarily unavailable", "reason": "unavailable"}, status_code=503)
    return JSONResponse(result)
