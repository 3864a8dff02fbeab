"""``python -m core.manage api-key ...``: the key alone on the last line, usable at once, revocable."""

from __future__ import annotations

from sqlmodel import select

from core.api import keys
from core.manage import main
from core.models import AuditLog


def test_api_key_create_prints_the_key_alone_on_its_last_line(session, capsys):
    assert main(["create-user", "--email", "dev@example.org", "--password", "operator-pass-1"]) == 0
    capsys.readouterr()
    assert main(["api-key", "create", "--email", "dev@example.org", "--name", "catalogue sync"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("vorm_") and " " not in key
    row, user = keys.authenticate(session, f"Bearer {key}")
    assert user.email == "dev@example.org" and row.name == "catalogue sync"
    assert main(["api-key", "list", "--email", "dev@example.org"]) == 0
    assert row.prefix in capsys.readouterr().out
    assert main(["api-key", "revoke", "--email", "dev@example.org", str(row.id)]) == 0
    audit = session.exec(select(AuditLog.actor, AuditLog.action).where(AuditLog.action.like("api_key.%"))).all()
    assert sorted(audit) == [("operator", "api_key.created"), ("operator", "api_key.revoked")]


def test_api_key_create_for_an_unknown_email_is_one_line_and_exit_2(db, capsys):
    assert main(["api-key", "create", "--email", "nobody@example.org"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nobody@example.org" in err
