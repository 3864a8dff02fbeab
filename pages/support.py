"""Support and contact (policy clause 8): a form that files a ticket; privacy requests get a deadline."""

from __future__ import annotations

import streamlit as st

from core.config import get_settings
from core.db import get_session
from core.errors import VormError
from core.support import inbox
from core.support import tickets as support
from pages.common import _, current_user, error_text, fmt_date, label, plain

user = current_user()
st.title(_("Support and contact"))
st.write(_("Send us a message; we answer by email. Privacy requests are answered within one month at the latest."))

done = st.session_state.pop("_support_done", None)
if done:
    st.success(done, icon=":material/check_circle:")

topic = st.selectbox(_("Topic"), list(support.TOPICS), key="support_topic",
                     format_func=lambda v: label("support_topic", v))
kind = None
if topic == "privacy":
    if user is None:
        st.warning(_("Log in to file a privacy request, so we know whose data it is about."),
                   icon=":material/login:")
    else:
        kind = st.selectbox(_("Kind of privacy request"), list(support.PRIVACY_KINDS), key="support_privacy_kind",
                            format_func=lambda v: label("privacy_kind", v))
        st.info(_("Tip: you can download, correct and delete your data yourself, at once, on the My data page."),
                icon=":material/badge:")

with st.form("support_form", clear_on_submit=False):
    email = user.email if user is not None else st.text_input(_("Your email address"), key="support_email")
    subject = st.text_input(_("Subject"), key="support_subject", max_chars=support.MAX_SUBJECT_CHARS)
    body = st.text_area(_("Message"), key="support_body", max_chars=support.MAX_BODY_CHARS, height=180)
    sent = st.form_submit_button(_("Send"), type="primary", disabled=topic == "privacy" and user is None)

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
        message = (_("Thank you. Your privacy request (ticket #{id}) will be answered by {date} at the latest.",
                     id=ticket.id, date=fmt_date(due)) if due
                   else _("Thank you. Your ticket number is #{id}.", id=ticket.id))
        st.session_state["_support_done"] = message
        for key in ("support_subject", "support_body"):
            st.session_state.pop(key, None)
        st.rerun()

st.caption(_("Or email us at {email}.", email=get_settings().support_email))


def _thread(ticket_id: int) -> None:
    """One of the user's tickets: the first message, every reply and answer, and a form to answer."""
    with get_session() as session:
        thread = inbox.get_thread(session, ticket_id=ticket_id, user=user)
    ticket = thread.ticket
    with st.chat_message("user", avatar=":material/person:"):
        st.caption(fmt_date(ticket.created_at))
        st.text(ticket.body)
    for m in thread.messages:
        support_side = m.author == "support"
        with st.chat_message("assistant" if support_side else "user",
                             avatar=":material/support_agent:" if support_side else ":material/person:"):
            st.caption((_("Support") if support_side else _("You")) + " · " + fmt_date(m.created_at))
            st.text(m.body)
    if ticket.status == "closed":
        st.caption(_("This ticket is closed. Please open a new one above if you need more help."))
        return
    with st.form(f"support_answer_{ticket.id}", clear_on_submit=True):
        text = st.text_area(_("Your answer"), key=f"support_answer_body_{ticket.id}",
                            max_chars=support.MAX_BODY_CHARS, height=100)
        if st.form_submit_button(_("Send answer"), type="primary"):
            try:
                with get_session() as session:
                    inbox.answer(session, ticket_id=ticket.id, user=user, body=text)
            except VormError as exc:
                st.error(error_text(exc))
            else:
                st.session_state["_support_done"] = _("Your answer was added to the ticket.")
                st.rerun()


if user is not None:
    with get_session() as session:
        mine = inbox.user_tickets(session, user=user)
    st.subheader(_("Your tickets"))
    if not mine:
        st.caption(_("No tickets."))
    for t in mine:
        title = f"#{t.id} · {plain(t.subject)} · {label('request_status', t.status)} · {fmt_date(t.updated_at)}"
        with st.expander(title, expanded=t.status == "answered", icon=":material/forum:"):
            _thread(int(t.id or 0))
