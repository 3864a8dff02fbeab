"""Reconciliation: heal what a lost or failed webhook left wrong, from Stripe's current state.

For every Stripe customer we know (on an account or a subscription) the subscriptions Stripe holds
now are read and applied as the webhook applies Stripe's current copy. A local subscription that
still entitles but that no list named (its customer was deleted in Stripe's dashboard, and the
deletion webhook was lost) is fetched by its id: a 404 or a canceled one ends it. Then past-due
subscriptions whose grace ran out end; the grace counts from the failed payment as Stripe reports
it (the latest invoice), not from when we first heard of it. Each change is described in one line.
The hourly maintenance runs it (one worker in the fleet); operators run
``python -m core.manage reconcile-billing [--dry-run]``.

Stripe is read first, outside any transaction, so no database lock waits on it; if it cannot be
read completely, nothing is applied (``BillingUnavailable``). A dry run applies everything in a
transaction and rolls it back, so it reports exactly what a real run would change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from core.audit import audit
from core.billing import entitlements
from core.billing.client import (
    ACTIVE_STATUSES,
    StripeNotConfigured,
    WebhookRejected,
    list_subscriptions,
    retrieve_subscription,
    stripe_configured,
)
from core.billing.events import Event, SubscriptionState, subscription_state, user_ref
from core.billing.subscriptions import Mismatch, account_of, apply_state
from core.db import get_session
from core.models import Subscription, User, utcnow

log = logging.getLogger(__name__)


@dataclass
class Report:
    changes: list[str] = field(default_factory=list)
    customers: int = 0
    dry_run: bool = False

    def summary(self) -> dict[str, Any]:
        return {"customers": self.customers, "changes": len(self.changes), "dry_run": self.dry_run}


def known_customers(session: Session) -> list[str]:
    on_users = session.exec(select(User.stripe_customer_id).where(col(User.stripe_customer_id).is_not(None))).all()
    on_subs = session.exec(select(Subscription.stripe_customer_id)).all()
    return sorted({c for c in (*on_users, *on_subs) if c})


def _snapshot(session: Session) -> tuple[dict[str, tuple[int, str, bool]], dict[int, str]]:
    session.flush()
    subs = {s.stripe_subscription_id: (s.user_id, s.status, entitlements.entitles(s))
            for s in session.exec(select(Subscription).execution_options(populate_existing=True)).all()}
    plans = {int(u.id or 0): u.plan for u in session.exec(select(User).execution_options(populate_existing=True))}
    return subs, plans


def _describe(before: tuple[dict[str, tuple[int, str, bool]], dict[int, str]],
              after: tuple[dict[str, tuple[int, str, bool]], dict[int, str]]) -> list[str]:
    lines = []
    for sub_id, (uid, status, entitled) in sorted(after[0].items()):
        old = before[0].get(sub_id)
        if old is None:
            lines.append(f"subscription {sub_id} of user {uid}: recorded, {status}")
        elif old[1] != status:
            lines.append(f"subscription {sub_id} of user {uid}: {old[1]} -> {status}")
        elif old[2] and not entitled:
            lines.append(f"subscription {sub_id} of user {uid}: payment grace over, no longer premium")
    for uid, plan in sorted(after[1].items()):
        if uid in before[1] and before[1][uid] != plan:
            lines.append(f"user {uid}: plan {before[1][uid]} -> {plan}")
    return lines


def entitling_subscriptions(session: Session) -> list[str]:
    """The Stripe ids of our subscriptions that entitle to premium now."""
    return list(session.exec(select(Subscription.stripe_subscription_id)
                             .where(col(Subscription.status).in_(ACTIVE_STATUSES))
                             .where(col(Subscription.ended_at).is_(None))).all())


def _apply_copy(session: Session, event: Event, report: Report, data: dict[str, Any]) -> None:
    """Apply Stripe's current copy of one subscription, as the webhook would."""
    try:
        state = subscription_state(data)
    except WebhookRejected as exc:
        log.warning("reconcile: Stripe's subscription %.64r is not usable (%s)", data.get("id"), exc.reason)
        return
    try:
        user = account_of(session, customer=state.customer, user_ref=user_ref({"metadata": data.get("metadata")}))
        if user is None:
            return
        apply_state(session, event, user, state, current=True)  # raises Mismatch before any write
    except Mismatch as exc:
        report.changes.append(f"subscription {state.id} of customer {state.customer}: skipped ({exc})")


def _end_unknown(session: Session, event: Event, sub_id: str) -> None:
    """Stripe answers 404 for a subscription we hold: it went with its customer; it ends now."""
    sub = session.exec(select(Subscription).where(Subscription.stripe_subscription_id == sub_id)).first()
    user = session.get(User, sub.user_id) if sub is not None else None
    if sub is None or user is None:
        return
    log.warning("reconcile: Stripe no longer knows subscription %s of user %s; it ends", sub_id, sub.user_id)
    state = SubscriptionState(sub.stripe_subscription_id, sub.stripe_customer_id, "canceled", None, None,
                              sub.stripe_price_id, False)
    apply_state(session, event, user, state, current=True)


def reconcile(*, dry_run: bool = False, now: datetime | None = None) -> Report:
    """Bring subscriptions and plans in line with Stripe. StripeNotConfigured without Stripe;
    BillingUnavailable (nothing changed) when Stripe cannot be read."""
    if not stripe_configured():
        raise StripeNotConfigured()
    now = now or utcnow()
    report = Report(dry_run=dry_run)
    with get_session() as session:
        customers = known_customers(session)
        entitling = entitling_subscriptions(session)
    held = {customer: list_subscriptions(customer) for customer in customers}
    listed = {data.get("id") for subs in held.values() for data in subs}
    # What no list named is asked for by its id (a deleted customer's list is a 404 or empty).
    unlisted = {sub_id: retrieve_subscription(sub_id) for sub_id in entitling if sub_id not in listed}
    report.customers = len(customers)
    event = Event(id=f"reconcile-{now.isoformat()}", type="reconcile", created=now)
    with get_session() as session:
        before = _snapshot(session)
        for subs in held.values():
            for data in subs:
                _apply_copy(session, event, report, data)
        for sub_id, copy in unlisted.items():
            if copy is None:
                _end_unknown(session, event, sub_id)
            else:
                _apply_copy(session, event, report, copy)
        entitlements.expire_grace(session, now=now)
        report.changes[:0] = _describe(before, _snapshot(session))
        if dry_run:
            session.rollback()
        else:
            if report.changes:
                audit(session, "billing.reconciled", changes=len(report.changes), customers=len(customers))
            session.commit()
    for line in report.changes:
        log.info("reconcile%s: %s", " (dry run)" if dry_run else "", line)
    return report
