"""Privacy requests: every request with its one-month legal deadline, overdue first; resolve with a note."""

from __future__ import annotations

import streamlit as st

from core.db import get_session
from core.errors import VormError
from core.models import User, utcnow
from core.support import requests
from core.support.tickets import MAX_DETAILS_CHARS
from pages.common import _, error_text, fmt_date, label, mail_is_sent, ngettext


def _due(row: requests.RequestRow) -> str:
    if row.request.status not in requests.WAITING:
        return _("resolved {date}", date=fmt_date(row.request.resolved_at)) if row.request.resolved_at else "—"
    days = (row.request.due_at - utcnow()).days
    if row.overdue:
        return "⚠ " + ngettext("overdue by {n} day", "overdue by {n} days", max(1, -days))
    return ngettext("{n} day left", "{n} days left", max(0, days))


def render(admin: User, period: object = None) -> None:
    st.subheader(_("Privacy requests"))
    st.caption(_("The law gives one month from receipt. Requests waiting for a person come first, the most urgent "
                 "on top."))
    with get_session() as session:
        rows = requests.list_requests(session)
    if not rows:
        st.caption(_("No privacy requests."))
        return
    overdue = sum(r.overdue for r in rows)
    if overdue:
        st.error(ngettext("{n} request is past its legal deadline.", "{n} requests are past their legal deadline.",
                          overdue), icon=":material/warning:")
    st.dataframe([{"#": r.request.id, _("User"): r.email or "—", _("Kind"): label("privacy_kind", r.request.kind),
                   _("Status"): label("request_status", r.request.status),
                   _("Received"): fmt_date(r.request.created_at), _("Due"): fmt_date(r.request.due_at),
                   _("Deadline"): _due(r), _("Outcome"): r.request.resolution_note or ""} for r in rows],
                 hide_index=True, width="stretch", key="admin_privacy_requests")
    waiting = [r for r in rows if r.request.status in requests.WAITING]
    if not waiting:
        return
    by_id = {int(r.request.id or 0): r for r in waiting}
    with st.form("admin_privacy_resolve", clear_on_submit=True):
        chosen = st.selectbox(_("Request"), list(by_id), key="admin_privacy_request",
                              format_func=lambda i: f"#{i} · {label('privacy_kind', by_id[i].request.kind)} · "
                                                    f"{by_id[i].email or '—'}")
        outcome = st.radio(_("Outcome"), list(requests.OUTCOMES), horizontal=True, key="admin_privacy_outcome",
                           format_func=lambda o: label("request_status", o))
        note = st.text_area(_("Note for the user"), key="admin_privacy_note", max_chars=MAX_DETAILS_CHARS,
                            help=_("The user reads this on My data and gets it by email.") if mail_is_sent() else
                            _("The user reads this on My data. The mail to them waits in the outbox: no mail server "
                              "is set up (SMTP_HOST)."))
        if st.form_submit_button(_("Resolve"), type="primary"):
            try:
                with get_session() as session:
                    requests.resolve(session, request_id=int(chosen), note=note, admin=admin, outcome=outcome)
            except VormError as exc:
                st.error(error_text(exc))
            else:
                st.session_state["_admin_notice"] = _("The request is resolved; the user was told.")
                st.rerun()
