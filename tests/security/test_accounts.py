"""Regression tests for the review's account findings: lockout, one-time links, enumeration, the
secret key, cookies. Real databases (``db``: SQLite and PostgreSQL), real threads, the real web server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select

from core.accounts import auth
from core.config import get_settings
from core.db import get_session
from core.errors import WrongCredentials
from core.models import AccessEvent, User
from tests.utils.builders import PASSWORD, create_random_user


def _all_at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; returns each result or the exception it raised."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return results


# --- 1. lockout under concurrent failures --------------------------------------------------


def test_concurrent_wrong_passwords_are_all_counted_and_lock_the_account(db):
    with get_session() as session:
        user = create_random_user(session)

    def attempt(i: int) -> None:
        with get_session() as session:
            auth.authenticate(session, email=user.email, password=f"wrong-guess-{i}",
                              client=auth.Client(ip="198.51.100.9"))

    results = _all_at_once(30, attempt)
    assert all(isinstance(r, WrongCredentials) for r in results), results
    with get_session() as session:
        row = session.get(User, user.id)
        assert row is not None
        assert row.failed_logins == 30
        assert row.locked_until is not None
        events = session.exec(select(AccessEvent).where(AccessEvent.user_id == user.id)).all()
    assert len(events) == 30
    # The threshold crossing is recorded once as the lock; the rest name why they failed.
    assert sum(e.reason == "locked_out" for e in events) == 1
    # The right password no longer opens it.
    with get_session() as session, pytest.raises(WrongCredentials):
        auth.authenticate(session, email=user.email, password=PASSWORD)


def test_the_lock_starts_exactly_at_the_threshold(db):
    limit = get_settings().max_failed_logins
    with get_session() as session:
        user = create_random_user(session)
        for i in range(limit - 1):
            with pytest.raises(WrongCredentials):
                auth.authenticate(session, email=user.email, password=f"wrong-guess-{i}")
        assert auth.authenticate(session, email=user.email, password=PASSWORD).id == user.id  # not locked yet
        for i in range(limit):
            with pytest.raises(WrongCredentials):
                auth.authenticate(session, email=user.email, password=f"wrong-guess-{i}")
        with pytest.raises(WrongCredentials):
            auth.authenticate(session, email=user.email, password=PASSWORD)
        reasons = [e.reason for e in session.exec(select(AccessEvent).where(AccessEvent.user_id == user.id)
                                                 .order_by(AccessEvent.id))]
    assert reasons[-2:] == ["locked_out", "locked"]
