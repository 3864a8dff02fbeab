"""Operations: counts, jobs by status, recent failures and worker heartbeats. Admins only.

The navigation registers this page for admins only; the role is checked here again,
against the database row, so a stale session or a direct run cannot bypass it.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import streamlit as st
from sqlmodel import select

from core.cli.accounts import collect_stats
from core.db import get_session
from core.models import GenerationJob, JobStatus, User, WorkerHeartbeat, utcnow
from pages.common import fmt_date, require_admin, t

WORKER_STALE_SECONDS = 120  # a heartbeat older than this: the worker is probably gone

admin = require_admin()
with get_session() as session:
    row = session.get(User, admin.id)
if row is None or row.role != "admin":
    st.error(t("app.forbidden"))
    st.stop()

st.title(t("admin.title"))
stats = collect_stats()
users = stats.get("users", {})
jobs = stats.get("jobs", {})
c = st.columns(4)
c[0].metric(t("admin.users"), sum(users.values()), help=t("admin.users.help", free=users.get("free", 0),
                                                          premium=users.get("premium", 0)))
c[1].metric(t("admin.premium"), users.get("premium", 0))
c[2].metric(t("admin.models"), stats.get("models", 0))
c[3].metric(t("admin.uploads"), stats.get("uploads", 0))

st.subheader(t("admin.jobs"))
if jobs:
    st.dataframe([{t("admin.status"): t(f"library.status.{s}") if s in list(JobStatus) else s, t("admin.count"): n}
                  for s, n in sorted(jobs.items())], hide_index=True, width="content")
else:
    st.caption(t("admin.none"))

now = utcnow()
with get_session() as session:
    failures = session.exec(select(GenerationJob).where(GenerationJob.status == JobStatus.FAILED)
                            .order_by(GenerationJob.id.desc()).limit(20)).all()  # type: ignore[union-attr]
    workers = session.exec(select(WorkerHeartbeat).order_by(WorkerHeartbeat.last_seen_at.desc())).all()  # type: ignore[attr-defined]
    day = session.exec(select(sa.func.count()).select_from(GenerationJob)
                       .where(GenerationJob.created_at >= now - timedelta(days=1))).one()

st.caption(t("admin.last_day", count=int(day)))
st.subheader(t("admin.failures"))
if failures:
    st.dataframe([{"id": j.id, t("admin.user"): j.user_id, t("admin.code"): j.error_code,
                   t("admin.message"): j.error_message, t("admin.when"): fmt_date(j.finished_at or j.created_at)}
                  for j in failures], hide_index=True, width="stretch")
else:
    st.caption(t("admin.none"))

st.subheader(t("admin.workers"))
if workers:
    st.dataframe([{"worker": w.worker_id, "host": w.hostname, "pid": w.pid, t("admin.device"): w.device,
                   t("admin.last_seen"): fmt_date(w.last_seen_at),
                   t("admin.alive"): (now - w.last_seen_at).total_seconds() < WORKER_STALE_SECONDS}
                  for w in workers], hide_index=True, width="stretch")
else:
    st.warning(t("admin.no_workers"))
