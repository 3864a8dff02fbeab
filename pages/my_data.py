"""My data (policy clause 6): everything we hold about the user, with export, correction and deletion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from core.config import get_settings
from core.db import get_session
from core.errors import VormError
from core.models import (
    AccessEvent,
    InvoiceRecord,
    Model3D,
    PolicyAcceptance,
    PrivacyRequest,
    Subscription,
    SupportTicket,
    Upload,
    utcnow,
)
from core.privacy import correction, erasure, exports, maintenance
from pages import common
from pages.common import error_text, fmt_date, require_user, t

PER_PAGE = 10  # items per page in each list

user = require_user()
st.title(t("mydata.title"))
st.write(t("mydata.intro"))

notice = st.session_state.pop("_mydata_notice", None)
if notice:
    st.success(notice, icon=":material/check_circle:")


def _pager(key: str, total: int) -> int:
    """A page picker under a list when it is longer than one page; returns the offset."""
    if total <= PER_PAGE:
        return 0
    pages = -(-total // PER_PAGE)
    page = int(st.number_input(t("mydata.page"), min_value=1, max_value=pages, value=1, step=1,
                               key=f"{key}_page", width=160))
    first = (page - 1) * PER_PAGE
    st.caption(t("mydata.page_of", first=first + 1, last=min(first + PER_PAGE, total), total=total))
    return first


def _rows(model: Any, key: str) -> tuple[list[Any], int]:
    offset = int(st.session_state.get(f"{key}_page", 1) or 1) - 1
    with get_session() as session:
        rows, total = exports.page_of(session, model, user_id=user.id, offset=offset * PER_PAGE, limit=PER_PAGE)
    if not rows and total and offset:  # the page ran past the end after deletions
        st.session_state.pop(f"{key}_page", None)
        return _rows(model, key)
    return rows, total


def _done(message: str) -> None:
    st.session_state["_mydata_notice"] = message
    st.rerun()


# --- export ---------------------------------------------------------------------------

with st.container(border=True, key="mydata_export"):
    st.subheader(t("mydata.export"))
    st.write(t("mydata.export_intro"))
    with get_session() as session:
        latest = exports.latest_export(session, user=user)
        allowed_at = exports.next_export_allowed_at(session, user=user)
    if latest is not None and latest.status in ("pending", "processing"):
        st.info(t("mydata.export_pending"), icon=":material/hourglass_top:")
        if st.button(t("mydata.export_refresh"), key="mydata_export_refresh", icon=":material/refresh:"):
            st.rerun()
    elif latest is not None and latest.status == "done":
        url = exports.export_download_url(latest)
        if url:
            st.success(t("mydata.export_ready", date=fmt_date(latest.export_expires_at)), icon=":material/inventory_2:")
            st.link_button(t("mydata.export_download"), url, key="mydata_export_download", type="primary",
                           icon=":material/download:")
    elif latest is not None and latest.status == "failed":
        st.warning(t("mydata.export_failed"))
    if allowed_at is not None:
        st.caption(t("mydata.export_next", date=fmt_date(allowed_at)))
    if st.button(t("mydata.export_request"), key="mydata_export_request", icon=":material/archive:",
                 disabled=allowed_at is not None):
        try:
            with get_session() as session:
                exports.request_export(session, user=user)
        except VormError as exc:
            st.error(error_text(exc))
        else:
            _done(t("mydata.export_requested"))

# --- profile and corrections -------------------------------------------------------------

st.subheader(t("mydata.profile"))
c1, c2 = st.columns(2)
c1.markdown(f"**{t('mydata.email')}:** {user.email}")
c1.markdown(f"**{t('mydata.name')}:** {user.name or '—'}")
c2.markdown(f"**{t('mydata.member_since')}:** {fmt_date(user.created_at)}")
c2.markdown(f"**{t('mydata.last_login')}:** {fmt_date(user.last_login_at)}")
c2.markdown(f"**{t('mydata.language')}:** {user.locale}")

e1, e2 = st.columns(2)
with e1.expander(t("mydata.edit_name"), icon=":material/edit:"), st.form("mydata_name_form"):
    name = st.text_input(t("mydata.name"), value=user.name, key="mydata_name", max_chars=correction.MAX_NAME_CHARS)
    if st.form_submit_button(t("mydata.save_name"), type="primary"):
        try:
            with get_session() as session:
                correction.change_name(session, user=user, name=name)
        except VormError as exc:
            st.error(error_text(exc))
        else:
            _done(t("mydata.name_saved"))
with e2.expander(t("mydata.edit_email"), icon=":material/alternate_email:"), st.form("mydata_email_form"):
    new_email = st.text_input(t("mydata.new_email"), key="mydata_new_email")
    password = st.text_input(t("mydata.current_password"), type="password", key="mydata_email_password")
    if st.form_submit_button(t("mydata.send_confirmation"), type="primary"):
        try:
            with get_session() as session:
                sent_to = correction.request_email_change(session, user=user, new_email=new_email, password=password)
        except VormError as exc:
            st.error(error_text(exc))
        else:
            _done(t("mydata.email_sent", email=sent_to))

# --- plan ------------------------------------------------------------------------------

st.subheader(t("mydata.plan"))
st.markdown(t("mydata.plan_is", plan=user.plan))
if user.stripe_customer_id:
    st.markdown(t("mydata.stripe_customer", ref=user.stripe_customer_id))
subs, _ = _rows(Subscription, "subs")
if subs:
    st.dataframe([{"subscription": s.stripe_subscription_id, "status": s.status,
                   "period end": fmt_date(s.current_period_end), "ended": fmt_date(s.ended_at),
                   "since": fmt_date(s.created_at)} for s in subs], key="mydata_subscriptions", hide_index=True)
else:
    st.caption(t("mydata.no_subscriptions"))
invoices, inv_total = _rows(InvoiceRecord, "invoices")
if invoices:
    st.markdown(f"**{t('mydata.invoices')}**")
    st.dataframe([{"invoice": i.stripe_invoice_id, "amount": f"{i.amount_cents / 100:.2f} {i.currency.upper()}",
                   "date": fmt_date(i.created_at)} for i in invoices], key="mydata_invoices", hide_index=True)
    _pager("invoices", inv_total)

# --- uploads and models ---------------------------------------------------------------------

st.subheader(f"{t('mydata.uploads')} · {t('mydata.models')}")
st.caption(t("mydata.retention", days=get_settings().retention_days))
with get_session() as session:
    rule = maintenance.retention_rule(session, user=user)


def _purge_text(created: Any) -> str:
    when = rule.purge_date(created)
    if when is None:
        return t("mydata.kept")
    days = max(0, (when - utcnow()).days)
    return t("mydata.purge_on", date=fmt_date(when), days=days)


def _item_list(model: Any, key: str, empty: str, label: Any, delete: Any) -> None:
    items, total = _rows(model, key)
    if not items:
        st.caption(empty)
        return
    for item in items:
        with st.container(border=True, key=f"{key}_{item.id}"):
            a, b = st.columns([5, 1], vertical_alignment="center")
            a.markdown(f"**{label(item)}**  \n{t('mydata.created', date=fmt_date(item.created_at))} · "
                       f"{_purge_text(item.created_at)}")
            with b.popover(t("mydata.delete"), icon=":material/delete:", key=f"{key}_del_{item.id}"):
                if st.button(t("mydata.delete"), key=f"{key}_del_confirm_{item.id}", type="primary"):
                    try:
                        with get_session() as session:
                            delete(session, item.id)
                    except VormError as exc:
                        st.error(error_text(exc))
                    else:
                        _done(t("mydata.deleted"))
    _pager(key, total)


tab_u, tab_m = st.tabs([t("mydata.uploads"), t("mydata.models")])
with tab_u:
    _item_list(Upload, "uploads", t("mydata.no_uploads"), lambda u: u.filename or f"#{u.id}",
               lambda s, i: erasure.delete_upload(s, user=user, upload_id=i))
with tab_m:
    _item_list(Model3D, "models", t("mydata.no_models"), lambda m: m.name or f"#{m.id}",
               lambda s, i: erasure.delete_model(s, user=user, model_id=i))

# --- logs, acceptances, tickets, requests ------------------------------------------------------

def _section(title: str, model: Any, key: str, columns: Callable[[Any], dict[str, Any]], empty: str,
             note: str | None = None) -> None:
    """One paginated table of the user's rows, or its empty state."""
    st.subheader(t(title))
    if note:
        st.caption(t(note))
    rows, total = _rows(model, key)
    if rows:
        st.dataframe([columns(r) for r in rows], key=f"mydata_{key}", hide_index=True)
        _pager(key, total)
    else:
        st.caption(t(empty))


