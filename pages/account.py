"""Account: the plan and its subscription, invoices, API keys and webhooks, and the account's own settings
(name, email, password, language).

Upgrading and managing the subscription happen on Stripe's pages (Checkout and the Billing Portal):
the button asks core for the session's URL and the browser is sent there. Stripe sends the user
back to ``/account?checkout=success``; the plan changes when Stripe's webhook arrives, which this
page waits for (a fragment that polls the database).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import streamlit as st
from sqlmodel import col, select

from core import i18n
from core.accounts import auth
from core.billing import checkout, entitlements
from core.billing.entitlements import BillingState
from core.config import get_settings
from core.db import get_session
from core.errors import VormError
from core.jobs.queue import generations_used_today
from core.models import InvoiceRecord, User
from core.privacy import correction
from pages import account_api, common
from pages.common import (
    N_,
    _,
    error_text,
    flash,
    fmt_date,
    fmt_money,
    fmt_number,
    label,
    ngettext,
    plain,
    require_user,
)

CONFIRM_POLL_SECONDS = 2.0  # how often the page looks for the webhook's plan change after a payment
INVOICES_SHOWN = 24

user = require_user()
st.title(_("Account"))


def _refreshed() -> User:
    with get_session() as session:
        fresh = session.get(User, user.id)
        return fresh if fresh is not None else user


def _to_stripe(make_session: Callable[..., str]) -> None:
    """Ask Stripe for a Checkout or Portal session and send the browser there; a refusal is shown here."""
    try:
        with get_session() as session:
            url = make_session(session, user_id=user.id)
    except VormError as exc:
        st.error(error_text(exc), icon=":material/error:")
    else:
        _send_browser_to(url)


def _send_browser_to(url: str) -> None:
    """Send the browser to a Stripe page; a button stays as the way there should the script not run."""
    st.session_state["_account_redirect"] = url
    st.rerun()


redirect = st.session_state.pop("_account_redirect", None)
if redirect:
    st.info(_("Taking you to Stripe…"), icon=":material/open_in_new:")
    st.link_button(_("Continue to Stripe"), redirect, type="primary", icon=":material/open_in_new:")
    st.html(f"<script>window.location.assign({json.dumps(redirect)});</script>", unsafe_allow_javascript=True)

# --- back from Stripe ----------------------------------------------------------------------------

came_back = st.query_params.get("checkout")
if came_back == "cancelled":
    st.info(_("The payment was cancelled; nothing was charged."), icon=":material/info:")
    del st.query_params["checkout"]
elif came_back == "success":
    if _refreshed().plan == "premium":
        del st.query_params["checkout"]
        st.success(_("Welcome to premium! Your payment is confirmed."), icon=":material/workspace_premium:")
    else:
        @st.fragment(run_every=CONFIRM_POLL_SECONDS)
        def _wait_for_payment() -> None:
            if _refreshed().plan == "premium":
                del st.query_params["checkout"]
                flash("success", msgid=N_("Welcome to premium! Your payment is confirmed."))
                st.rerun(scope="app")
            st.info(_("Thank you! Your payment is being confirmed; this page shows premium as soon as Stripe "
                      "tells us, usually within seconds."), icon=":material/hourglass_top:")

        _wait_for_payment()

# --- plan and subscription ---------------------------------------------------------------------------

settings = get_settings()
with get_session() as session:
    current = session.get(User, user.id) or user
    status = entitlements.account_status(session, user=current)
    used = generations_used_today(session, user=current)
    invoices = list(session.exec(select(InvoiceRecord).where(InvoiceRecord.user_id == user.id)
                                 .order_by(col(InvoiceRecord.created_at).desc()).limit(INVOICES_SHOWN)).all())
limit = int(settings.tier(current.plan)["daily_generations"])

with st.container(border=True, key="account_plan"):
    st.subheader(_("Plan and subscription"))
    st.markdown(_("Your plan: **{plan}**", plan=label("plan", current.plan)))
    if used > limit:  # more than the plan allows now: started under a bigger plan earlier today
        st.markdown(ngettext("{n} generation today; your plan allows {limit} a day, so none are left today.",
                             "{n} generations today; your plan allows {limit} a day, so none are left today.", used,
                             limit=fmt_number(limit)))
    else:
        st.markdown(ngettext("{used} of {n} generation used today", "{used} of {n} generations used today", limit,
                             used=fmt_number(used)))
    if status.state == BillingState.PREMIUM and status.renews_on:
        st.markdown(_("Your subscription renews on {date}.", date=fmt_date(status.renews_on)))
    elif status.state == BillingState.PREMIUM and status.ends_on:
        st.markdown(_("Your subscription is cancelled: premium until {date}.", date=fmt_date(status.ends_on)))
    elif status.state == BillingState.PREMIUM:
        st.caption(_("Premium was granted to your account by an operator."))
    elif status.state == BillingState.PAST_DUE:
        st.warning(_("Your last payment failed. Update your payment details before {date} to keep premium.",
                     date=fmt_date(status.ends_on)), icon=":material/credit_card_off:")
    elif status.state == BillingState.ENDED:
        st.info(_("Your premium subscription ended on {date}. Your uploads and models are kept until {kept}; "
                  "after that, the free plan's rule applies: they are deleted {days} days after creation.",
                  date=fmt_date(status.ended_on), kept=fmt_date(status.kept_until), days=settings.retention_days),
                icon=":material/event_busy:")
    if current.plan != "premium":
        premium = settings.tier("premium")
        price = common.premium_price_text()
        if price:
            st.markdown(_("**Premium: {price}**", price=price))
            st.caption(_("{n} generations a day, all formats (including PLY and 3MF), higher resolution, priority in "
                         "the queue, and your models kept while you subscribe.",
                         n=fmt_number(premium["daily_generations"])))
        else:
            st.caption(_("Premium: {n} generations a day, all formats (including PLY and 3MF), higher resolution, "
                         "priority in the queue, and your models kept while you subscribe.",
                         n=fmt_number(premium["daily_generations"])))
        if st.button(_("Upgrade to premium"), key="account_upgrade", type="primary",
                     icon=":material/workspace_premium:"):
            _to_stripe(checkout.start_checkout)
    if status.state in (BillingState.PREMIUM, BillingState.PAST_DUE, BillingState.ENDED) and \
            current.stripe_customer_id:
        if st.button(_("Manage subscription"), key="account_manage", icon=":material/manage_accounts:",
                     type="primary" if current.plan == "premium" else "secondary"):
            _to_stripe(checkout.open_portal)
        st.caption(_("Cancel, change your card or download invoices on Stripe's secure page. We never see or store "
                     "your card details."))

    st.markdown("**" + _("Invoices") + "**")
    if invoices:
        st.dataframe([{_("Date"): fmt_date(i.created_at), _("Amount"): fmt_money(i.amount_cents, i.currency),
                       _("Invoice"): i.stripe_invoice_id} for i in invoices], key="account_invoices",
                     hide_index=True)
    else:
        st.caption(_("No invoices yet."))

# --- API keys and webhooks ---------------------------------------------------------------------------

account_api.render(current)

# --- the account's own settings ------------------------------------------------------------------

st.subheader(_("Your account"))
st.markdown(f"**{_('Email address')}:** {plain(current.email)}  \n"
            f"**{_('Display name')}:** {plain(current.name) if current.name else '—'}")

with st.expander(_("Change display name"), icon=":material/edit:"), st.form("account_name_form"):
    name = st.text_input(_("Display name"), value=current.name, key="account_name",
                         max_chars=correction.MAX_NAME_CHARS,
                         help=_("Shown in the app; at most {n} characters.", n=correction.MAX_NAME_CHARS))
    if st.form_submit_button(_("Save name"), type="primary"):
        try:
            with get_session() as session:
                correction.change_name(session, user=current, name=name)
        except VormError as exc:
            st.error(error_text(exc), icon=":material/error:")
        else:
            flash("success", msgid=N_("Your name was saved."))
            st.rerun()

with st.expander(_("Change email address"), icon=":material/alternate_email:"), st.form("account_email_form"):
    new_email = st.text_input(_("New email address"), key="account_new_email")
    password = st.text_input(_("Current password"), type="password", key="account_email_password")
    if st.form_submit_button(_("Send confirmation link"), type="primary"):
        try:
            with get_session() as session:
                sent_to = correction.request_email_change(session, user=current, new_email=new_email,
                                                          password=password)
        except VormError as exc:
            st.error(error_text(exc), icon=":material/error:")
        else:
            flash("success", message=_("A confirmation link is on its way to {email}. Your address changes when "
                                       "you open it (within 24 hours).", email=plain(sent_to)) if common.mail_is_sent()
                  else _("A confirmation link for {email} is waiting to be sent: this installation has no mail "
                         "server set up yet, so ask its operator for it. Your address changes when you open it "
                         "(within 24 hours).", email=plain(sent_to)))
            st.rerun()

with st.expander(_("Change password"), icon=":material/password:"), st.form("account_password_form",
                                                                          clear_on_submit=True):
    old_password = st.text_input(_("Current password"), type="password", key="account_pw_current",
                                 autocomplete="current-password")
    new_password = st.text_input(_("New password"), type="password", key="account_pw_new",
                                 help=_("At least 10 characters, with letters and digits."),
                                 autocomplete="new-password")
    st.caption(_("At least 10 characters, with letters and digits. Other browsers where you are logged in are "
                 "logged out."))
    if st.form_submit_button(_("Change password"), type="primary"):
        try:
            with get_session() as session:
                auth.change_password(session, user_id=user.id, old_password=old_password,
                                     new_password=new_password, keep_token=common.session_token())
        except VormError as exc:
            st.error(error_text(exc), icon=":material/error:")
        else:
            flash("success", msgid=N_("Your password was changed. You stay logged in here; other browsers are "
                                      "logged out."))
            st.rerun()



def _language_changed() -> None:
    # A callback runs before the frame draws the sidebar's switch, so both can show the new choice.
    common.set_lang(st.session_state["account_language"])
    st.session_state["lang_switch"] = common.lang()


if st.session_state.get("account_language") != common.lang():  # switched in the sidebar since
    st.session_state["account_language"] = common.lang()
st.selectbox(_("Language"), list(i18n.LANGS), key="account_language", on_change=_language_changed,
             format_func=i18n.LANG_NAMES.__getitem__,
             help=_("Saved on your account: pages and emails use it on every device."))

try:
    st.page_link("pages/my_data.py", label=_("See, download or delete all your data on the My data page"),
                 icon=":material/badge:")
except Exception:  # the page is not registered (run on its own, e.g. in a page test)
    st.caption(_("See, download or delete all your data on the My data page"))
