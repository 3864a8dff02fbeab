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

Handled: ``checkout.session.completed`` (the subscription bought; our open checkout session is
closed), ``customer.subscription.created/updated/deleted``, ``invoice.paid`` (an invoice record;
Stripe's current state ends a past-due spell) and ``invoice.payment_failed`` (past due: premium for
the grace period, see ``core.billing.entitlements``). Parsing lives in ``core.billing.events``,
applying a subscription's state in ``core.billing.subscriptions``.
"""

from __future__ import annotations

import json
import logging
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from core.audit import audit
from core.billing.client import (
    BillingNotConfigured,
    RequestTooLarge,
    WebhookRejected,
    fetch_subscription,
    webhook_secret,
)
from core.billing.events import (
    EVENT_TYPE_CHARS,
    STRIPE_ID_CHARS,
    Change,
    Checkout,
    Event,
    InvoicePaid,
    PaymentFailed,
    SubscriptionChange,
    SubscriptionState,
    parse_event,
    subscription_state,
    verify_signature,
)
from core.billing.subscriptions import Mismatch, account_of, apply_state
from core.db import get_session
from core.errors import TransientError, VormError
from core.models import CheckoutSession, InvoiceRecord, Subscription, User, WebhookEvent, utcnow

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Stripe's events are a few kB; this bounds what one request can make us hold
APPLY_ATTEMPTS = 3  # two events creating one subscription at once: the loser retries and finds it


def _apply(session: Session, event: Event, change: Change, current: SubscriptionState | None) -> str:
    if isinstance(change, Checkout):
        customer = current.customer if current is not None else change.customer
        user = account_of(session, customer=customer, user_ref=change.user_ref)
        if user is None:
            return "unknown_user"
        if not change.subscription_id:
            return "no_subscription"
        state = current or SubscriptionState(change.subscription_id, customer, "active", None, None)
        result = apply_state(session, event, user, state, current=current is not None, only_if_new=current is None)
        if change.session_id:  # the next "Upgrade" must not reuse this session
            session.execute(sa.update(CheckoutSession).values(status="complete")
                            .where(col(CheckoutSession.stripe_session_id) == change.session_id)
                            .where(col(CheckoutSession.user_id) == user.id))
        return "stale" if result == "stale" else "subscribed"
    if isinstance(change, SubscriptionChange):
        state = current or change.state
        user = account_of(session, customer=state.customer, user_ref=change.user_ref)
        if user is None:
            return "unknown_user"
        return apply_state(session, event, user, state, current=current is not None)
    if isinstance(change, InvoicePaid):
        if session.exec(select(InvoiceRecord.id).where(InvoiceRecord.stripe_invoice_id == change.id)).first():
            return "known"
        # Bookkeeping only: it binds nothing, so the customer's owner wins and a hint is used only without one.
        try:
            user = account_of(session, customer=change.customer, user_ref=change.user_ref)
        except Mismatch:
            user = account_of(session, customer=change.customer, user_ref=None)
        session.add(InvoiceRecord(user_id=user.id if user else None, stripe_invoice_id=change.id,
                                  amount_cents=change.amount_cents, currency=change.currency,
                                  created_at=change.created or utcnow()))
        if user is not None and current is not None and _known(session, current.id, user):
            apply_state(session, event, user, current, current=True)  # a paid invoice ends a past-due spell
        return "recorded"
    if isinstance(change, PaymentFailed):
        sub = session.exec(select(Subscription).where(Subscription.stripe_subscription_id == change.subscription_id)
                           ).first() if change.subscription_id else None
        if sub is None:
            return "unknown_subscription"
        user = account_of(session, customer=sub.stripe_customer_id, user_ref=None)
        if user is None:
            return "unknown_user"
        if current is not None:
            return apply_state(session, event, user, current, current=True)
        if sub.status not in ("active", "trialing", "past_due"):
            return "ignored"
        # Stripe cannot be asked: a failed payment makes an active subscription past due.
        state = SubscriptionState(sub.stripe_subscription_id, sub.stripe_customer_id, "past_due", None, None,
                                  sub.stripe_price_id, sub.cancel_at_period_end)
        return apply_state(session, event, user, state, current=False)
    return "ignored"


def _known(session: Session, subscription_id: str, user: User) -> bool:
    sub = session.exec(select(Subscription).where(Subscription.stripe_subscription_id == subscription_id)).first()
    return sub is not None and sub.user_id == user.id


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
    if isinstance(change, Checkout | InvoicePaid | PaymentFailed):
        sub_id = change.subscription_id
    else:
        sub_id = change.state.id if isinstance(change, SubscriptionChange) else ""
    if not sub_id:
        return None
    data = fetch_subscription(sub_id)
    if data is None:
        return None
    try:
        state = subscription_state(data)
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
    # Escaped: a rejected id may hold what the audit log cannot (a NUL, a lone surrogate, a line break).
    shown = ascii(event_id[:STRIPE_ID_CHARS + 1])[1:-1]
    return shown if len(shown) <= STRIPE_ID_CHARS else shown[:STRIPE_ID_CHARS] + "…"


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
                except Mismatch as exc:
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
    if declared.isascii() and declared.isdigit() and int(declared) > limit_bytes:
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
