"""Users: find an account, see its summary (no content), change plan or role, resend a mail, open content.

Every action asks for a reason, which the audit log keeps with the admin's id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st
from sqlmodel import Session

from core.admin import actions
from core.db import get_session
from core.errors import VormError
from core.models import Plan, Role, User
from pages.common import _, error_text, fmt_date, fmt_number, fmt_size, label, mail_is_sent


def _done(message: str) -> None:
    st.session_state["_admin_notice"] = message
    st.rerun()


def _reason(key: str) -> str:
    return st.text_input(_("Reason (kept in the audit log)"), key=key, max_chars=actions.MAX_REASON_CHARS)


def _choice_form(column: Any, key: str, title: str, values: list[str], current: str, kind: str, button: str,
                 apply: Callable[[Session, str, str], object], done: str) -> None:
    """A form that sets one of ``values`` (labelled as ``kind``) with a typed reason."""
    with column.form(key):
        value = st.selectbox(title, values, index=values.index(current), key=f"{key}_value",
                             format_func=lambda v: label(kind, v))
        reason = _reason(f"{key}_reason")
        if st.form_submit_button(button):
            try:
                with get_session() as session:
                    apply(session, value, reason)
            except VormError as exc:
                st.error(error_text(exc))
            else:
                _done(done)


def _summary(summary: actions.AccountSummary) -> None:
    st.markdown(f"**{_('Account')} #{summary.id}**")
    st.text(f"{summary.email} · {summary.name}" if summary.name else summary.email)
    c = st.columns(4)
    c[0].metric(_("Plan"), label("plan", summary.plan))
    c[1].metric(_("Role"), label("role", summary.role))
    c[2].metric(_("Uploads"), fmt_number(summary.counts["uploads"]))
    c[3].metric(_("Models"), fmt_number(summary.counts["models"]))
    c = st.columns(4)
    c[0].metric(_("Member since"), fmt_date(summary.created_at))
    c[1].metric(_("Last login"), fmt_date(summary.last_login_at))
    c[2].metric(_("Storage"), fmt_size(summary.storage_bytes))
    c[3].metric(_("Support tickets"), fmt_number(summary.counts["tickets"]))
    jobs = ", ".join(f"{label('job_status', s)}: {fmt_number(n)}" for s, n in sorted(summary.jobs.items()))
    st.caption(_("Jobs: {jobs}", jobs=jobs or "—") + " · " + _("Subscription: {status}",
                                                                  status=summary.subscription or "—"))


def _actions(admin: User, summary: actions.AccountSummary) -> None:
    uid = summary.id
    c1, c2 = st.columns(2)
    _choice_form(c1, "admin_user_plan", _("Plan"), [p.value for p in Plan], summary.plan, "plan", _("Change plan"),
                 lambda session, plan, reason: actions.set_plan(session, admin=admin, user_id=uid, plan=plan,
                                                                reason=reason), _("The plan was changed."))
    _choice_form(c2, "admin_user_role", _("Role"), [r.value for r in Role], summary.role, "role", _("Change role"),
                 lambda session, role, reason: actions.set_role(session, admin=admin, user_id=uid, role=role,
                                                                reason=reason), _("The role was changed."))
    c1, c2 = st.columns(2)
    with c1.form("admin_user_resend"):
        st.caption(_("Sends the link that confirms a new email address again (a fresh link)."))
        reason = _reason("admin_user_resend_reason")
        if st.form_submit_button(_("Resend confirmation mail")):
            try:
                with get_session() as session:
                    to = actions.resend_email_confirmation(session, admin=admin, user_id=uid, reason=reason)
            except VormError as exc:
                st.error(error_text(exc))
            else:
                _done(_("A new confirmation mail to {email} is in the outbox; it goes out within a minute.",
                        email=to) if mail_is_sent() else
                      _("A new confirmation mail to {email} waits in the outbox, but no mail server is set up "
                        "(SMTP_HOST), so it is not sent. The Outbox tab shows it.", email=to))
    with c2.form("admin_user_open"):
        st.caption(_("Opening a user's model or upload is recorded with your reason."))
        kind = st.radio(_("What"), list(actions.CONTENT_KINDS), horizontal=True, key="admin_user_open_kind",
                        format_func=lambda k: _("Model") if k == "model" else _("Upload"))
        item = st.number_input(_("Number"), min_value=1, step=1, key="admin_user_open_id")
        reason = _reason("admin_user_open_reason")
        if st.form_submit_button(_("Open")):
            try:
                with get_session() as session:
                    opened = actions.open_content(session, admin=admin, user_id=uid, kind=kind, item_id=int(item),
                                                  reason=reason)
            except VormError as exc:
                st.error(error_text(exc))
            else:
                st.session_state["_admin_opened"] = opened
    opened = st.session_state.get("_admin_opened")
    if isinstance(opened, actions.OpenedContent):
        with st.container(border=True):
            st.text(f"{opened.kind} #{opened.id} · {opened.name} · {fmt_date(opened.created_at)}")
            if opened.image_url:
                st.image(opened.image_url, width=240)
            st.link_button(_("Download"), opened.url, icon=":material/download:")
    with st.expander(_("Ids of this user's models and uploads")):
        with get_session() as session:
            models = actions.content_ids(session, user_id=uid, kind="model")
            uploads = actions.content_ids(session, user_id=uid, kind="upload")
        st.text(_("Models") + ": " + (", ".join(map(str, models)) or "—"))
        st.text(_("Uploads") + ": " + (", ".join(map(str, uploads)) or "—"))


def render(admin: User, period: object = None) -> None:
    st.subheader(_("Users"))
    query = st.text_input(_("Find an account (email or number)"), key="admin_user_query")
    with get_session() as session:
        found = actions.find_users(session, query=query)
    if not found:
        st.caption(_("No accounts found."))
        return
    emails = {int(u.id or 0): u.email for u in found}
    chosen = st.selectbox(_("Account"), list(emails), key="admin_user_id",
                          format_func=lambda i: f"#{i} · {emails[i]}")
    if chosen is None:
        return
    if st.session_state.get("_admin_opened_for") != chosen:
        st.session_state.pop("_admin_opened", None)
        st.session_state["_admin_opened_for"] = chosen
    try:
        with get_session() as session:
            summary = actions.account_summary(session, user_id=int(chosen))
    except VormError as exc:
        st.error(error_text(exc))
        return
    _summary(summary)
    _actions(admin, summary)
