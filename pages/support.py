"""Support and contact (policy clause 8): a form that files a ticket; privacy requests get a deadline."""

from __future__ import annotations

import streamlit as st

from core.config import get_settings
from core.db import get_session
from core.errors import VormError
from core.support import tickets as support
from pages.common import current_user, error_text, fmt_date, t

user = current_user()
st.title(t("support.title"))
st.write(t("support.intro"))

done = st.session_state.pop("_support_done", None)
if done:
    st.success(done, icon=":material/check_circle:")

topic = st.selectbox(t("support.topic"), list(support.TOPICS), key="support_topic",
                     format_func=lambda v: t(f"support.topic.{v}"))
kind = None
if topic == "privacy":
    if user is None:
        st.warning(t("support.login_for_privacy"), icon=":material/login:")
    else:
        kind = st.selectbox(t("support.privacy_kind"), list(support.PRIVACY_KINDS), key="support_privacy_kind",
                            format_func=lambda v: t(f"support.kind.{v}"))
        st.info(t("support.self_service"), icon=":material/badge:")

with st.form("support_form", clear_on_submit=False):
    email = user.email if user is not None else st.text_input(t("support.email"), key="support_email")
    subject = st.text_input(t("support.subject"), key="support_subject", max_chars=support.MAX_SUBJECT_CHARS)
    body = st.text_area(t("support.body"), key="support_body", max_chars=support.MAX_BODY_CHARS, height=180)
    sent = st.form_submit_button(t("support.submit"), type="primary", disabled=topic == "privacy" and user is None)

if sent:
    try:
        with get_session() as session:
            ticket = support.create_ticket(session, user=user, email=email or "", subject=subject, body=body,
                                           topic=topic, privacy_kind=kind)
            due = None
            if ticket.privacy_request_id:
                from core.models import PrivacyRequest

                req = session.get(PrivacyRequest, ticket.privacy_request_id)
                due = req.due_at if req else None
    except VormError as exc:
        st.error(error_text(exc))
    else:
        message = (t("support.sent_privacy", id=ticket.id, date=fmt_date(due)) if due
                   else t("support.sent", id=ticket.id))
        st.session_state["_support_done"] = message
        for key in ("support_subject", "support_body"):
            st.session_state.pop(key, None)
        st.rerun()

st.caption(t("support.direct", email=get_settings().support_email))
