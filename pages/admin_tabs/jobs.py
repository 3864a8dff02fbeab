"""Jobs: recent failures and an audited requeue."""

from __future__ import annotations

import streamlit as st
from sqlmodel import col, select

from core.admin import actions
from core.db import get_session
from core.errors import VormError
from core.models import GenerationJob, JobStatus, User
from pages.common import _, error_text, fmt_date, job_error_text


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


def render(admin: User) -> None:
    requeue_form(admin)
