"""Applying a subscription's state to our records: which account it belongs to, its status, the plan.

The webhook (``core.billing.webhooks``) applies what events say, or Stripe's current copy.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, select

from core.billing import entitlements, notices
from core.billing.client import ACTIVE_STATUSES, FINAL_STATUSES
from core.billing.events import Event, SubscriptionState
from core.models import Subscription, User, utcnow

log = logging.getLogger(__name__)


class Mismatch(Exception):
    """The event's hints name different accounts; nothing may change."""

    def __init__(self, user_id: int | None, detail: str) -> None:
        super().__init__(detail)
        self.user_id = user_id


def account_of(session: Session, *, customer: str, user_ref: int | None) -> User | None:
    """The account a Stripe object belongs to: the customer's owner, else the account our checkout named.

    Raises Mismatch when the named account has another customer, or the customer belongs to another account.
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
            raise Mismatch(named.id, "the customer belongs to another account")
        if owner is None and customer and named.stripe_customer_id and named.stripe_customer_id != customer:
            raise Mismatch(named.id, "the account has another Stripe customer")
    return owner or named


def apply_state(session: Session, event: Event, user: User, state: SubscriptionState, *, current: bool,
                only_if_new: bool = False) -> str:
    """Apply a subscription's state; "stale" when an older or impossible state would overwrite a newer one.

    ``current``: the state is Stripe's own, fetched now, so it wins over whatever events said before.
    ``only_if_new``: the event says only that the subscription exists (a checkout, Stripe not reachable).
    """
    # Locked, so that two events about one subscription are compared and applied one after the other.
    sub = session.exec(select(Subscription).where(Subscription.stripe_subscription_id == state.id)
                       .with_for_update()).first()
    if sub is not None and sub.user_id != user.id:
        raise Mismatch(user.id, "the subscription belongs to another account")
    if sub is None:
        sub = Subscription(user_id=int(user.id or 0), stripe_customer_id=state.customer,
                           stripe_subscription_id=state.id)
    elif only_if_new:
        state = SubscriptionState(sub.stripe_subscription_id, sub.stripe_customer_id, sub.status, None, None,
                                  sub.stripe_price_id, sub.cancel_at_period_end)
    elif sub.status in FINAL_STATUSES and state.status not in FINAL_STATUSES:
        log.info("stripe webhook %s: subscription %s is %s for good; %s ignored", event.id, state.id, sub.status,
                 state.status)
        return "stale"
    elif not current and sub.last_event_at is not None and event.created < sub.last_event_at:
        log.info("stripe webhook %s: older than the last event applied to %s; ignored", event.id, state.id)
        return "stale"
    entering_past_due = state.status == "past_due" and sub.past_due_since is None
    was_cancelling = bool(sub.cancel_at_period_end)
    sub.status = state.status
    if state.period_end is not None:
        sub.current_period_end = state.period_end
    if state.price_id:
        sub.stripe_price_id = state.price_id
    sub.cancel_at_period_end = state.cancel_at_period_end
    now = utcnow()
    if state.status == "past_due":
        # Premium for the grace period from the first failed payment; then the entitlement ends there.
        # The failure's own time when Stripe reports it: a reconcile after lost webhooks sees the spell
        # late, and must not start the grace again from then.
        sub.past_due_since = min(t for t in (sub.past_due_since, state.failed_at, min(event.created, now)) if t)
        grace_end = entitlements.grace_ends_at(sub)
        sub.ended_at = (sub.ended_at or grace_end) if grace_end is not None and grace_end <= now else None
    elif state.status in ACTIVE_STATUSES:
        sub.past_due_since = None
        sub.ended_at = None
    elif sub.ended_at is None:
        # Retention counts 30 days from here for content kept under this subscription.
        sub.ended_at = state.ended_at or now
    if not only_if_new and (sub.last_event_at is None or event.created > sub.last_event_at):
        sub.last_event_at = event.created
    sub.updated_at = now
    session.add(sub)
    if state.customer and not user.stripe_customer_id:
        user.stripe_customer_id = state.customer
        session.add(user)
    if entering_past_due and sub.ended_at is None:
        entitlements.mail_payment_failed(session, user=user, sub=sub)
    if sub.cancel_at_period_end and not was_cancelling and entitlements.entitles(sub):
        notices.cancellation_scheduled(session, user=user, ends_on=sub.current_period_end)
    entitlements.refresh_plan(session, user)
    return state.status
