"""Reconciliation: heal what a lost or failed webhook left wrong, from Stripe's current state.

For every Stripe customer we know (on an account or a subscription) the subscriptions Stripe holds
now are read and applied as the webhook applies Stripe's current copy; then past-due subscriptions
whose grace ran out end. Each change is described in one line. The hourly maintenance runs it (one
worker in the fleet); operators run ``python -m core.manage reconcile-billing [--dry-run]``.

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
from core.billing.client import StripeNotConfigured, WebhookRejected, list_subscriptions, stripe_configured
from core.billing.events import Event, subscription_state
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


def reconcile(*, dry_run: bool = False, now: datetime | None = None) -> Report:
    """Bring subscriptions and plans in line with Stripe. StripeNotConfigured without Stripe;
    BillingUnavailable (nothing changed) when Stripe cannot be read."""
    if not stripe_configured():
        raise StripeNotConfigured()
    now = now or utcnow()
    report = Report(dry_run=dry_run)
    with get_session() as session:
        customers = known_customers(session)
    held = {customer: list_subscriptions(customer) for customer in customers}
    report.customers = len(customers)
    event = Event(id=f"reconcile-{now.isoformat()}", type="reconcile", created=now)
    with get_session() as session:
        before = _snapshot(session)
        for customer, subs in held.items():
            for data in subs:
                try:
                    state = subscription_state(data)
                except WebhookRejected as exc:
                    log.warning("reconcile: Stripe's subscription of %s is not usable (%s)", customer, exc.reason)
                    continue
                metadata = data.get("metadata")
                hint = metadata.get("user_id") if isinstance(metadata, dict) else None
                try:
                    user = account_of(session, customer=state.customer,
                                      user_ref=int(hint) if isinstance(hint, str) and hint.isdigit() else None)
                except Mismatch as exc:
                    report.changes.append(f"subscription {state.id} of customer {customer}: skipped ({exc})")
                    continue
                if user is None:
                    continue
                try:
                    apply_state(session, event, user, state, current=True)  # raises Mismatch before any write
                except Mismatch as exc:
                    report.changes.append(f"subscription {state.id} of customer {customer}: skipped ({exc})")
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
