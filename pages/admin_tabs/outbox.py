"""Outbox: every mail the product wrote, and whether it went. Without SMTP_HOST nothing goes: this is where
an operator sees what would have been sent (a confirmation link, a support reply, an export)."""

from __future__ import annotations

import streamlit as st

from core import mail
from core.admin import actions
from core.config import get_settings
from core.db import get_session
from core.errors import VormError
from core.models import User
from core.text import escape
from pages.common import _, error_text, fmt_date, label

ALL = "all"


def render(admin: User, period: object = None) -> None:
    st.subheader(_("Outbox"))
    if get_settings().smtp_host:
        st.caption(_("Mails go out through the mail server {host} within a minute; one that keeps failing is "
                     "retried less and less often, and one that can never be sent is marked so, with the reason.",
                     host=get_settings().smtp_host))
    else:
        st.warning(_("No mail server is set up (SMTP_HOST), so no mail is sent: every mail waits here, and its "
                     "recipient, subject and links are also written to the web and worker logs."),
                   icon=":material/mail_lock:")
    status = st.segmented_control(_("Status"), [*mail.STATUSES, ALL], default=ALL, key="admin_outbox_status",
                                  format_func=lambda s: _("all") if s == ALL else label("outbox_status", s))
    try:
        with get_session() as session:
            rows = actions.outbox(session, admin=admin, status=None if status in (None, ALL) else status)
    except VormError as exc:
        st.error(error_text(exc))
        return
    if not rows:
        st.caption(_("No mails."))
        return
    # Stored text as it came (rows from before the input checks too): control characters escaped.
    st.dataframe([{"#": m.id, _("Written"): fmt_date(m.created_at), _("To"): escape(m.to_address),
                   _("Mail subject"): escape(m.subject), _("Kind"): label("mail_kind", m.kind),
                   _("Status"): label("outbox_status", m.status), _("Attempts"): m.attempts,
                   _("Problem"): escape(m.last_error) if m.last_error else "—"} for m in rows],
                 hide_index=True, width="stretch", key="admin_outbox")
    subjects = {int(m.id or 0): escape(m.subject) for m in rows}
    with st.form("admin_outbox_open"):
        chosen = st.selectbox(_("Message"), list(subjects), key="admin_outbox_message",
                              format_func=lambda i: f"#{i} · {subjects[i]}")
        st.caption(_("Its links act for its recipient (a password reset, a confirmation): opening it is kept in "
                     "the audit log."))
        opened = st.form_submit_button(_("Show the text"), icon=":material/mail:")
    if opened and chosen is not None:
        try:
            with get_session() as session:
                message = actions.open_outbox_message(session, admin=admin, message_id=int(chosen))
        except VormError as exc:
            st.error(error_text(exc))
        else:
            st.markdown(f"**{_('To')}:** `{escape(message.to_address)}`  \n**{_('Mail subject')}:** "
                        f"`{escape(message.subject)}`")
            st.code(message.body, language=None, wrap_lines=True)
