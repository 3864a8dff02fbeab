"""Operations: metrics, jobs, the support inbox, privacy requests, users, the outbox and the audit log. Admins only.

The navigation registers this page for admins only (others get a "not allowed" stub at /admin);
the role is checked here again, against the database row, so a stale session or a direct run
cannot bypass it. Each tab lives in ``pages/admin_tabs``; the queries in ``core.admin``.
"""

from __future__ import annotations

import streamlit as st

from core.admin import metrics
from core.db import get_session
from core.models import Role, User
from pages.admin_tabs import audit, jobs, outbox, overview, privacy, support, users
from pages.common import _, label, require_admin

admin = require_admin()
with get_session() as session:
    row = session.get(User, admin.id)
if row is None or row.role != Role.ADMIN:
    st.error(_("You are not allowed to see this page."))
    st.stop()

st.title(_("Metrics"))
notice = st.session_state.pop("_admin_notice", None)
if notice:
    st.success(notice, icon=":material/check_circle:")

period_key = st.segmented_control(_("Period"), list(metrics.PERIODS_HOURS), default="7d", key="admin_period",
                                  format_func=lambda p: label("period", p), required=True) or "7d"
period = metrics.Period.of(period_key)

# Lazy tabs: only the open one runs its queries (switching tabs reruns the page).
TABS = [(_("Overview"), overview.render), (_("Jobs"), jobs.render), (_("Support"), support.render),
        (_("Privacy"), privacy.render), (_("Users"), users.render), (_("Outbox"), outbox.render),
        (_("Audit log"), audit.render)]
for container, (_title, render) in zip(st.tabs([t for t, _r in TABS], key="admin_tab", on_change="rerun"), TABS,
                                       strict=True):
    if container.open:
        with container:
            render(row, period)
