"""Reconciliation against the Stripe stub: what a lost webhook left wrong is healed, through the operator CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from core.billing import checkout
from core.billing.entitlements import account_status
from core.config import get_settings
from core.models import Subscription, User
from tests.conftest import free_port
from tests.utils.builders import create_random_user

ROOT = Path(__file__).resolve().parents[3]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "core.manage", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_a_cancellation_whose_webhook_was_lost_is_healed_and_a_dry_run_changes_nothing(session, stripe_stub,
                                                                                      client_post):
    user = create_random_user(session)
    url = checkout.start_checkout(session, user_id=user.id)
    cs = stripe_stub.complete_checkout(url.rsplit("/", 1)[-1], subscription_id="sub_lost")
    assert client_post("evt_paid", "checkout.session.completed", cs).json()["result"] == "subscribed"
    session.expire_all()
    assert session.get(User, user.id).plan == "premium"

    stripe_stub.cancel("sub_lost")  # cancelled at Stripe; its customer.subscription.deleted never arrives

    dry = manage("reconcile-billing", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would change: subscription sub_lost of user {user.id}: active -> canceled" in dry.stdout
    assert f"would change: user {user.id}: plan premium -> free" in dry.stdout
    assert "nothing was changed (dry run)" in dry.stdout
    session.expire_all()
    assert session.get(User, user.id).plan == "premium"
    assert session.exec(select(Subscription)).one().status == "active"

    real = manage("reconcile-billing")
    assert real.returncode == 0, real.stderr
    assert [line for line in real.stdout.splitlines() if line.startswith("changed: ")] == [
        f"changed: subscription sub_lost of user {user.id}: active -> canceled",
        f"changed: user {user.id}: plan premium -> free"]
    session.expire_all()
    sub = session.exec(select(Subscription)).one()
    assert sub.status == "canceled" and sub.ended_at is not None  # the retention clock runs from here
    assert session.get(User, user.id).plan == "free"

    again = manage("reconcile-billing")
    assert again.returncode == 0 and "changed:" not in again.stdout


def test_a_checkout_whose_webhooks_were_all_lost_is_found(session, stripe_stub):
    user = create_random_user(session)
    url = checkout.start_checkout(session, user_id=user.id)
    stripe_stub.complete_checkout(url.rsplit("/", 1)[-1], subscription_id="sub_found")
    real = manage("reconcile-billing")
    assert real.returncode == 0, real.stderr
    assert f"changed: subscription sub_found of user {user.id}: recorded, active" in real.stdout
    session.expire_all()
    assert session.get(User, user.id).plan == "premium"


def test_stripe_unreachable_exits_3_and_changes_nothing(session, stripe_stub):
    user = create_random_user(session)
    user.stripe_customer_id = "cus_somebody"
    session.add(user)
    session.commit()
    result = manage("reconcile-billing", STRIPE_API_BASE=f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 2  # the log line, the error
    assert result.stderr.splitlines()[-1] == "error: Stripe could not be reached. It will be retried."
    unconfigured = manage("reconcile-billing", STRIPE_API_BASE="", STRIPE_SECRET_KEY="sk_test_placeholder")
    assert unconfigured.returncode == 2 and "STRIPE_SECRET_KEY" in unconfigured.stderr


def test_the_hourly_maintenance_reconciles(session, stripe_stub):
    from jobs.maintenance import hourly

    user = create_random_user(session)
    url = checkout.start_checkout(session, user_id=user.id)
    stripe_stub.complete_checkout(url.rsplit("/", 1)[-1], subscription_id="sub_hourly")
    result = hourly()
    assert result["billing"] == {"customers": 1, "changes": 2, "dry_run": False}  # recorded, and premium
    session.expire_all()
    assert session.get(User, user.id).plan == "premium"


def _premium_through_checkout(session, stripe_stub, client_post, sub_id: str) -> User:
    user = create_random_user(session)
    url = checkout.start_checkout(session, user_id=user.id)
    cs = stripe_stub.complete_checkout(url.rsplit("/", 1)[-1], subscription_id=sub_id)
    assert client_post(f"evt_{sub_id}", "checkout.session.completed", cs).json()["result"] == "subscribed"
    session.expire_all()
    assert session.get(User, user.id).plan == "premium"
    return user


def test_a_subscription_stripe_no_longer_knows_ends(session, stripe_stub, client_post):
    """The customer was deleted in Stripe's dashboard and every webhook about it was lost."""
    user = _premium_through_checkout(session, stripe_stub, client_post, "sub_vanished")
    customer = stripe_stub.subscriptions.pop("sub_vanished")["customer"]
    stripe_stub.deleted.add(customer)  # its list is now Stripe's 404; the subscription's own GET too

    real = manage("reconcile-billing")
    assert real.returncode == 0, real.stderr
    assert f"changed: subscription sub_vanished of user {user.id}: active -> canceled" in real.stdout
    assert f"changed: user {user.id}: plan premium -> free" in real.stdout
    assert ("GET", "/v1/subscriptions/sub_vanished") in [(m, p.split("?")[0]) for m, p in stripe_stub.requests]
    session.expire_all()
    sub = session.exec(select(Subscription)).one()
    assert sub.status == "canceled" and sub.ended_at is not None
    assert session.get(User, user.id).plan == "free"


