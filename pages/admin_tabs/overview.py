"""Overview: counts, jobs by status, recent failures and worker heartbeats."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import streamlit as st
from sqlmodel import select

from core.cli.accounts import collect_stats
from core.db import get_session
from core.models import GenerationJob, JobStatus, User, WorkerHeartbeat, utcnow
from pages.common import _, fmt_date, fmt_number, job_error_text, label, ngettext

WORKER_STALE_SECONDS = 120  # a heartbeat older than this: the worker is probably gone


def render(admin: User) -> None:
    stats = collect_stats()
    users = stats.get("users", {})
    jobs = stats.get("jobs", {})
    c = st.columns(4)
    c[0].metric(_("Accounts"), fmt_number(sum(users.values())),
                help=_("{free} free, {premium} premium", free=fmt_number(users.get("free", 0)),
                       premium=fmt_number(users.get("premium", 0))))
    c[1].metric(_("Premium accounts"), fmt_number(users.get("premium", 0)))
    c[2].metric(_("Models"), fmt_number(stats.get("models", 0)))
    c[3].metric(_("Uploads"), fmt_number(stats.get("uploads", 0)))

    st.subheader(_("Jobs by status"))
    if jobs:
        st.dataframe([{_("Status"): label("job_status", s), _("Count"): fmt_number(n)}
                      for s, n in sorted(jobs.items())], hide_index=True, width="content")
    else:
        st.caption(_("None."))

    now = utcnow()
    with get_session() as session:
        failures = session.exec(select(GenerationJob).where(GenerationJob.status == JobStatus.FAILED)
                                .order_by(GenerationJob.id.desc()).limit(20)).all()  # type: ignore[union-attr]
        workers = session.exec(select(WorkerHeartbeat).order_by(WorkerHeartbeat.last_seen_at.desc())).all()  # type: ignore[attr-defined]
        day = session.exec(select(sa.func.count()).select_from(GenerationJob)
                           .where(GenerationJob.created_at >= now - timedelta(days=1))).one()

    st.caption(ngettext("{n} job in the last 24 hours.", "{n} jobs in the last 24 hours.", int(day)))
    st.subheader(_("Recent failures"))
    if failures:
        st.dataframe([{"#": j.id, _("User"): j.user_id, _("Code"): j.error_code,
                       _("Message"): job_error_text(j), _("When"): fmt_date(j.finished_at or j.created_at)}
                      for j in failures], hide_index=True, width="stretch")
    else:
        st.caption(_("None."))

    st.subheader(_("Workers"))
    if workers:
        st.dataframe([{_("Worker"): w.worker_id, _("Host"): w.hostname, _("Process"): w.pid, _("Device"): w.device,
                       _("Last heartbeat"): fmt_date(w.last_seen_at),
                       _("Alive"): label("yes_no", "yes" if (now - w.last_seen_at).total_seconds()
                                         < WORKER_STALE_SECONDS else "no")}
                      for w in workers], hide_index=True, width="stretch")
    else:
        st.warning(_("No worker has reported in. Start one with `python -m jobs.worker`, or jobs will wait forever."))
