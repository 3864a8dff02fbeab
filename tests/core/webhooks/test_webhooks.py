"""Outgoing webhooks against a real local receiver: signatures, retries, disabling, SSRF, rotation, privacy."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from sqlmodel import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from core.jobs import queue
from core.models import JobStatus, OutboxMessage, WebhookDelivery, WebhookEndpoint, utcnow
from core.webhooks import endpoints, outbox, ssrf
from tests.utils.builders import create_random_user


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://169.254.169.254/latest/meta-data/",
                                 "http://localhost/x", "http://10.1.2.3/x", "http://[::1]/x", "http://192.168.0.2/",
                                 "http://[::ffff:127.0.0.1]/x", "http://100.64.0.1/", "http://0.0.0.0/"])
def test_private_loopback_link_local_and_metadata_addresses_are_refused_by_default(db, url):
    with pytest.raises(ssrf.WebhookUrlRefused) as refused:
        ssrf.check_url(url)
    assert refused.value.code == "webhook_url_refused"


@pytest.mark.parametrize("url", ["ftp://example.org/", "http://user:pw@8.8.8.8/", "not a url", "https:///path"])
def test_other_bad_urls_are_refused(db, url):
    with pytest.raises(ssrf.WebhookUrlRefused):
        ssrf.check_url(url)


def test_the_setting_allows_private_receivers_but_never_the_metadata_service(db, allow_private):
    assert ssrf.check_url("http://127.0.0.1:8080/h").address == "127.0.0.1"
    with pytest.raises(ssrf.WebhookUrlRefused):
        ssrf.check_url("http://169.254.169.254/latest/")


def test_registration_refuses_loopback_and_metadata_with_the_setting_off(session):
    user = create_random_user(session)
    for url in ("http://127.0.0.1:8000/hook", "http://169.254.169.254/"):
        with pytest.raises(ssrf.WebhookUrlRefused):
            endpoints.create_endpoint(session, user=user, url=url, event_types=["job.succeeded"])
    assert session.exec(select(WebhookEndpoint)).all() == []


def test_delivery_rechecks_the_address_and_refuses_when_it_turned_private(session, receiver, allow_private,
                                                                           monkeypatch):
    from core.config import reset_settings

    user = create_random_user(session)
    endpoint = endpoints.create_endpoint(session, user=user, url=receiver.url, event_types=["webhook.test"])
    outbox.send_test(session, user_id=user.id, endpoint_id=endpoint.id)
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE", "0")  # as if the name now resolved to a private address
    reset_settings()
    assert outbox.deliver_due(session) == {"delivered": 0, "failed": 1}
    assert receiver.received == []
    delivery = session.exec(select(WebhookDelivery)).one()
    assert "private" in (delivery.last_error or "") and delivery.status == "pending"


def test_the_connection_goes_to_the_checked_address_not_a_fresh_lookup(receiver):
    """DNS rebinding: the host name is only sent as Host; the socket goes to the address checked."""
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    target = ssrf.Target(scheme="http", host="rebound.invalid", port=port, path="/p", address="127.0.0.1")
    status, body = ssrf.post(target, b"{}", {"content-type": "application/json"}, timeout=3, max_response_bytes=2)
    assert status == 200 and body == b"ok"[:2]
    assert receiver.received[0].headers["host"].startswith("rebound.invalid")


def test_a_test_event_is_delivered_signed_and_verifies_with_standardwebhooks(session, receiver, allow_private):
    user = create_random_user(session)
    endpoint = endpoints.create_endpoint(session, user=user, url=receiver.url, event_types=["webhook.test"])
    assert endpoint.secret.startswith("whsec_")
    outbox.send_test(session, user_id=user.id, endpoint_id=endpoint.id)
    assert outbox.deliver_due(session) == {"delivered": 1, "failed": 0}
    got = receiver.received[0]
    assert got.path == "/hooks/vorm"
    payload = Webhook(endpoint.secret).verify(got.body, got.headers)
    assert payload["type"] == "webhook.test" and payload["data"] == {"endpoint_id": endpoint.id}
    assert got.headers["webhook-signature"].startswith("v1,")
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoints.new_secret()).verify(got.body, got.headers)
    delivery = session.exec(select(WebhookDelivery)).one()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_job_ends_become_one_delivery_each_however_often_collected(session, receiver, allow_private):
    user = create_random_user(session)
    endpoint = endpoints.create_endpoint(session, user=user, url=receiver.url,
                                         event_types=["job.succeeded", "job.failed", "job.canceled"])
    ok = queue.insert_job(session, user_id=user.id, upload_ids=[])
    ok.status, ok.finished_at, ok.model_id = JobStatus.SUCCEEDED, utcnow(), 42
    bad = queue.insert_job(session, user_id=user.id, upload_ids=[])
    bad.status, bad.finished_at, bad.error_code = JobStatus.FAILED, utcnow(), "no_foreground"
    session.commit()
    queued = queue.insert_job(session, user_id=user.id, upload_ids=[])
    session.commit()
    queue.cancel_job(session, job_id=queued.id, user_id=user.id)
    assert outbox.collect_job_events(session) == 3
    assert outbox.collect_job_events(session) == 0
    outbox.deliver_due(session)
    events = {json.loads(r.body)["type"]: json.loads(r.body)["data"] for r in receiver.received}
    assert events["job.succeeded"]["model_id"] == 42 and events["job.canceled"]["status"] == "canceled"
    assert events["job.failed"]["error"]["code"] == "no_foreground" and events["job.failed"]["error"]["message"]
    for r in receiver.received:
        Webhook(endpoint.secret).verify(r.body, r.headers)


def test_model_deleted_is_announced_in_the_deleting_transaction(session, receiver, allow_private):
    from core.content import library
    from tests.core.privacy.conftest import add_model

    user = create_random_user(session)
    endpoints.create_endpoint(session, user=user, url=receiver.url, event_types=["model.deleted"])
    model = add_model(session, user)
    library.delete_model(session, user_id=user.id, model_id=model.id)
    outbox.deliver_due(session)
    assert json.loads(receiver.received[0].body)["data"]["id"] == model.id


def test_failures_back_off_for_about_a_day_then_the_endpoint_is_disabled_and_its_owner_mailed(
        session, receiver, allow_private):
    user = create_random_user(session)
    endpoint = endpoints.create_endpoint(session, user=user, url=receiver.url, event_types=["webhook.test"])
    outbox.send_test(session, user_id=user.id, endpoint_id=endpoint.id)
    receiver.status, receiver.answer = 500, b"x" * 5000
    now = utcnow()
    waited = []
    for _ in range(outbox.MAX_ATTEMPTS):
        assert outbox.deliver_due(session, now=now)["failed"] == 1
        delivery = session.exec(select(WebhookDelivery)).one()
        session.refresh(delivery)
        if delivery.next_attempt_at is None:
            break
        waited.append((delivery.next_attempt_at - now).total_seconds())
        assert outbox.deliver_due(session, now=now + timedelta(seconds=1))["failed"] == 0  # not due yet
        now = delivery.next_attempt_at
    assert waited == sorted(waited) and 20 * 3600 < sum(waited) < 30 * 3600  # about a day, growing
    assert delivery.status == "failed" and delivery.attempts == outbox.MAX_ATTEMPTS
    assert len(delivery.response_body or "") <= outbox.MAX_RESPONSE_BYTES and delivery.last_status_code == 500
    session.refresh(endpoint)
    assert not endpoint.enabled and endpoint.disabled_reason
    mail = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "webhook_disabled")).one()
    assert mail.to_address == user.email and receiver.url in mail.body
    assert len(receiver.received) == outbox.MAX_ATTEMPTS
    # The owner fixes the receiver, turns the endpoint on and resends: the same message id arrives.
    receiver.status = 200
    endpoints.enable_endpoint(session, user_id=user.id, endpoint_id=endpoint.id)
    again = outbox.resend(session, user_id=user.id, delivery_id=delivery.id)
    outbox.deliver_due(session)
    assert receiver.received[-1].headers["webhook-id"] == delivery.message_id == again.message_id


def test_during_a_rotation_deliveries_carry_both_signatures(session, receiver, allow_private):
    user = create_random_user(session)
    endpoint = endpoints.create_endpoint(session, user=user, url=receiver.url, event_types=["webhook.test"])
    old = endpoint.secret
    new = endpoints.rotate_secret(session, user_id=user.id, endpoint_id=endpoint.id).secret
    assert new != old
    outbox.send_test(session, user_id=user.id, endpoint_id=endpoint.id)
    outbox.deliver_due(session)
    got = receiver.received[0]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(got.body, got.headers)
    Webhook(new).verify(got.body, got.headers)


def test_endpoints_and_deliveries_are_in_the_export_without_secrets_and_gone_after_erasure(session, allow_private):
    from core.api import keys
    from core.models import ApiKey
    from core.privacy import erasure, exports

    user = create_random_user(session)
    key = keys.create_key(session, user=user, name="ci").secret
    endpoint = endpoints.create_endpoint(session, user=user, url="http://127.0.0.1:1/h", event_types=["webhook.test"])
    outbox.send_test(session, user_id=user.id, endpoint_id=endpoint.id)
    buf = io.BytesIO()
    exports.write_export(session, user_id=user.id, out=buf)
    with zipfile.ZipFile(buf) as zf:
        everything = zf.read("data/all.json").decode()
        data = json.loads(everything)
    assert data["webhook_endpoint"][0]["url"] == "http://127.0.0.1:1/h" and len(data["webhook_delivery"]) == 1
    assert data["api_key"][0]["name"] == "ci"
    assert endpoint.secret not in everything and key not in everything and keys.hash_key(key) not in everything
    session.close()
    erasure.erase_user(user.id)
    for model in (ApiKey, WebhookEndpoint, WebhookDelivery):
        assert session.exec(select(model)).all() == []
