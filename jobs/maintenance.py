"""The worker's maintenance jobs: small functions that delegate to core.

Each takes no arguments and returns a JSON-able summary, which the worker records on
the maintenance slot (``core.jobs.fleet``). Heavy imports stay inside the functions,
so importing the worker stays cheap.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.db import get_session
from core.jobs import fleet


def daily() -> dict[str, Any]:
    """Retention purge, IP truncation, expired exports, tokens and sessions."""
    from core.privacy.maintenance import daily_maintenance

    return dict(daily_maintenance(datetime.now(UTC)) or {})


def hourly() -> dict[str, Any]:
    return {"outbox": deliver_outbox(), "billing": reconcile_billing()}


def reconcile_billing() -> dict[str, Any]:
    """Heal what lost webhooks left wrong, from Stripe's current state; end past-due grace periods.

    Runs in the hourly slot, so once per fleet. Without Stripe only the grace periods are ended.
    """
    from core.billing import entitlements
    from core.billing.client import stripe_configured
    from core.billing.reconcile import reconcile
    from core.errors import VormError

    if not stripe_configured():
        with get_session() as session:
            ended = entitlements.expire_grace(session)
            session.commit()
        return {"skipped": "stripe not configured", "grace_ended": len(ended)}
    try:
        return reconcile().summary()
    except VormError as exc:  # Stripe unreachable: the next hour tries again
        return {"error": exc.code}


def privacy_tick() -> None:
    """Build requested exports, finish pending erasures, publish new policy versions."""
    from core.privacy.maintenance import tick

    with fleet.singleton("privacy.tick") as mine:
        if mine:
            tick()


def deliver_outbox() -> dict[str, Any]:
    from core.mail import deliver_pending

    # Two workers delivering at once would send a mail twice.
    with fleet.singleton("outbox") as mine:
        if not mine:
            return {"skipped": "another worker is delivering"}
        with get_session() as session:
            return dict(deliver_pending(session))


def webhooks() -> dict[str, Any]:
    """Announce ended jobs to webhook endpoints and deliver what is due (core.webhooks.outbox)."""
    from core.webhooks import outbox

    with get_session() as session:
        return outbox.run_once(session)


def api_housekeeping() -> dict[str, Any]:
    """Drop finished rate-limit windows, old Idempotency-Keys and old webhook delivery logs."""
    from core.api import jobs as api_jobs
    from core.api import ratelimit
    from core.webhooks import outbox

    with get_session() as session:
        return {"rate_windows": ratelimit.purge_old_windows(session),
                "idempotency_keys": api_jobs.purge_old_keys(session), "deliveries": outbox.purge_old(session)}
