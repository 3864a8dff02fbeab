"""The outbox delivered over SMTP to a real local server (aiosmtpd)."""

from datetime import timedelta

from sqlmodel import select

from core.db import get_session
from core.mail import deliver_pending, enqueue_mail
from core.models import OutboxMessage, utcnow


def test_outbox_is_delivered_over_smtp_once(db, smtp_server):
    with get_session() as s:
        enqueue_mail(s, to="ada@example.org", subject="Your export is ready", body="Download: https://x/y",
                     kind="export_ready")
        enqueue_mail(s, to="bob@example.org", subject="Policy update", body="Version 2", kind="policy_notice")
        s.commit()
        assert deliver_pending(s) == {"sent": 2, "failed": 0}
        assert deliver_pending(s) == {"sent": 0, "failed": 0}  # nothing is sent twice
        rows = s.exec(select(OutboxMessage)).all()
    assert {r.status for r in rows} == {"sent"} and all(r.sent_at for r in rows)
    assert sorted(e.rcpt_tos[0] for e in smtp_server) == ["ada@example.org", "bob@example.org"]
    raw = next(e for e in smtp_server if e.rcpt_tos == ["ada@example.org"]).content.decode()
    assert "Subject: Your export is ready" in raw and "Download: https://x/y" in raw


def test_unreachable_smtp_keeps_mail_pending(db, monkeypatch):
    from core.config import reset_settings
    from tests.conftest import free_port

    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(free_port()))  # nothing listens there
    reset_settings()
    with get_session() as s:
        enqueue_mail(s, to="ada@example.org", subject="s", body="b", kind="k")
        s.commit()
        assert deliver_pending(s)["sent"] == 0
        assert s.exec(select(OutboxMessage)).one().status == "pending"


def test_mail_waits_for_its_retry_time(db, smtp_server):
    with get_session() as s:
        msg = enqueue_mail(s, to="ada@example.org", subject="s", body="b", kind="k")
        msg.next_attempt_at = utcnow() + timedelta(minutes=5)
        s.commit()
        assert deliver_pending(s)["sent"] == 0
    assert smtp_server == []
