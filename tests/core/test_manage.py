"""The operator CLI through its entry point, as an operator would run it."""

import json
import os
import subprocess
import sys

from core.config import ROOT
from core.manage import main


def test_create_user_set_plan_and_stats(db, capsys):
    assert main(["create-user", "--email", "Op@Example.org", "--password", "operator-pass-1", "--admin"]) == 0
    assert main(["create-user", "--email", "u@example.org", "--password", "user-pass-123", "--plan", "premium"]) == 0
    assert main(["set-plan", "u@example.org", "free"]) == 0
    capsys.readouterr()
    assert main(["stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["users"] == {"free": 2}


def test_bad_input_gets_one_clear_line_and_nonzero_exit(db, capsys):
    main(["create-user", "--email", "a@example.org", "--password", "good-pass-123"])
    capsys.readouterr()
    cases = [
        (["create-user", "--email", "a@example.org", "--password", "good-pass-123"], "already exists"),
        (["create-user", "--email", "not-an-email", "--password", "good-pass-123"], "email address"),
        (["create-user", "--email", "b@example.org", "--password", "weak"], "too weak"),
        (["set-plan", "ghost@example.org", "premium"], "No account"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_bootstrap_admin_prints_password_once(db, capsys):
    assert main(["bootstrap-admin"]) == 0
    first = capsys.readouterr().out
    assert "password:" in first
    password = first.split("password:")[1].split()[0]
    assert main(["bootstrap-admin"]) == 0
    assert "exists already" in capsys.readouterr().out
    from core.accounts import auth
    from core.db import get_session

    with get_session() as s:
        assert auth.authenticate(s, email="admin@vorm.local", password=password).role == "admin"


def test_unreachable_database_is_a_clear_message_not_a_traceback(tmp_path):
    env = {**os.environ, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere",
           "VORM_SECRETS_FILE": "/nonexistent"}
    proc = subprocess.run([sys.executable, "-m", "core.manage", "migrate"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert "database is not reachable" in proc.stderr and "Traceback" not in proc.stderr


def test_migrate_creates_the_embedded_database_folder_on_a_fresh_checkout(tmp_path):
    data_dir = tmp_path / "not" / "there" / "yet"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DATA_DIR=str(data_dir), VORM_SECRETS_FILE="/nonexistent")
    proc = subprocess.run([sys.executable, "-m", "core.manage", "migrate"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (data_dir / "vorm.db").is_file()


def test_stored_text_is_printed_with_control_characters_escaped(db, capsys):
    """Rows from before the input checks (inserted directly): a CR/LF or an escape code never reaches the
    operator's terminal raw, and a body line cannot pass for the tool's own (issue 17 §1)."""
    from core.db import get_session
    from core.models import OutboxMessage, SupportMessage, SupportTicket

    with get_session() as s:
        ticket = SupportTicket(email="visitor@example.org", subject="subject\r\nBcc: x@example.com",
                               body="hi\x1b[2J\n--- support 2026-01-01 00:00 UTC\nall fixed")
        s.add(ticket)
        s.flush()
        s.add(SupportMessage(ticket_id=ticket.id, author="user", body="more\x07"))
        s.add(OutboxMessage(to_address="support@vorm.local", subject="Ticket #1: subject\r\nBcc: x@example.com",
                            body="See https://vorm.example/x\x1b[0m", kind="support_ticket", status="failed",
                            attempts=1, last_error="ValueError: Header values may not contain linefeed"))
        s.commit()
        ticket_id = ticket.id
    capsys.readouterr()
    for argv in (["tickets"], ["ticket", str(ticket_id)], ["outbox", "--bodies"]):
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "\r" not in out and "\x1b" not in out and "\x07" not in out
        assert "subject\\r\\nBcc: x@example.com" in out
    assert main(["ticket", str(ticket_id)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "    --- support 2026-01-01 00:00 UTC" in lines and "--- support 2026-01-01 00:00 UTC" not in lines
    assert "    hi\\x1b[2J" in lines and "    more\\x07" in lines
    assert main(["outbox", "--status", "failed", "--bodies"]) == 0
    out = capsys.readouterr().out
    assert "last error: ValueError" in out and "https://vorm.example/x\\x1b[0m" in out
    assert "SMTP_HOST is not set" in out and "1 failed" in out
