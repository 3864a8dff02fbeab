"""Overview: users, money, storage and retention, support and privacy at a glance, workers."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.admin import metrics
from core.db import get_session
from core.models import User
from core.support import requests
from pages.admin_tabs import charts
from pages.common import N_, _, fmt_date, fmt_money, fmt_number, fmt_percent, fmt_size, label, ngettext

AGE_LABELS = (N_("under 1 day"), N_("1–3 days"), N_("3–7 days"), N_("over 7 days"))


@st.cache_data(ttl=600, show_spinner=False)
def _next_purge(db_url: str) -> dict[str, Any]:
    # A dry run lists storage prefixes; once per 10 minutes is plenty for a forecast.
    with get_session() as session:
        return metrics.next_purge(session)


def render(admin: User, period: metrics.Period) -> None:
    from core.config import get_settings

    with get_session() as session:
        users = metrics.users(session, period)
        money = metrics.money(session, period)
        store = metrics.storage(session)
        history = metrics.purge_history(session, limit=14)
        ages = metrics.tickets_by_age(session, period.now)
        waiting = requests.list_requests(session, include_resolved=False, now=period.now)
        workers = metrics.workers(session, period.now)
        untaken = metrics.untaken_jobs(session, period.now)
    st.subheader(_("Users"))
    c = st.columns(5)
    c[0].metric(_("Accounts"), fmt_number(users["total"]))
    c[1].metric(_("New in this period"), fmt_number(users["new_total"]))
    c[2].metric(_("Active, 7 days"), fmt_number(users["active_7d"]))
    c[3].metric(_("Active, 30 days"), fmt_number(users["active_30d"]))
    c[4].metric(_("Free / premium"), f"{fmt_number(users['by_plan'].get('free', 0))} / "
                                     f"{fmt_number(users['by_plan'].get('premium', 0))}")
    charts.bars(charts.timeline(users["new"], period), x="t", y="n",
                x_title=_("Hour") if period.hourly else _("Date"), y_title=_("New accounts"), key="chart_new_users",
                empty=_("No new accounts in this period."))

    st.subheader(_("Money"))
    c = st.columns(5)
    c[0].metric(_("Active subscriptions"), fmt_number(money["active"]))
    mrr = " + ".join(fmt_money(v, cur) for cur, v in sorted(money["mrr_cents"].items())) or fmt_money(0, "eur")
    c[1].metric(_("Monthly recurring revenue"), mrr,
                help=_("Each active subscriber's latest invoice; subscribers without one count at "
                       "PREMIUM_PRICE_CENTS."))
    c[2].metric(_("Failed payments"), fmt_number(money["failed_payments"]))
    c[3].metric(_("Ended subscriptions"), fmt_number(money["ended"]))
    c[4].metric(_("Churn"), fmt_percent(money["churn"]))
    if money["unpriced"]:
        st.caption(_("{n} active subscribers have no invoice yet and no PREMIUM_PRICE_CENTS is set; they are not "
                     "in the revenue.", n=fmt_number(money["unpriced"])))

    st.subheader(_("Storage and retention"))
    charts.table([{_("Plan"): label("plan", s["plan"]), _("Uploads"): fmt_number(s["uploads"]),
                   _("Upload size"): fmt_size(s["upload_bytes"]), _("Models"): fmt_number(s["models"])}
                  for s in store], key="admin_storage", empty=_("Nothing is stored yet: no uploads and no models."))
    nxt = _next_purge(get_settings().db_url)
    st.caption(_("The next purge would delete {models} models and {uploads} uploads ({objects} stored files) of "
                 "{users} accounts.", models=fmt_number(nxt["models"]), uploads=fmt_number(nxt["uploads"]),
                 objects=fmt_number(nxt["objects"]), users=fmt_number(nxt["users"])))
    if history:
        rows = [{"t": charts.bucket(h["at"]), "n": h["models"] + h["uploads"]}
                for h in sorted(history, key=lambda h: h["at"])]
        st.markdown("**" + _("Purge history") + "**")
        charts.bars(rows, x="t", y="n", x_title=_("Date"), y_title=_("Models and uploads deleted"),
                    key="chart_purges", empty=_("The last purges deleted nothing."))
    else:
        st.caption(_("No purge has run yet."))

    left, right = st.columns(2)
    with left:
        st.subheader(_("Open tickets by age"))
        names = [_(text) for text in AGE_LABELS]
        charts.bars([{"age": names[a["bucket"]], "n": a["n"]} for a in ages], x="age", y="n",
                    x_title=_("Waiting"), y_title=_("Open tickets"), key="chart_ticket_age",
                    empty=_("No open tickets."))
    with right:
        st.subheader(_("Privacy requests"))
        overdue = sum(r.overdue for r in waiting)
        c = st.columns(2)
        c[0].metric(_("Waiting for a person"), fmt_number(len(waiting)))
        c[1].metric(_("Overdue"), fmt_number(overdue))
        if waiting:
            st.dataframe([{"#": r.request.id, _("Kind"): label("privacy_kind", r.request.kind),
                           _("Due"): ("⚠ " if r.overdue else "") + fmt_date(r.request.due_at)} for r in waiting],
                         hide_index=True, key="admin_overview_requests")

    st.subheader(_("Workers"))
    if workers:
        st.dataframe([{_("Worker"): w["worker_id"], _("Host"): w["hostname"], _("Device"): w["device"],
                       _("Takes"): ", ".join(label("job_kind", k) for k in w["modes"]),
                       _("Concurrency"): fmt_number(w["concurrency"]), _("Running"): fmt_number(w["running"]),
                       _("Background removal"): w["segmenter"], _("Last heartbeat"): fmt_date(w["last_seen_at"]),
                       _("Alive"): label("yes_no", "yes" if w["alive"] else "no"),
                       _("Jobs per minute"): fmt_number(w["jobs_per_minute"], digits=1)} for w in workers],
                     hide_index=True, width="stretch", key="admin_workers")
    else:
        st.warning(_("No worker has reported in. Start one with `python -m jobs.worker`, or jobs will wait forever."))
    if workers and untaken:
        st.warning(ngettext("{n} queued job is of a kind no live worker takes ({kinds}); it waits until a worker "
                            "started with `--modes {codes}` takes it.",
                            "{n} queued jobs are of a kind no live worker takes ({kinds}); they wait until a worker "
                            "started with `--modes {codes}` takes them.", sum(untaken.values()),
                            kinds=", ".join(label("job_kind", k) for k in untaken), codes=",".join(untaken)))
