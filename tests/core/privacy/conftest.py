"""Fixtures for the privacy tests: a user with a row in every user table (the Stripe stub is tests/conftest.py's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session

from core.accounts import access, links, sessions
from core.api import keys as api_keys
from core.audit import audit
from core.mail import enqueue_mail
from core.models import (
    CheckoutSession,
    GenerationJob,
    IdempotencyRecord,
    InvoiceRecord,
    Model3D,
    PrivacyRequest,
    Subscription,
    SupportMessage,
    SupportTicket,
    Upload,
    User,
    WebhookEndpoint,
    utcnow,
)
from core.storage import get_storage
from core.webhooks import outbox
from tests.utils.builders import create_random_user

CLIENT = access.Client(ip="198.51.100.23", user_agent="pytest-browser/2.0")


@dataclass
class Content:
    user: User
    cookie: str
    upload_ids: list[int]
    model_ids: list[int]
    keys: list[str]


def add_upload(session: Session, user: User, *, created_at=None, name: str = "photo.png") -> Upload:
    up = Upload(user_id=user.id, storage_key="", filename=name, size_bytes=4, created_at=created_at or utcnow())
    session.add(up)
    session.flush()
    up.storage_key = f"users/{user.id}/uploads/{up.id}.png"
    get_storage().put(up.storage_key, b"\x89PNG-" + str(up.id).encode())
    session.add(up)
    session.commit()
    session.expunge(up)
    return up


def add_model(session: Session, user: User, *, created_at=None, name: str = "vase") -> Model3D:
    model = Model3D(user_id=user.id, name=name, storage_prefix="", glb_key="", created_at=created_at or utcnow())
    session.add(model)
    session.flush()
    prefix = f"users/{user.id}/models/{model.id}/"
    model.storage_prefix, model.glb_key, model.preview_key = prefix, prefix + "model.glb", prefix + "preview.json"
    model.thumbnail_keys = {"front": prefix + "thumb_front.png"}
    storage = get_storage()
    for key in (model.glb_key, model.preview_key, prefix + "thumb_front.png", prefix + "model.stl"):
        storage.put(key, f"{key} of model {model.id}".encode())
    session.add(model)
    session.commit()
    session.expunge(model)
    return model


def full_user(session: Session, *, customer: str = "cus_TEST123") -> Content:
    """A user with at least one row in every table of user_tables(), and storage objects."""
    user = create_random_user(session, plan="premium")  # user, policy_acceptance, audit_log
    user.stripe_customer_id = customer
    session.add(user)
    access.record_access(session, kind="login", client=CLIENT, user_id=user.id)  # access_event
    session.commit()
    cookie = sessions.create_session(session, user=user, client=CLIENT)  # auth_session
    up = add_upload(session, user)
    model = add_model(session, user)
    session.add(GenerationJob(user_id=user.id, name="vase", upload_ids=[up.id], model_id=model.id,
                              status="succeeded"))
    session.add(Subscription(user_id=user.id, stripe_customer_id=customer, stripe_subscription_id=f"sub_{user.id}"))
    session.add(InvoiceRecord(user_id=user.id, stripe_invoice_id=f"in_{user.id}", amount_cents=900))
    session.add(CheckoutSession(user_id=user.id, stripe_session_id=f"cs_{user.id}", url="https://checkout.example/x",
                                expires_at=utcnow() + timedelta(minutes=30)))
    links.issue_one_time_token(session, user_id=user.id, purpose="password_reset", minutes=60)  # one_time_token
    enqueue_mail(session, to=user.email, subject="Hi", body="Hello", kind="test", user_id=user.id)  # outbox
    now = utcnow()
    session.add(PrivacyRequest(user_id=user.id, kind="objection", details="stop", due_at=now + timedelta(days=30)))
    ticket = SupportTicket(user_id=user.id, email=user.email, subject="Help", body="My vase is lopsided")
    session.add(ticket)
    session.flush()
    session.add(SupportMessage(ticket_id=ticket.id, user_id=user.id, author="support", body="Try carve mode"))
    audit(session, "test.event", user_id=user.id)
    session.commit()
    api_keys.create_key(session, user=user, name="ci")  # api_key
    session.add(IdempotencyRecord(user_id=user.id, key="order-1", request_hash="0" * 64))  # idempotency_record
    endpoint = WebhookEndpoint(user_id=user.id, url="https://hooks.example.org/vorm", event_types=["job.succeeded"],
                               secret="whsec_dGVzdHNlY3JldA==")  # webhook_endpoint
    session.add(endpoint)
    session.flush()
    outbox.add_delivery(session, endpoint=endpoint, event_type="webhook.test", event_key="test.1",
                        data={"endpoint_id": endpoint.id})  # webhook_delivery
    session.commit()
    session.refresh(user)
    session.expunge(user)  # a detached snapshot: tests read its id and email after the row is gone
    storage = get_storage()
    keys = sorted(storage.list(f"users/{user.id}/"))
    return Content(user=user, cookie=cookie, upload_ids=[up.id], model_ids=[model.id], keys=keys)
