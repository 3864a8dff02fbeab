"""What a subscription entitles to, and the account's billing state as the Account page shows it.

- ``active`` and ``trialing`` subscriptions are premium.
- ``past_due`` (a payment failed; Stripe retries it) stays premium for ``PAST_DUE_GRACE_DAYS`` from the
  first failure, with a banner and an email asking to update the payment details. When the grace
  runs out, the entitlement ends there: ``Subscription.ended_at`` is set to the grace's end, the plan
  is free and the retention clock starts (content goes ``RETENTION_DAYS`` after that end).
- Any other state has ended; ``ended_at`` says when.

So a subscription entitles to premium exactly while its status is one of ``ACTIVE_STATUSES`` and its
``ended_at`` is empty: the plan (``refresh_plan``) and retention read the same rule.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from core.audit import audit
from core.billing import notices
from core.billing.client import ACTIVE_STATUSES
from core.config import get_settings, public_url
from core.i18n import format_date, translate
from core.mail import enqueue_mail
from core.models import Plan, Subscription, User, utcnow

log = logging.getLogger(__name__)


class BillingState(enum.StrEnum):
    FREE = "free"  #: Never subscribed, or the end lies so far back that nothing is kept for it any more
    PREMIUM = "premium"  #: An active or trialing subscription (or premium granted by an operator)
    PAST_DUE = "past_due"  #: A payment failed: premium until the grace period ends
    ENDED = "ended"  #: The subscription ended: free, and its content is kept for RETENTION_DAYS after the end


def grace_ends_at(sub: Subscription) -> datetime | None:
    """When a past-due subscription stops being premium; None when it is not past due."""
    if sub.past_due_since is None:
        return None
    return sub.past_due_since + timedelta(days=get_settings().past_due_grace_days)


def entitles(sub: Subscription) -> bool:
    return sub.status in ACTIVE_STATUSES and sub.ended_at is None


def refresh_plan(session: Session, user: User) -> None:
    """Premium while any subscription entitles to it (``entitles``, in SQL); free otherwise."""
    session.flush()
    active = session.exec(
        select(Subscription.id).where(Subscription.user_id == user.id)
        .where(Subscription.status.in_(ACTIVE_STATUSES))  # type: ignore[attr-defined]
        .where(Subscription.ended_at.is_(None))  # type: ignore[union-attr]
    ).first()
    plan = Plan.PREMIUM if active is not None else Plan.FREE
    if user.plan != plan:
        user.plan = plan
        user.updated_at = utcnow()
        session.add(user)
        audit(session, "billing.plan_changed", user_id=user.id, plan=str(plan))
        status = account_status(session, user=user)
        if plan == Plan.PREMIUM:
            notices.premium_started(session, user=user, renews_on=status.renews_on)
        else:
            notices.premium_ended(session, user=user, ended_at=status.ended_on)


def expire_grace(session: Session, *, now: datetime | None = None) -> list[tuple[Subscription, datetime]]:
    """End the entitlement of past-due subscriptions whose grace has run out, in the caller's transaction.

    Returns each subscription ended, with the grace's end (which becomes its ``ended_at``).
    """
    now = now or utcnow()
    cutoff = now - timedelta(days=get_settings().past_due_grace_days)
    due = session.exec(select(Subscription).where(Subscription.status == "past_due")
                       .where(col(Subscription.ended_at).is_(None))
                       .where(col(Subscription.past_due_since) <= cutoff).with_for_update()).all()
    ended = []
    for sub in due:
        end = grace_ends_at(sub)
        if end is None:
            continue
        sub.ended_at, sub.updated_at = end, now
        session.add(sub)
        user = session.get(User, sub.user_id)
        if user is not None:
            refresh_plan(session, user)
        log.info("subscription %s: the payment grace ended at %s; user %s is free", sub.stripe_subscription_id,
                 end.isoformat(), sub.user_id)
        ended.append((sub, end))
    return ended


def mail_payment_failed(session: Session, *, user: User, sub: Subscription) -> None:
    """Ask the user, through the outbox, to update the payment details before the grace runs out."""
    end = grace_ends_at(sub)
    lang = user.locale
    enqueue_mail(
        session, to=user.email, user_id=user.id, kind="payment_failed",
        subject=translate("Your Vorm payment failed", lang),
        body=translate("Hello {name},\n\nWe could not take the payment for your Vorm premium subscription. Please "
                       "update your payment details before {date}; after that your account goes back to the free "
                       "plan.\n\nUpdate them here: {link}\n\nVorm", lang, name=user.name or user.email,
                       date=format_date(end, lang) if end else "", link=f"{public_url()}/account"))


@dataclass(frozen=True)
class AccountStatus:
    """The billing side of the Account page."""

    state: BillingState
    subscription: Subscription | None  # the one the state is about
    renews_on: datetime | None = None  # premium, renewing then
    ends_on: datetime | None = None  # premium until then: cancelled at the period's end, or past due
    ended_on: datetime | None = None  # ended then
    kept_until: datetime | None = None  # ended: content kept until at least then (the retention notice)


def account_status(session: Session, *, user: User, now: datetime | None = None) -> AccountStatus:
    now = now or utcnow()
    subs = list(session.exec(select(Subscription).where(Subscription.user_id == user.id)
                             .order_by(col(Subscription.created_at).desc(), col(Subscription.id).desc())).all())
    for sub in subs:
        if not entitles(sub):
            continue
        if sub.status == "past_due":
            return AccountStatus(BillingState.PAST_DUE, sub, ends_on=grace_ends_at(sub))
        if sub.cancel_at_period_end:
            return AccountStatus(BillingState.PREMIUM, sub, ends_on=sub.current_period_end)
        return AccountStatus(BillingState.PREMIUM, sub, renews_on=sub.current_period_end)
    if user.plan == Plan.PREMIUM:  # granted by an operator, without a subscription
        return AccountStatus(BillingState.PREMIUM, None)
    ended = [s for s in subs if s.ended_at is not None]
    if ended:
        last = max(ended, key=lambda s: s.ended_at or now)
        kept = (last.ended_at or now) + timedelta(days=get_settings().retention_days)
        if kept > now:
            return AccountStatus(BillingState.ENDED, last, ended_on=last.ended_at, kept_until=kept)
    return AccountStatus(BillingState.FREE, None)