_section("mydata.access", AccessEvent, "access", note="mydata.access_note", empty="mydata.no_access",
         columns=lambda e: {"date": fmt_date(e.created_at), "event": e.kind, "reason": e.reason or "",
                            "IP": e.ip or "", "browser": e.user_agent or ""})
_section("mydata.acceptances", PolicyAcceptance, "acceptances", empty="mydata.no_acceptances",
         columns=lambda a: {"version": a.version, "date": fmt_date(a.accepted_at)})
_section("mydata.tickets", SupportTicket, "tickets", empty="mydata.no_tickets",
         columns=lambda k: {"#": k.id, "subject": k.subject, "status": k.status, "date": fmt_date(k.created_at)})
_section("mydata.requests", PrivacyRequest, "requests", empty="mydata.no_requests",
         columns=lambda r: {"#": r.id, "kind": r.kind, "status": r.status, "date": fmt_date(r.created_at),
                            "due": t("mydata.due", date=fmt_date(r.due_at)), "resolved": fmt_date(r.resolved_at)})
try:
    st.page_link("pages/support.py", label=t("mydata.support_link"), icon=":material/support:")
except Exception:  # the page is not registered (run on its own, e.g. in a page test)
    st.caption(t("mydata.support_link"))

# --- delete the account -------------------------------------------------------------------------

st.divider()
with st.expander(t("mydata.danger"), icon=":material/warning:"), st.form("mydata_delete_form"):
    st.warning(t("mydata.danger_intro"))
    confirm_password = st.text_input(t("mydata.current_password"), type="password", key="mydata_delete_password")
    understood = st.checkbox(t("mydata.danger_confirm"), key="mydata_delete_understood")
    if st.form_submit_button(t("mydata.delete_account"), type="primary", icon=":material/delete_forever:"):
        if not understood:
            st.error(t("mydata.danger_confirm"))
        else:
            try:
                with get_session() as session:
                    outcome = erasure.delete_account(session, user=user, password=confirm_password,
                                                     client=common.client())
            except VormError as exc:
                st.error(error_text(exc))
            else:
                common.log_out()
                common.flash("success", key="mydata.account_deleted" if outcome == "erased"
                             else "mydata.account_scheduled")
                st.rerun()
