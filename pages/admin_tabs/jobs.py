"""Jobs: recent failures and an audited requeue."""

from __future__ import annotations

from typing import Any

import streamlit as st
from sqlmodel import col, select

from core.admin import actions, metrics
from core.db import get_session
from core.errors import VormError
from core.models import GenerationJob, JobStatus, User
from pages.admin_tabs import charts
from pages.common import _, error_text, fmt_date, fmt_duration, fmt_number, job_error_text, label


def _secs(value: float | None) -> str:
    return "—" if value is None else fmt_number(value, digits=1) + " s"


def requeue_form(admin: User) -> None:
    with get_session() as session:
        failures = session.exec(select(GenerationJob).where(GenerationJob.status == JobStatus.FAILED)
                                .order_by(col(GenerationJob.id).desc()).limit(20)).all()
    st.subheader(_("Recent failures"))
    if not failures:
        st.caption(_("None."))
        return
    st.dataframe([{"#": j.id, _("User"): j.user_id, _("Code"): j.error_code, _("Message"): job_error_text(j),
                   _("When"): fmt_date(j.finished_at or j.created_at)} for j in failures],
                 hide_index=True, width="stretch", key="admin_failures")
    with st.form("admin_requeue"):
        job_id = st.selectbox(_("Job"), [int(j.id or 0) for j in failures], key="admin_requeue_job",
                              format_func=lambda i: f"#{i}")
        reason = st.text_input(_("Reason (kept in the audit log)"), key="admin_requeue_reason",
                               max_chars=actions.MAX_REASON_CHARS)
        if st.form_submit_button(_("Requeue"), icon=":material/replay:"):
            try:
                with get_session() as session:
                    actions.requeue_job(session, admin=admin, job_id=int(job_id), reason=reason)
            except VormError as exc:
                st.error(error_text(exc))
            else:
                st.session_state["_admin_notice"] = _("Job #{id} is queued again.", id=job_id)
                st.rerun()


CACHE_SECONDS = 60  # the job figures scan a period's jobs; a minute-old picture is fresh enough


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False, max_entries=12)
def _figures(db_url: str, period_key: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    period = metrics.Period.of(period_key)
    with get_session() as session:
        return metrics.jobs(session, period), metrics.job_cube(session, period)


def render(admin: User, period: metrics.Period) -> None:
    from core.config import get_settings

    jobs, cube = _figures(get_settings().db_url, period.key)
    st.caption(_("Job figures are at most a minute old."))
    c = st.columns(4)
    c[0].metric(_("Waiting in the queue"), fmt_number(jobs["queued"]))
    c[1].metric(_("Running"), fmt_number(jobs["running"]))
    wait = jobs["wait"]
    c[2].metric(_("Wait until start, median"), fmt_duration(wait["p50"]) if wait["p50"] is not None else "—")
    c[3].metric(_("Wait until start, 95th percentile"),
                fmt_duration(wait["p95"]) if wait["p95"] is not None else "—")
    st.subheader(_("Jobs by status"))
    charts.bars(charts.timeline([{**b, "status": label("job_status", b["status"])} for b in jobs["per_bucket"]],
                                period, series="status"),
                x="t", y="n", colour="status", x_title=_("Hour") if period.hourly else _("Date"), y_title=_("Jobs"),
                colour_title=_("Status"), key="chart_jobs", empty=_("No jobs in this period."))
    st.subheader(_("Engine time"))
    if jobs["engine"]:
        st.dataframe([{_("Mode"): label("mode", r["mode"]), _("Device"): r["device"], _("Jobs"): fmt_number(r["n"]),
                       _("Median"): _secs(r["p50"]), _("95th percentile"): _secs(r["p95"])} for r in jobs["engine"]],
                     hide_index=True, key="admin_engine")
    else:
        st.caption(_("No data in this period."))
    st.subheader(_("Most frequent failures"))
    if jobs["failures"]:
        st.dataframe([{_("Code"): f["code"] or "—", _("Count"): fmt_number(f["n"]),
                       _("Examples"): ", ".join(f"#{i}" for i in f["examples"])} for f in jobs["failures"]],
                     hide_index=True, key="admin_failure_codes")
    else:
        st.caption(_("None."))
    st.subheader(_("Resolution, faces and engine time"))
    st.caption(_("Each column is a group of finished jobs: across, the processing resolution; deep, the number of "
                 "faces; high, the mean engine seconds. Darker columns hold more jobs."))
    charts.columns_3d(cube, key="admin_cube")
    requeue_form(admin)
