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
from core.privacy import erasure, exports, retention
from pages import common
from pages.common import N_, _, error_text, fmt_date, fmt_money, fmt_number, label, ngettext, plain, require_user

PER_PAGE = 10  # items per page in each list

user = require_user()
st.title(_("My data"))
st.write(_("Everything we hold about you. You can download it, correct it or delete it here yourself."))

notice = st.session_state.pop("_mydata_notice", None)
if notice:
    st.success(notice, icon=":material/check_circle:")


def _pager(key: str, total: int) -> int:
    """A page picker under a list when it is longer than one page; returns the offset."""
    if total <= PER_PAGE:
        return 0
    pages = -(-total // PER_PAGE)
    page = int(st.number_input(_("Page"), min_value=1, max_value=pages, value=1, step=1,
                               key=f"{key}_page", width=160))
    first = (page - 1) * PER_PAGE
    last = min(first + PER_PAGE, total)
    st.caption(_("{first}–{last} of {total}", first=fmt_number(first + 1), last=fmt_number(last),
                 total=fmt_number(total)))
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
    st.subheader(_("Download your data"))
    st.write(_("A ZIP with all your data (JSON and CSV), your original uploads and every model. It is ready "
               "within a minute or two; we also email you the link. One export per 24 hours; the link works "
               "for 7 days."))
    with get_session() as session:
        latest = exports.latest_export(session, user=user)
        allowed_at = exports.next_export_allowed_at(session, user=user)
    if latest is not None and latest.status in ("pending", "processing"):
        st.info(_("Your export is being prepared…"), icon=":material/hourglass_top:")
        if st.button(_("Refresh"), key="mydata_export_refresh", icon=":material/refresh:"):
            st.rerun()
    elif latest is not None and latest.status == "done":
        url = exports.export_download_url(latest)
        if url:
            st.success(_("Your export is ready (available until {date}).", date=fmt_date(latest.export_expires_at)),
                       icon=":material/inventory_2:")
            st.link_button(_("Download ZIP"), url, key="mydata_export_download", type="primary",
                           icon=":material/download:")
    elif latest is not None and latest.status == "failed":
        st.warning(_("Building your export failed. Please request it again."))
    if allowed_at is not None:
        st.caption(_("Next export possible from {date}.", date=fmt_date(allowed_at)))
    if st.button(_("Request export"), key="mydata_export_request", icon=":material/archive:",
                 disabled=allowed_at is not None):
        try:
            with get_session() as session:
                exports.request_export(session, user=user)
        except VormError as exc:
            st.error(error_text(exc))
        else:
            _done(_("Your export was requested. Refresh this page in a minute."))

# --- profile and corrections -------------------------------------------------------------

st.subheader(_("Profile"))
c1, c2 = st.columns(2)
for column, name, value in ((c1, _("Email address"), user.email), (c1, _("Name"), user.name or "—"),
                             (c2, _("Member since"), fmt_date(user.created_at)),
                             (c2, _("Last login"), fmt_date(user.last_login_at)),
                             (c2, _("Language"), label("language", user.locale))):
    column.markdown(f"**{name}:** {plain(value)}")

try:
    st.page_link("pages/account.py", label=_("Change your name, email address, password or language on the Account "
                                            "page"), icon=":material/account_circle:")
except Exception:  # the page is not registered (run on its own, e.g. in a page test)
    st.caption(_("Change your name, email address, password or language on the Account page"))

# --- plan ------------------------------------------------------------------------------

st.subheader(_("Plan and subscription"))
st.markdown(_("Your plan: **{plan}**", plan=label("plan", user.plan)))
if user.stripe_customer_id:
    st.markdown(_("Stripe customer reference: `{ref}`", ref=user.stripe_customer_id))
subs, _subs_total = _rows(Subscription, "subs")
if subs:
    st.dataframe([{_("Subscription"): s.stripe_subscription_id, _("Status"): s.status,
                   _("Period ends"): fmt_date(s.current_period_end), _("Ended"): fmt_date(s.ended_at),
                   _("Since"): fmt_date(s.created_at)} for s in subs], key="mydata_subscriptions", hide_index=True)
else:
    st.caption(_("No subscriptions."))
invoices, inv_total = _rows(InvoiceRecord, "invoices")
if invoices:
    st.markdown("**" + _("Invoices (references)") + "**")
    st.dataframe([{_("Invoice"): i.stripe_invoice_id, _("Amount"): fmt_money(i.amount_cents, i.currency),
                   _("Date"): fmt_date(i.created_at)} for i in invoices], key="mydata_invoices", hide_index=True)
    _pager("invoices", inv_total)

# --- uploads and models ---------------------------------------------------------------------

st.subheader(_("Uploads") + " · " + _("Models"))
st.caption(_("Free plan: uploads and models are deleted {days} days after creation. Premium: kept while your "
             "subscription runs, and {days} days after it ends.", days=get_settings().retention_days))
with get_session() as session:
    rule = retention.retention_rule(session, user=user)


def _purge_text(created: Any) -> str:
    when = rule.purge_date(created)
    if when is None:
        return _("kept while your subscription is active")
    days = max(0, (when - utcnow()).days)
    return ngettext("deleted on {date} ({n} day left)", "deleted on {date} ({n} days left)", days, date=fmt_date(when))


def _item_list(model: Any, key: str, empty: str, name_of: Any, delete: Any) -> None:
    items, total = _rows(model, key)
    if not items:
        st.caption(empty)
        return
    for item in items:
        with st.container(border=True, key=f"{key}_{item.id}"):
            a, b = st.columns([5, 1], vertical_alignment="center")
            a.markdown(f"**{plain(name_of(item))}**  \n" + _("created {date}", date=fmt_date(item.created_at))
                       + " · " + _purge_text(item.created_at))
            with b.popover(_("Delete"), icon=":material/delete:", key=f"{key}_del_{item.id}"):
                if st.button(_("Delete"), key=f"{key}_del_confirm_{item.id}", type="primary"):
                    try:
                        with get_session() as session:
                            delete(session, item.id)
                    except VormError as exc:
                        st.error(error_text(exc))
                    else:
                        _done(_("Deleted."))
    _pager(key, total)


tab_u, tab_m = st.tabs([_("Uploads"), _("Models")])
with tab_u:
    _item_list(Upload, "uploads", _("You have no uploads."), lambda u: u.filename or f"#{u.id}",
               lambda s, i: erasure.delete_upload(s, user=user, upload_id=i))
with tab_m:
    _item_list(Model3D, "models", _("You have no models."), lambda m: m.name or f"#{m.id}",
               lambda s, i: erasure.delete_model(s, user=user, model_id=i))

# --- logs, acceptances, tickets, requests ------------------------------------------------------

def _section(title: str, model: Any, key: str, columns: Callable[[Any], dict[str, Any]], empty: str,
             note: str | None = None) -> None:
    """One paginated table of the user's rows, or its empty state."""
    st.subheader(_(title))
    if note:
        st.caption(_(note))
    rows, total = _rows(model, key)
    if rows:
        st.dataframe([columns(r) for r in rows], key=f"mydata_{key}", hide_index=True)
        _pager(key, total)
    else:
        st.caption(_(empty))


_section(N_("Access log (IP address and browser)"), AccessEvent, "access",
         note=N_("Full IP addresses are kept for 30 days, then shortened to their network; entries go after 180 days."),
         empty=N_("No entries."),
         columns=lambda e: {_("Date"): fmt_date(e.created_at), _("Event"): label("access", e.kind),
                            _("Reason"): label("access_reason", e.reason) if e.reason else "",
                            _("IP address"): e.ip or "", _("Browser"): e.user_agent or ""})
_section(N_("Privacy policy acceptances"), PolicyAcceptance, "acceptances", empty=N_("None recorded."),
         columns=lambda a: {_("Version"): a.version, _("Date"): fmt_date(a.accepted_at)})
_section(N_("Support tickets"), SupportTicket, "tickets", empty=N_("No tickets."),
         columns=lambda k: {"#": k.id, _("Subject"): k.subject, _("Status"): label("request_status", k.status),
                            _("Date"): fmt_date(k.created_at)})
_section(N_("Privacy requests"), PrivacyRequest, "requests", empty=N_("No privacy requests."),
         columns=lambda r: {"#": r.id, _("Kind"): label("privacy_kind", r.kind),
                            _("Status"): label("request_status", r.status), _("Date"): fmt_date(r.created_at),
                            _("Due"): _("answer due by {date}", date=fmt_date(r.due_at)),
                            _("Resolved"): fmt_date(r.resolved_at), _("Outcome"): r.resolution_note or ""})
try:
    st.page_link("pages/support.py", label=_("Questions or another request? Use the support page."),
                 icon=":material/support:")
except Exception:  # the page is not registered (run on its own, e.g. in a page test)
    st.caption(_("Questions or another request? Use the support page."))

# --- delete the account -------------------------------------------------------------------------

st.divider()
with st.expander(_("Delete your account"), icon=":material/warning:"), st.form("mydata_delete_form"):
    st.warning(_("This deletes your account and everything in it for good: profile, uploads, models, logs, "
                 "tickets, sessions, and your customer record at Stripe. Only invoice references stay, because "
                 "bookkeeping law requires them, without your name or email. This cannot be undone."))
    confirm_password = st.text_input(_("Current password"), type="password", key="mydata_delete_password")
    understood = st.checkbox(_("I understand that this cannot be undone"), key="mydata_delete_understood")
    if st.form_submit_button(_("Delete my account"), type="primary", icon=":material/delete_forever:"):
        if not understood:
            st.error(_("Tick “I understand that this cannot be undone” to delete your account."))
        else:
            try:
                with get_session() as session:
                    outcome = erasure.delete_account(session, user=user, password=confirm_password,
                                                     client=common.client())
            except VormError as exc:
                st.error(error_text(exc))
            else:
                common.log_out()
                common.flash("success", msgid=N_("Your account and all its data have been deleted. Goodbye!")
                             if outcome == "erased" else N_("Your account is closed and logged out; the last of "
                                                            "its data is being deleted within minutes."))
                st.rerun()
