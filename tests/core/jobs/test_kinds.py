"""Kinds of job and the workers that take them, on both engines: a restricted claim passes other kinds over."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from core.admin import metrics
from core.jobs import claims, fleet, kinds, queue
from core.models import GenerationJob, JobStatus
from tests.utils.builders import create_random_user


def _job(session: Session, user_id: int, *, mode: str = "auto", views: int = 1, resolution: int | None = 512,
         priority: int = 0) -> GenerationJob:
    options = {} if resolution is None else {"resolution": resolution}
    job = queue.insert_job(session, user_id=user_id, upload_ids=list(range(1, views + 1)), mode=mode,
                           options=options, priority=priority)
    session.commit()
    return job


CASES = [  # mode, views, resolution px -> kind (large: resolution² × views > 2 megapixels by default)
    ("auto", 1, 512, "inflate"), ("auto", 4, 512, "carve"), ("inflate", 1, 1024, "inflate"),
    ("relief", 1, 1024, "relief"), ("carve", 3, 512, "carve"), ("carve", 2, 1024, "large"),
    ("auto", 8, 1024, "large"), ("auto", 1, 2048, "large"), ("auto", 3, None, "carve"),
]


def test_the_sql_rule_and_the_python_rule_agree(session: Session) -> None:
    user = create_random_user(session)
    jobs = [(_job(session, int(user.id or 0), mode=m, views=v, resolution=r), want) for m, v, r, want in CASES]
    table = GenerationJob.__table__  # type: ignore[attr-defined]
    in_sql = dict(session.connection().execute(sa.select(table.c.id, kinds.kind_expression())).all())
    assert [(kinds.kind_of(j), in_sql[j.id]) for j, _ in jobs] == [(want, want) for _, want in jobs]


def test_large_follows_the_setting(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.config import reset_settings

    monkeypatch.setenv("LARGE_JOB_MEGAPIXELS", "0.5")
    reset_settings()
    assert kinds.job_kind(mode="auto", views=1, resolution=1024) == "large"
    assert kinds.job_kind(mode="auto", views=1, resolution=512) == "inflate"


def test_parse_kinds() -> None:
    assert kinds.parse_kinds("carve, Large") == {"carve", "large"}
    assert kinds.parse_kinds("") == kinds.parse_kinds("all") == kinds.parse_kinds(None) == set(kinds.KINDS)
    assert kinds.format_kinds({"large", "carve"}) == "carve,large"
    with pytest.raises(kinds.UnknownKind, match="gpu"):
        kinds.parse_kinds("carve,gpu")


def test_a_worker_restricted_to_some_kinds_never_claims_another_kind(session: Session) -> None:
    user_id = int(create_random_user(session).id or 0)
    # The other kinds come first in claim order (higher priority, older): a filter after LIMIT would fail.
    inflate = _job(session, user_id, priority=10)
    relief = _job(session, user_id, mode="relief", priority=10)
    large = _job(session, user_id, mode="carve", views=4, resolution=1024, priority=5)
    carve = _job(session, user_id, views=3)
    gpu = frozenset({"carve", "large"})
    got = [claims.claim_jobs(session, worker_id="gpu", kinds=gpu) for _ in range(3)]
    assert [[j.id for j in g] for g in got] == [[large.id], [carve.id], []]
    cpu = claims.claim_jobs(session, worker_id="cpu", limit=5, kinds=frozenset({"inflate"}))
    assert [j.id for j in cpu] == [inflate.id]
    assert claims.claim_jobs(session, worker_id="cpu", kinds=frozenset({"inflate", "carve", "large"})) == []
    # Nobody takes relief here: it stays queued, and the admin's figures say so.
    assert queue.get_job(session, job_id=int(relief.id or 0), user_id=None).status == JobStatus.QUEUED
    fleet.heartbeat(session, worker_id="gpu", modes="carve,large", concurrency=2, device="cuda")
    fleet.heartbeat(session, worker_id="cpu", modes="inflate")
    assert metrics.untaken_jobs(session) == {"relief": 1}
    shown = {w["worker_id"]: (w["modes"], w["device"], w["concurrency"], w["running"])
             for w in metrics.workers(session)}
    assert shown == {"gpu": (["carve", "large"], "cuda", 2, 2), "cpu": (["inflate"], "cpu", 1, 1)}
    # An unrestricted worker (every kind, or none named) takes anything.
    assert [j.id for j in claims.claim_jobs(session, worker_id="any", kinds=frozenset(kinds.KINDS))] == [relief.id]
