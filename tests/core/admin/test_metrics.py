"""The metrics queries on both databases: SQL percentiles agree with the definition, periods and buckets
count what they should, and the schema the migrations build matches the models (indexes included)."""

from __future__ import annotations

import math
from datetime import timedelta

import sqlalchemy as sa

from core.admin import demo, metrics
from core.db import get_engine
from core.models import GenerationJob, JobStatus, utcnow
from tests.utils.builders import create_random_user


def _nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered))) - 1]


def _interpolated(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def test_engine_and_wait_percentiles_by_mode_and_device(session, db):
    user = create_random_user(session)
    now = utcnow()
    seconds = {("inflate", "cpu"): [1.0, 2.0, 3.0, 4.0, 10.0], ("carve", "cuda"): [0.5, 0.7]}
    for (mode, device), values in seconds.items():
        for i, s in enumerate(values):
            session.add(GenerationJob(user_id=user.id, status=JobStatus.SUCCEEDED, mode=mode,
                                      stats={"total_seconds": s, "device": device, "faces": 1000 * (i + 1),
                                             "image_size": [512, 512]},
                                      created_at=now - timedelta(minutes=10), started_at=now - timedelta(minutes=10,
                                      seconds=-(i + 1) * 6), finished_at=now))
    session.add(GenerationJob(user_id=user.id, status=JobStatus.FAILED, error_code="no_foreground",
                              created_at=now - timedelta(days=3)))
    session.add(GenerationJob(user_id=user.id, status=JobStatus.QUEUED, created_at=now))
    session.commit()
    result = metrics.jobs(session, metrics.Period.of("24h", now))
    assert (result["queued"], result["running"]) == (1, 0)
    exact = _interpolated if db == "postgresql" else _nearest_rank
    got = {(r["mode"], r["device"]): r for r in result["engine"]}
    for key, values in seconds.items():
        assert got[key]["n"] == len(values)
        assert math.isclose(got[key]["p50"], exact(values, 0.5)) and math.isclose(got[key]["p95"],
                                                                                   exact(values, 0.95))
    waits = [6.0 * (i + 1) for i in range(5)] + [6.0, 12.0]
    assert math.isclose(result["wait"]["p50"], exact(waits, 0.5), rel_tol=1e-3)
    assert result["failures"] == []  # three days ago: outside 24 hours
    week = metrics.jobs(session, metrics.Period.of("7d", now))
    assert week["failures"][0]["code"] == "no_foreground" and week["failures"][0]["n"] == 1
    assert sum(b["n"] for b in week["per_bucket"]) == 9
    cube = metrics.job_cube(session, metrics.Period.of("24h", now))
    assert sum(c["jobs"] for c in cube) == 7 and {c["resolution"] for c in cube} == {512}


def test_the_demo_data_set_fills_every_figure(session):
    demo.seed(session, users=20, jobs=200, models=40)
    period = metrics.Period.of("30d")
    users = metrics.users(session, period)
    assert users["total"] == 20 and users["active_30d"] > 0 and users["new"]
    money = metrics.money(session, period)
    assert money["active"] >= 1 and money["mrr_cents"]["eur"] == 900 * money["active"]
    assert money["failed_payments"] >= 1
    assert sum(s["uploads"] for s in metrics.storage(session)) == 40
    assert len(metrics.purge_history(session)) == 14
    assert sum(a["n"] for a in metrics.tickets_by_age(session)) == 4  # every third of 12 tickets is open
    assert [w["alive"] for w in metrics.workers(session)] == [True, True, False]


def test_migrations_build_the_schema_of_the_models(session):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    with get_engine().connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    names = ("ix_job_created_status", "ix_job_finished_worker", "ix_access_created_user", "ix_user_created_at",
             "ix_support_ticket_status", "ix_subscription_status", "ix_privacy_request_due_at", "support_message",
             "resolution_note")
    ours = [d for d in diff if any(n in repr(d) for n in names)]
    assert ours == []
    inspector = sa.inspect(get_engine())
    assert {"ix_job_created_status", "ix_access_created_user"} <= {
        i["name"] for t in ("generation_job", "access_event") for i in inspector.get_indexes(t)}
