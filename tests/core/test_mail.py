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


def test_a_poisoned_row_is_marked_failed_and_every_other_message_is_delivered(db, smtp_server):
    """Old data (stored before subjects were checked) with a CR/LF in a header: it stops nothing (issue 17 §1)."""
    with get_session() as s:
        enqueue_mail(s, to="first@example.org", subject="Before", body="b", kind="k")
        # Inserted as old data would be: straight into the table, past every check.
        s.add(OutboxMessage(to_address="support@vorm.local", subject="Ticket #1: subject\r\nBcc: x@example.com",
                            body="b", kind="support_ticket"))
        s.add(OutboxMessage(to_address="evil\r\n@example.org", subject="To", body="b", kind="k"))
        s.commit()
        for i in range(3):
            enqueue_mail(s, to=f"after{i}@example.org", subject="Reset your password", body="link", kind="reset")
        s.commit()
        result = deliver_pending(s)
        assert result["sent"] == 4 and result["failed"] == 2
        rows = {r.to_address: r for r in s.exec(select(OutboxMessage)).all()}
        poisoned = [r for r in rows.values() if r.status == "failed"]
        assert {r.subject for r in poisoned} == {"Ticket #1: subject\r\nBcc: x@example.com", "To"}
        for row in poisoned:
            assert row.attempts == 1 and row.last_error and "\r" not in row.last_error and "\n" not in row.last_error
        assert "ValueError" in rows["support@vorm.local"].last_error
        # Nothing is tried again, and a later mail still goes.
        enqueue_mail(s, to="later@example.org", subject="Confirm", body="b", kind="k")
        s.commit()
        assert deliver_pending(s) == {"sent": 1, "failed": 0}
    got = sorted(e.rcpt_tos[0] for e in smtp_server)
    assert got == ["after0@example.org", "after1@example.org", "after2@example.org", "first@example.org",
                   "later@example.org"]
    assert not any(b"Bcc" in e.content or "x@example.com" in e.rcpt_tos for e in smtp_server)


def test_a_refused_message_backs_off_and_does_not_hold_up_others(db, monkeypatch):
    """A server that says 4xx to one recipient: that mail waits longer each time; fresh mail goes first."""
    from aiosmtpd.controller import Controller

    from core.mail import retry_delay_seconds
    from tests.conftest import _apply_env, free_port

    received: list[str] = []

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
            if address.startswith("stuck@"):
                return "451 try again later"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            received.extend(envelope.rcpt_tos)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        _apply_env(monkeypatch, SMTP_HOST="127.0.0.1", SMTP_PORT=str(port))
        with get_session() as s:
            stuck = enqueue_mail(s, to="stuck@example.org", subject="s", body="b", kind="k")
            s.commit()
            assert deliver_pending(s) == {"sent": 0, "failed": 0, "retried": 1}
            s.refresh(stuck)
            first_wait = (stuck.next_attempt_at - utcnow()).total_seconds()
            assert stuck.status == "pending" and stuck.attempts == 1 and "451" in stuck.last_error
            assert abs(first_wait - retry_delay_seconds(1)) < 30
            # Due again, together with newer mail: the newer ones go first, the stuck one backs off further.
            stuck.next_attempt_at = utcnow() - timedelta(seconds=1)
            s.add(stuck)
            enqueue_mail(s, to="fresh@example.org", subject="s", body="b", kind="k")
            s.commit()
            assert deliver_pending(s) == {"sent": 1, "failed": 0, "retried": 1}
            s.refresh(stuck)
            assert stuck.attempts == 2
            assert (stuck.next_attempt_at - utcnow()).total_seconds() > first_wait * 1.5
    finally:
        controller.stop()
    assert received == ["fresh@example.org"]


def test_without_smtp_each_mail_is_logged_once_committed(db, caplog):
    """The embedded default: nothing is sent, so the log shows recipient, subject and link (issue 17 §6)."""
    import logging

    caplog.set_level(logging.INFO, logger="core.mail")
    with get_session() as s:
        enqueue_mail(s, to="ada@example.org", subject="Confirm your new email address\r\nX: y",
                     body="Open https://vorm.example/?confirm_email=abc within 24 hours.", kind="email_change")
        assert "ada@example.org" not in caplog.text  # not before the commit: it may still be rolled back
        s.commit()
        enqueue_mail(s, to="rolled@example.org", subject="never", body="b", kind="k")
        s.rollback()
        s.commit()
    lines = [r.getMessage() for r in caplog.records if "ada@example.org" in r.getMessage()]
    assert len(lines) == 1
    assert "https://vorm.example/?confirm_email=abc" in lines[0] and "\\r\\nX: y" in lines[0]
    assert "rolled@example.org" not in caplog.text
    with get_session() as s:
        assert deliver_pending(s)["skipped"] == 1
        assert s.exec(select(OutboxMessage)).one().status == "pending"
