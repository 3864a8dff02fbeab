"""Buying premium (a Stripe Checkout Session) and managing it (a Stripe Billing Portal session).

Both hand back a URL on Stripe that the browser is sent to; card details are typed there, never here.

A double click (or two tabs) must make one Checkout Session, so ``start_checkout`` takes the
account's row lock first (a no-op UPDATE: a row lock on PostgreSQL, the write lock on SQLite) and
reuses an open session of ours made within ``CHECKOUT_REUSE_MINUTES``. The lock is held across the
Stripe calls on purpose: the second click waits for the first one's session and gets its URL.

When Stripe cannot do it (down, slow, refusing our key, not set up) the user gets
``PaymentsUnavailable`` and nothing is written: the customer id and the session row are stored
only together, after Stripe made both. A customer made at Stripe by a try that failed later is
found again by its idempotency key on the next try instead of being made twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.audit import audit, user_actor
from core.billing import entitlements
from core.billing.client import PaymentsUnavailable, get_client, stripe_configured
from core.config import get_settings, public_url
from core.errors import NotFound, ValidationError
from core.models import CheckoutSession, Subscription, User, utcnow

log = logging.getLogger(__name__)

CHECKOUT_REUSE_MINUTES = 10  # an open session of ours younger than this is handed out again
CHECKOUT_EXPIRES_MINUTES = 31  # asked of Stripe (its minimum is 30): an abandoned session dies soon
#: Stripe subscription states in which a customer already pays, or is about to.
SUBSCRIBED_AT_STRIPE = frozenset({"active", "trialing", "past_due", "incomplete"})


class AlreadySubscribed(ValidationError):
    """You already have a premium subscription. Use "Manage subscription" to change or cancel it."""

    code = "already_subscribed"


class NoSubscription(ValidationError):
    """There is no subscription to manage yet."""

    code = "no_subscription"


def success_url() -> str:
    return f"{public_url()}/account?checkout=success"


def cancel_url() -> str:
    return f"{public_url()}/account?checkout=cancelled"


def _unavailable(what: str, exc: Exception) -> PaymentsUnavailable:
    log.error("Stripe could not %s (%s: %s)", what, type(exc).__name__, " ".join(str(exc).split())[:300])
    return PaymentsUnavailable()


def _require_stripe() -> None:
    if not stripe_configured():
        log.error("Payments were asked for, but Stripe is not configured: set STRIPE_SECRET_KEY")
        raise PaymentsUnavailable()


def _lock_account(session: Session, user_id: int) -> User:
    # Serialises one account's checkouts (see the module's docstring).
    session.execute(sa.update(User).where(col(User.id) == user_id).values(updated_at=col(User.updated_at))
                    .execution_options(synchronize_session=False))
    user = session.get(User, user_id, populate_existing=True)
    if user is None:
        raise NotFound()
    return user


def _subscribed_here(session: Session, user: User) -> bool:
    subs = session.exec(select(Subscription).where(Subscription.user_id == user.id)).all()
    return any(entitlements.entitles(s) for s in subs)


def _subscribed_at_stripe(client: Any, customer: str) -> bool:
    """Whether Stripe holds a live subscription for the customer (paid, its webhook maybe still on its way)."""
    import stripe

    try:
        live = client.v1.subscriptions.list(params={"customer": customer, "status": "all", "limit": 20})
    except stripe.InvalidRequestError as exc:
        if getattr(exc, "http_status", None) in (400, 404):  # a customer Stripe no longer knows has none
            return False
        raise
    return any(s.to_dict().get("status") in SUBSCRIBED_AT_STRIPE for s in live.data)


def _customer(client: Any, user: User) -> tuple[str, bool]:
    """The user's Stripe customer: the stored one while Stripe still has it, else a new one with the user's email.

    Returns (customer id, whether it is new).
    """
    import stripe

    if user.stripe_customer_id:
        try:
            found = client.v1.customers.retrieve(user.stripe_customer_id)
            if not getattr(found, "deleted", False):
                return user.stripe_customer_id, False
        except stripe.InvalidRequestError as exc:
            if getattr(exc, "http_status", None) != 404:
                raise
        log.warning("Stripe no longer knows customer %s of user %s; making a new one", user.stripe_customer_id,
                    user.id)
    made = client.v1.customers.create(
        params={"email": user.email, "metadata": {"user_id": str(user.id)}},
        options={"idempotency_key": f"vorm-customer-{user.id}-{user.stripe_customer_id or 'first'}"})
    return str(made.id), True


def start_checkout(session: Session, *, user_id: int) -> str:
    """The URL of a Checkout Session for premium: an open one of ours, or a new one. Commits.

    AlreadySubscribed for a subscriber (here, or at Stripe while its webhook is on its way);
    PaymentsUnavailable when Stripe cannot be used, with nothing written.
    """
    import stripe

    _require_stripe()
    settings = get_settings()
    user = _lock_account(session, user_id)
    if _subscribed_here(session, user):
        session.rollback()
        raise AlreadySubscribed()
    now = utcnow()
    client = get_client()
    try:
        if user.stripe_customer_id and _subscribed_at_stripe(client, user.stripe_customer_id):
            session.rollback()
            log.info("checkout for user %s refused: Stripe has a live subscription (webhook on its way?)", user.id)
            raise AlreadySubscribed()
        reusable = session.exec(
            select(CheckoutSession).where(CheckoutSession.user_id == user.id)
            .where(CheckoutSession.status == "open")
            .where(CheckoutSession.created_at > now - timedelta(minutes=CHECKOUT_REUSE_MINUTES))
            .where(CheckoutSession.expires_at > now + timedelta(minutes=5))
            .order_by(col(CheckoutSession.id).desc())).first()
        if reusable is not None:
            url = reusable.url
            session.rollback()  # releases the lock; nothing was written
            log.info("checkout for user %s: reusing %s", user.id, reusable.stripe_session_id)
            return url
        customer, _new = _customer(client, user)
        expires = now + timedelta(minutes=CHECKOUT_EXPIRES_MINUTES)
        created = client.v1.checkout.sessions.create(params={
            "mode": "subscription",
            "line_items": [{"price": settings.stripe_price_id, "quantity": 1}],
            "customer": customer,
            "client_reference_id": str(user.id),
            "metadata": {"user_id": str(user.id)},
            "subscription_data": {"metadata": {"user_id": str(user.id)}},
            "success_url": success_url(),
            "cancel_url": cancel_url(),
            "expires_at": int(expires.timestamp()),
        }, options={"max_network_retries": 0})
    except stripe.StripeError as exc:
        session.rollback()
        raise _unavailable(f"start a checkout for user {user.id}", exc) from exc
    url = str(created.url or "")
    if not url.startswith(("https://", "http://")):
        session.rollback()
        raise _unavailable(f"start a checkout for user {user.id}", ValueError(f"no usable URL: {url[:80]!r}"))
    user.stripe_customer_id = customer
    session.add(user)
    session.add(CheckoutSession(user_id=int(user.id or 0), stripe_session_id=str(created.id), url=url,
                                expires_at=expires))
    audit(session, "billing.checkout_started", user_id=user.id, actor=user_actor(user.id))
    session.commit()
    return url


def open_portal(session: Session, *, user_id: int) -> str:
    """The URL of a Billing Portal session (cancel, change card, invoices). Writes nothing."""
    import stripe

    _require_stripe()
    user = session.get(User, user_id)
    if user is None:
        raise NotFound()
    if not user.stripe_customer_id:
        raise NoSubscription()
    try:
        portal = get_client().v1.billing_portal.sessions.create(
            params={"customer": user.stripe_customer_id, "return_url": f"{public_url()}/account"},
            options={"max_network_retries": 0})
    except stripe.StripeError as exc:
        raise _unavailable(f"open the billing portal for user {user.id}", exc) from exc
    url = str(portal.url or "")
    if not url.startswith(("https://", "http://")):
        raise _unavailable(f"open the billing portal for user {user.id}", ValueError("no usable URL"))
    return url
