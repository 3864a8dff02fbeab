"""Support inbox: tickets by status, one thread at a time, reply and close."""

from __future__ import annotations

import streamlit as st

from core.db import get_session
from core.errors import VormError
from core.models import User, utcnow
from core.support import inbox
from core.support.tickets import MAX_BODY_CHARS
from pages.common import _, error_text, fmt_date, fmt_duration, label, mail_is_sent, plain

ALL = "all"


def _thread(admin: User, ticket_id: int) -> None:
    try:
        with get_session() as session:
            thread = inbox.get_thread(session, ticket_id=ticket_id)
    except VormError as exc:
        st.error(error_text(exc))
        return
    t = thread.ticket
    st.markdown(f"**#{t.id} · {plain(t.subject)}**")
    st.caption(_("From {email} · {status} · opened {date}", email=plain(t.email),
                 status=label("request_status", t.status), date=fmt_date(t.created_at)))
    with st.chat_message("user", avatar=":material/person:"):
        st.caption(_("User") + " · " + fmt_date(t.created_at))
        st.text(t.body)
    for m in thread.messages:
        ours = m.author == "support"
        with st.chat_message("assistant" if ours else "user",
                             avatar=":material/support_agent:" if ours else ":material/person:"):
            st.caption((_("Support") if ours else _("User")) + " · " + fmt_date(m.created_at))
            st.text(m.body)
    with st.form(f"admin_reply_{t.id}", clear_on_submit=True):
        text = st.text_area(_("Reply to the user"), key=f"admin_reply_body_{t.id}", max_chars=MAX_BODY_CHARS,
                            height=120, help=_("Mailed to the user in their language and shown on their Support page.")
                            if mail_is_sent() else _("Shown on the user's Support page. The mail to them waits in "
                                                     "the outbox: no mail server is set up (SMTP_HOST)."))
        c1, c2 = st.columns(2)
        send = c1.form_submit_button(_("Send reply"), type="primary")
        close = c2.form_submit_button(_("Close ticket"), disabled=t.status == "closed")
    if send or close:
        try:
            with get_session() as session:
                if send:
                    inbox.reply(session, ticket_id=int(t.id or 0), body=text, admin=admin)
                if close:
                    inbox.close(session, ticket_id=int(t.id or 0), admin=admin)
        except VormError as exc:
            st.error(error_text(exc))
        else:
            sent = (_("Reply saved; the mail to the user goes out within a minute.") if mail_is_sent() else
                    _("Reply saved and shown on the user's Support page; its mail waits in the outbox (no mail "
                      "server is set up)."))
            st.session_state["_admin_notice"] = sent if send else _("Ticket closed.")
            st.rerun()


def render(admin: User, period: object = None) -> None:
    st.subheader(_("Support tickets"))
    status = st.segmented_control(_("Status"), [*inbox.TICKET_STATUSES, ALL], default="open", key="admin_ticket_status",
                                  format_func=lambda s: _("all") if s == ALL else label("request_status", s))
    with get_session() as session:
        tickets = inbox.list_tickets(session, status=None if status in (None, ALL) else status)
        counts = inbox.message_counts(session, [int(t.id or 0) for t in tickets])
    if not tickets:
        st.caption(_("No tickets."))
        return
    now = utcnow()
    st.dataframe([{"#": t.id, _("Subject"): t.subject, _("From"): t.email,
                   _("Status"): label("request_status", t.status),
                   _("Waiting"): fmt_duration((now - t.updated_at).total_seconds()),
                   _("Messages"): counts.get(int(t.id or 0), 0) + 1} for t in tickets],
                 hide_index=True, width="stretch", key="admin_tickets")
    ids = [int(t.id or 0) for t in tickets]
    subjects = {int(t.id or 0): t.subject for t in tickets}
    chosen = st.selectbox(_("Open a ticket"), ids, key="admin_ticket_open",
                          format_func=lambda i: f"#{i} · {subjects[i]}")
    if chosen is not None:
        _thread(admin, int(chosen))
