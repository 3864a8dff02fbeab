"""Erasure: after delete-user nothing refers to the person, in the database, in storage, at Stripe, in cookies.

Also when the erasure is interrupted halfway and run again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, select

from core import errors
from core.accounts import auth, sessions
from core.errors import SessionInvalid, TransientError, WrongCredentials
from core.manage import main
from core.models import AuditLog, InvoiceRecord, PrivacyRequest, User, user_tables, utcnow
from core.privacy import erasure, maintenance
from core.storage import get_storage
from tests.core.privacy.conftest import full_user
from tests.utils.builders import PASSWORD


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, db: str) -> str:
    if request.param == "s3":
        request.getfixturevalue("s3_env")
    return request.param


class FlakyStorage:
    """Real storage that dies after a number of deletes, like a process killed mid-erasure."""

    def __init__(self, inner, deletes_before_failure: int) -> None:
        self.inner, self.left = inner, deletes_before_failure

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def delete_many(self, keys: Iterable[str]) -> int:
        count = 0
        for key in keys:
            if self.left <= 0:
                raise TransientError("storage went away")
            count += self.inner.delete_many([key])
            self.left -= 1
        return count


def assert_erased(session, content, *, other) -> None:
    uid, email = content.user.id, content.user.email
    conn = session.connection()
    for table in user_tables():
        n = conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.user_id == uid)).scalar()
        assert n == 0, f"{table.name} still has {n} rows of the user"
    assert session.get(User, uid) is None
    # Nothing anywhere carries their email address either.
    for table in SQLModel.metadata.sorted_tables:
        for row in conn.execute(sa.select(table)).all():
            assert email not in repr(tuple(row)), f"{table.name} still mentions the email"
    # What the law requires stays, cut loose from the person.
    invoice = session.exec(select(InvoiceRecord).where(InvoiceRecord.stripe_invoice_id == f"in_{uid}")).one()
    assert invoice.user_id is None
    record = session.exec(select(AuditLog).where(AuditLog.action == "user.erased")).all()[-1]
    assert record.user_id is None and email not in repr(record.details)
    # Storage: nothing under their prefix, the other user's objects untouched.
    storage = get_storage()
    assert list(storage.list(f"users/{uid}/")) == []
    assert all(storage.exists(k) for k in other.keys)
    # The old cookie is dead.
    with pytest.raises(SessionInvalid):
        sessions.resolve_session(session, content.cookie)
    # The other user is intact.
    assert session.get(User, other.user.id) is not None
    sessions.resolve_session(session, other.cookie)


def test_delete_user_cli_erases_everything(session, backend, stripe_stub):
    content = full_user(session)
    other = full_user(session, customer="cus_OTHER")
    assert content.keys and all(get_storage().exists(k) for k in content.keys)
    assert main(["delete-user", content.user.email]) == 0
    session.expire_all()
    assert_erased(session, content, other=other)
    assert stripe_stub.requests == [("DELETE", "/v1/customers/cus_TEST123")]
    assert main(["delete-user", content.user.email]) == 2  # nobody left to delete


def test_interrupted_erasure_is_finished_by_a_rerun(session, backend, stripe_stub):
    content = full_user(session)
    other = full_user(session, customer="cus_OTHER")
    flaky = FlakyStorage(get_storage(), deletes_before_failure=2)
    with pytest.raises(TransientError):
        erasure.erase_user(content.user.id, storage=flaky)
    session.expire_all()
    # Halfway: some objects gone, rows still there, but the account is already locked and logged out.
    assert session.get(User, content.user.id) is not None
    assert len(list(get_storage().list(f"users/{content.user.id}/"))) == len(content.keys) - 2
    with pytest.raises(SessionInvalid):
        sessions.resolve_session(session, content.cookie)
    with pytest.raises(WrongCredentials):
        auth.authenticate(session, email=content.user.email, password=PASSWORD)

    assert main(["delete-user", content.user.email]) == 0
    session.expire_all()
    assert_erased(session, content, other=other)
    # The rerun asked Stripe again; the customer was gone already, which counts as done.
    assert stripe_stub.requests == [("DELETE", "/v1/customers/cus_TEST123")] * 2


def test_crash_inside_the_database_step_rolls_back_and_the_worker_finishes(session, stripe_stub, monkeypatch):
    content = full_user(session)
    other = full_user(session, customer="cus_OTHER")
    real_audit = erasure.audit

    def dying_audit(s, action, **kw):
        if action == "user.erased":
            raise RuntimeError("killed")
        return real_audit(s, action, **kw)

    monkeypatch.setattr(erasure, "audit", dying_audit)
    with pytest.raises(RuntimeError):
        erasure.erase_user(content.user.id)
    monkeypatch.setattr(erasure, "audit", real_audit)
    session.expire_all()
    assert session.get(User, content.user.id) is not None  # one transaction: all rows or none
    # The marker makes the worker's tick pick it up once the web process has had its chance.
    marker = session.exec(select(PrivacyRequest).where(PrivacyRequest.user_id == content.user.id)
                          .where(PrivacyRequest.kind == "deletion")).one()
    assert maintenance.tick()["erasures"] == 0
    marker.created_at = utcnow() - timedelta(minutes=5)
    session.add(marker)
    session.commit()
    assert maintenance.tick()["erasures"] == 1
    session.expire_all()
    assert_erased(session, content, other=other)


def test_delete_account_needs_the_password(session, stripe_stub):
    content = full_user(session)
    other = full_user(session, customer="cus_OTHER")
    with pytest.raises(erasure.PasswordRequired):
        erasure.delete_account(session, user=content.user, password="not-my-password-1")
    sessions.resolve_session(session, content.cookie)  # nothing happened
    assert erasure.delete_account(session, user=content.user, password=PASSWORD) == "erased"
    session.expire_all()
    assert_erased(session, content, other=other)


def test_delete_one_upload_or_model_checks_the_owner(session):
    content = full_user(session)
    other = full_user(session, customer="cus_OTHER")
    storage = get_storage()
    with pytest.raises(errors.NotFound):
        erasure.delete_model(session, user=other.user, model_id=content.model_ids[0])
    with pytest.raises(errors.NotFound):
        erasure.delete_upload(session, user=other.user, upload_id=content.upload_ids[0])
    erasure.delete_model(session, user=content.user, model_id=content.model_ids[0])
    erasure.delete_upload(session, user=content.user, upload_id=content.upload_ids[0])
    assert list(storage.list(f"users/{content.user.id}/")) == []
    assert all(storage.exists(k) for k in other.keys)
    with pytest.raises(errors.NotFound):
        erasure.delete_model(session, user=content.user, model_id=content.model_ids[0])
