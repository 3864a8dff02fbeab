"""Reconciliation against the Stripe stub: what a lost webhook left wrong is healed, through the operator CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import select

from core.billing import checkout
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
