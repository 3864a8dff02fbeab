"""Retention with time travel: free 30 days; premium while subscribed, then 30 days; IPs truncated at 30 days."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from core.manage import main
from core.models import AccessEvent, AuditLog, Model3D, Subscription, Upload, utcnow
from core.privacy import maintenance, retention
from core.storage import get_storage
from tests.core.privacy.conftest import add_model, add_upload
from tests.utils.builders import create_random_user


def _ids(session, model, user_id):
    session.expire_all()
    return sorted(r.id for r in session.exec(select(model).where(model.user_id == user_id)))


def test_free_content_goes_after_30_days_and_a_dry_run_deletes_nothing(session, capsys):
    now = utcnow()
    user = create_random_user(session)
    old_model = add_model(session, user, created_at=now - timedelta(days=31))
    young_model = add_model(session, user, created_at=now - timedelta(days=29))
    old_upload = add_upload(session, user, created_at=now - timedelta(days=31))
    young_upload = add_upload(session, user, created_at=now - timedelta(days=29))
    storage = get_storage()
    before = sorted(storage.list(f"users/{user.id}/"))

    assert main(["purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Would delete 1 models and 1 uploads (5 storage objects) of 1 users" in out
    assert sorted(storage.list(f"users/{user.id}/")) == before
    assert _ids(session, Model3D, user.id) == [old_model.id, young_model.id]
    assert session.exec(select(AuditLog).where(AuditLog.action == "retention.purge")).all() == []

    assert main(["purge"]) == 0
    assert "Deleted 1 models and 1 uploads" in capsys.readouterr().out
    assert _ids(session, Model3D, user.id) == [young_model.id]
    assert _ids(session, Upload, user.id) == [young_upload.id]
    assert not any(storage.list(old_model.storage_prefix)) and not storage.exists(old_upload.storage_key)
    assert storage.exists(young_model.glb_key) and storage.exists(young_upload.storage_key)
    record = session.exec(select(AuditLog).where(AuditLog.action == "retention.purge")).one()
    assert record.details["models"] == 1 and record.details["uploads"] == 1 and record.details["objects"] == 5

    # Two days later the young ones have turned 31 too.
    assert main(["purge", "--now", (now + timedelta(days=2)).date().isoformat()]) == 0
    assert _ids(session, Model3D, user.id) == [] and _ids(session, Upload, user.id) == []
    assert list(storage.list(f"users/{user.id}/")) == []


def test_premium_content_stays_while_subscribed_and_goes_30_days_after_the_end(session):
    now = utcnow()
    user = create_random_user(session, plan="premium")
    sub = Subscription(user_id=user.id, stripe_customer_id="cus_1", stripe_subscription_id="sub_1", status="active")
    session.add(sub)
    session.commit()
    model = add_model(session, user, created_at=now - timedelta(days=400))
    assert retention.purge_date(session, user=user, created_at=model.created_at) is None

    retention.purge_expired(session, now=now + timedelta(days=100))
    assert _ids(session, Model3D, user.id) == [model.id]  # active: kept however old

    end = now + timedelta(days=10)
    sub.status, sub.ended_at = "canceled", end
    user.plan = "free"
    session.add_all([sub, user])
    session.commit()
    assert retention.purge_date(session, user=user, created_at=model.created_at) == end + timedelta(days=30)
    retention.purge_expired(session, now=end + timedelta(days=29))
    assert _ids(session, Model3D, user.id) == [model.id]
    retention.purge_expired(session, now=end + timedelta(days=31))
    assert _ids(session, Model3D, user.id) == []


def test_operator_granted_premium_without_subscription_is_kept(session):
    now = utcnow()
    user = create_random_user(session, plan="premium")
    model = add_model(session, user, created_at=now - timedelta(days=90))
    free = create_random_user(session)
    free_model = add_model(session, free, created_at=now - timedelta(days=90))
    assert retention.purge_date(session, user=free, created_at=free_model.created_at) == (
        free_model.created_at + timedelta(days=30))
    result = retention.purge_expired(session, now=now)
    assert (result.models, _ids(session, Model3D, user.id), _ids(session, Model3D, free.id)) == (1, [model.id], [])


@pytest.mark.parametrize(
    ("ip", "truncated"),
    [("203.0.113.77", "203.0.113.0"), ("2001:db8:abcd:12:34::1", "2001:db8:abcd::"),
     ("::ffff:198.51.100.9", "198.51.100.0"), ("not-an-ip", None)],
)
def test_truncate_ip(ip, truncated):
    assert retention.truncate_ip(ip) == truncated


def test_ips_are_truncated_after_30_days_and_events_deleted_after_180(session):
    now = utcnow()
    user = create_random_user(session)
    rows = {
        "young": AccessEvent(user_id=user.id, kind="login", ip="203.0.113.77", user_agent="UA",
                             created_at=now - timedelta(days=29)),
        "old4": AccessEvent(user_id=user.id, kind="login", ip="203.0.113.77", user_agent="UA",
                            created_at=now - timedelta(days=31)),
        "old6": AccessEvent(user_id=user.id, kind="upload", ip="2001:db8:abcd:12::1", user_agent="UA",
                            created_at=now - timedelta(days=60)),
        "ancient": AccessEvent(user_id=user.id, kind="login", ip="203.0.113.77",
                               created_at=now - timedelta(days=181)),
    }
    session.add_all(rows.values())
    session.commit()
    ids = {k: v.id for k, v in rows.items()}
    result = maintenance.daily_maintenance(now)
    assert result["errors"] == {}
    assert result["access_log"] == {"ips_truncated": 2, "access_events_deleted": 1}
    session.expire_all()
    got = {k: session.get(AccessEvent, i) for k, i in ids.items()}
    assert (got["young"].ip, got["young"].ip_truncated) == ("203.0.113.77", False)
    assert (got["old4"].ip, got["old4"].ip_truncated) == ("203.0.113.0", True)
    assert got["old6"].ip == "2001:db8:abcd::" and got["old6"].user_agent == "UA"
    assert got["ancient"] is None
    assert maintenance.daily_maintenance(now)["access_log"] == {"ips_truncated": 0, "access_events_deleted": 0}