def test_a_canceled_subscription_missing_from_its_customers_list_ends(session, stripe_stub, client_post):
    user = _premium_through_checkout(session, stripe_stub, client_post, "sub_unlisted")
    stripe_stub.cancel("sub_unlisted")
    stripe_stub.deleted.add(stripe_stub.subscriptions["sub_unlisted"]["customer"])  # the list answers 404

    real = manage("reconcile-billing")
    assert real.returncode == 0, real.stderr
    assert f"changed: subscription sub_unlisted of user {user.id}: active -> canceled" in real.stdout
    session.expire_all()
    assert session.get(User, user.id).plan == "free"


def _failed_at(stripe_stub, sub_id: str, days_ago: float) -> datetime:
    """Stripe holds the subscription past due since its latest invoice's payment failed ``days_ago``."""
    failed = int(time.time() - days_ago * 86400)
    stripe_stub.invoices[f"in_{sub_id}"] = {"id": f"in_{sub_id}", "object": "invoice", "status": "open",
                                            "created": failed - 3600, "attempted": True,
                                            "status_transitions": {"finalized_at": failed}}
    stripe_stub.subscriptions[sub_id].update(status="past_due", latest_invoice=f"in_{sub_id}")
    return datetime.fromtimestamp(failed, UTC)


def test_past_due_grace_counts_from_the_failure_stripe_reports(session, stripe_stub, client_post):
    """Every webhook about the failed payment was lost: the reconcile must not grant a fresh grace period."""
    grace = timedelta(days=get_settings().past_due_grace_days)
    late = _premium_through_checkout(session, stripe_stub, client_post, "sub_late")
    over = _premium_through_checkout(session, stripe_stub, client_post, "sub_over")
    late_failed = _failed_at(stripe_stub, "sub_late", days_ago=grace.days - 1)
    over_failed = _failed_at(stripe_stub, "sub_over", days_ago=grace.days + 1)

    real = manage("reconcile-billing")
    assert real.returncode == 0, real.stderr
    session.expire_all()
    subs = {s.stripe_subscription_id: s for s in session.exec(select(Subscription)).all()}
    assert subs["sub_late"].past_due_since == late_failed
    assert account_status(session, user=session.get(User, late.id)).ends_on == late_failed + grace
    assert session.get(User, late.id).plan == "premium"
    # The other's grace ran out a day ago, while nobody knew: it ended then, not a week from now.
    assert subs["sub_over"].ended_at == over_failed + grace
    assert session.get(User, over.id).plan == "free"
    assert f"changed: user {over.id}: plan premium -> free" in real.stdout
