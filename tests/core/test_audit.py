"""The audit log names who did a thing: a user's own actions are the user's, not "system"."""

from __future__ import annotations

import re

from sqlmodel import select

from core.accounts import auth
from core.billing import checkout
from core.content import library, uploads
from core.jobs import queue
from core.models import AuditLog, OutboxMessage
from core.privacy import announce, correction, erasure
from core.support import inbox, tickets
from tests.core.content.test_library import add_model
from tests.core.jobs.test_runner import disk_png
from tests.utils.builders import PASSWORD, create_random_user


def _actors(session, user_id: int) -> dict[str, str]:  # type: ignore[no-untyped-def]
    rows = session.exec(select(AuditLog).where(AuditLog.user_id == user_id).order_by(AuditLog.id)).all()
    return {row.action: row.actor for row in rows}


def test_a_users_own_actions_are_recorded_with_the_user_as_actor(session, stripe_stub):
    user = auth.register(session, email="ada@example.org", name="Ada", password=PASSWORD, accepted_policy=True)
    me = f"user:{user.id}"

    auth.change_password(session, user_id=user.id, old_password=PASSWORD, new_password="another-horse-43")
    correction.change_name(session, user=user, name="Ada L.")
    correction.request_email_change(session, user=user, new_email="ada@new.example", password="another-horse-43")
    mail = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "email_change")).one()
    correction.confirm_email_change(session, token=re.search(r"confirm_email=([\w-]+)", mail.body).group(1))

    model = add_model(session, user, "vase")
    library.rename_model(session, user_id=user.id, model_id=model.id, name="Vase")
    library.delete_model(session, user_id=user.id, model_id=model.id)
    second = add_model(session, user, "mug")
    erasure.delete_model(session, user=user, model_id=second.id)

    image = uploads.validate_upload(disk_png(), filename="disk.png", plan="free")
    job = uploads.submit_generation(session, user=user, images=[image], mode="inflate", options={})
    queue.cancel_job(session, job_id=job.id, user_id=user.id)

    checkout.start_checkout(session, user_id=user.id)
    ticket = tickets.create_ticket(session, user=user, email="", subject="Help", body="Please")
    inbox.answer(session, ticket_id=ticket.id, user=user, body="More detail")
    announce.acknowledge_policy(session, user=user)

    actors = _actors(session, user.id)
    expected = ["user.created", "user.password_changed", "user.name_changed", "user.email_change_requested",
                "user.email_changed", "model.renamed", "model.deleted", "job.enqueued", "job.cancelled",
                "billing.checkout_started", "support.ticket_created", "support.answered", "policy.acknowledged"]
    assert {action: actors.get(action) for action in expected} == dict.fromkeys(expected, me)


def test_a_job_the_operator_starts_for_a_user_is_the_operators(session):
    user = create_random_user(session)
    image = uploads.validate_upload(disk_png(), filename="disk.png", plan="free")
    job = uploads.submit_generation(session, user=user, images=[image], mode="inflate", options={},
                                    actor="operator")
    queue.cancel_job(session, job_id=job.id, user_id=None)
    actors = _actors(session, user.id)
    assert (actors["job.enqueued"], actors["job.cancelled"]) == ("operator", "operator")
