"""Plan changes mail the user through the outbox, in the account's language: premium began, a cancellation
is scheduled, premium ended (by Stripe's webhook, a failed payment's grace running out, or an admin)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlmodel import select

from core.accounts import auth
from core.admin import actions
from core.billing import entitlements
from core.i18n import translate
from core.models import OutboxMessage, Subscription, utcnow
from tests.utils.builders import PASSWORD, create_random_user


def _mails(session, user) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.exec(select(OutboxMessage).where(OutboxMessage.user_id == user.id)
                             .where(OutboxMessage.kind.startswith("plan_")).order_by(OutboxMessage.id)))


def _sub(sub_id: str, customer: str, status: str, **extra):  # type: ignore[no-untyped-def]
    end = int(time.time()) + 30 * 86400
    return {"id": sub_id, "object": "subscription", "customer": customer, "status": status,
            "items": {"data": [{"current_period_end": end}]}, **extra}


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_upgrade_cancellation_and_end_each_send_one_mail_in_the_users_language(session, client_post, lang):
    user = auth.create_user(session, email=f"plan-{lang}@example.org", password=PASSWORD, locale=lang)
    session.commit()
    r = client_post("evt_paid", "checkout.session.completed", {
        "id": "cs_1", "object": "checkout.session", "client_reference_id": str(user.id), "customer": "cus_P",
        "subscription": "sub_P"})
    assert r.json()["result"] == "subscribed"
    client_post("evt_upd", "customer.subscription.updated", _sub("sub_P", "cus_P", "active"))
    [welcome] = _mails(session, user)
    assert (welcome.kind, welcome.to_address) == ("plan_premium", user.email)
    assert welcome.subject == translate("Welcome to Vorm premium", lang)
    assert translate("Hello {name},", lang, name=user.email) in welcome.body

    # Cancelled in Stripe's portal: premium until the period's end, and one mail saying so (not one per event).
    for event_id in ("evt_cancel", "evt_cancel_again"):
        client_post(event_id, "customer.subscription.updated", _sub("sub_P", "cus_P", "active",
                                                                    cancel_at_period_end=True))
    kinds = [m.kind for m in _mails(session, user)]
    assert kinds == ["plan_premium", "plan_cancellation"]
    notice = _mails(session, user)[-1]
    assert notice.subject == translate("Your Vorm premium subscription is cancelled", lang)
    assert ("Je houdt premium tot" if lang == "nl" else "You keep premium until") in notice.body

    client_post("evt_end", "customer.subscription.deleted", _sub("sub_P", "cus_P", "canceled",
                                                                 ended_at=int(time.time()) - 60))
    ended = _mails(session, user)[-1]
    assert [m.kind for m in _mails(session, user)] == ["plan_premium", "plan_cancellation", "plan_ended"]
    assert ended.subject == translate("Your Vorm premium plan has ended", lang)
    assert ("bewaren we tot" if lang == "nl" else "are kept until") in ended.body


def test_the_end_of_a_failed_payments_grace_and_an_admins_change_send_the_mail_too(session):
    user = create_random_user(session, plan="premium")
    admin = create_random_user(session, role="admin")
    session.add(Subscription(user_id=user.id, stripe_customer_id="cus_G", stripe_subscription_id="sub_G",
                             status="past_due", past_due_since=utcnow() - timedelta(days=30)))
    session.commit()
    entitlements.expire_grace(session)
    session.commit()
    assert [m.kind for m in _mails(session, user)] == ["plan_ended"]

    actions.set_plan(session, admin=admin, user_id=user.id, plan="premium", reason="goodwill")
    actions.set_plan(session, admin=admin, user_id=user.id, plan="premium", reason="again")  # no change, no mail
    assert [m.kind for m in _mails(session, user)] == ["plan_ended", "plan_premium"]
