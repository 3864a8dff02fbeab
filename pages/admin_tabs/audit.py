"""The audit log, filtered by actor, action and target."""

from __future__ import annotations

import json

import streamlit as st

from core.admin import auditlog
from core.db import get_session
from core.ids import parse_id
from core.models import User
from pages.common import _, fmt_date

ANY = ""


def render(admin: User, period: object = None) -> None:
    st.subheader(_("Audit log"))
    with get_session() as session:
        known = auditlog.actions(session)
    c = st.columns(4)
    actor = c[0].text_input(_("Actor"), key="admin_audit_actor", placeholder="admin:1, operator, system, user")
    action = c[1].selectbox(_("Action"), [ANY, *known], key="admin_audit_action",
                            format_func=lambda a: _("all") if a == ANY else a)
    user_text = c[2].text_input(_("Concerns account (number)"), key="admin_audit_user")
    target = c[3].text_input(_("Target"), key="admin_audit_target", placeholder="model:12, user:3")
    user_id = parse_id(user_text)
    with get_session() as session:
        rows = auditlog.search(session, actor=actor or None, action=action or None, user_id=user_id,
                               target=target or None)
    if not rows:
        st.caption(_("None."))
        return
    st.dataframe([{"#": r.id, _("When"): fmt_date(r.created_at), _("Actor"): r.actor, _("Action"): r.action,
                   _("Account"): r.user_id, _("Details"): json.dumps(r.details, ensure_ascii=False, sort_keys=True)}
                  for r in rows], hide_index=True, width="stretch", key="admin_audit_rows")
