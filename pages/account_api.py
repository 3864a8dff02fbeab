"""The Account page's "API keys" and "Webhooks" sections (imported by pages/account.py, not a page itself).

Secrets (a new key, a new signing secret) are kept in the session only until they have been shown
once; the database holds a key's hash and nothing that could show it again.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.api import keys
from core.config import get_settings
from core.db import get_session
from core.errors import VormError
from core.models import User, pk
from core.webhooks import endpoints, outbox
from pages.common import N_, _, error_text, flash, fmt_date, plain

DELIVERIES_SHOWN = 20
_SHOW_ONCE = "_vorm_show_secret"  # (title msgid, secret, note msgid) shown until the user has saved it
EVENT_LABELS = {
    "job.succeeded": N_("A model is ready (job.succeeded)"),
    "job.failed": N_("A generation failed (job.failed)"),
    "job.canceled": N_("A generation was canceled (job.canceled)"),
    "model.deleted": N_("A model was deleted (model.deleted)"),
    "webhook.test": N_("Test events (webhook.test)"),
}
DELIVERY_STATUS = {"pending": N_("waiting"), "delivered": N_("delivered"), "failed": N_("failed")}


def _show_once(title: str, secret: str, note: str) -> None:
    st.session_state[_SHOW_ONCE] = (title, secret, note)


def _secret_banner() -> None:
    # Kept until the user says it is saved: a rerun that Streamlit cuts short must not lose the only copy.
    item = st.session_state.get(_SHOW_ONCE)
    if not item:
        return
    title, secret, note = item
    with st.container(border=True, key="secret_once"):
        st.success(_(title), icon=":material/key:")
        st.code(secret, language=None)
        st.caption(_(note))
        if st.button(_("I have saved it"), key="secret_saved", icon=":material/check:"):
            st.session_state.pop(_SHOW_ONCE, None)
            st.rerun()


def _when(value: Any) -> str:
    return fmt_date(value) if value else _("never")


def render_keys(user: User) -> None:
    settings = get_settings()
    st.subheader(_("API keys"))
    st.caption(_("Every plan can use the API. What it makes counts against the same daily quota as this app; a key "
                 "may make {free} requests a minute on the free plan and {premium} on premium. Send the key as "
                 "\"Authorization: Bearer vorm_...\".", free=settings.free_api_requests_per_minute,
                 premium=settings.premium_api_requests_per_minute))
    docs = _("API documentation")
    st.markdown(f"[{docs}](/api/v1/docs)")
    with st.form("api_key_form", clear_on_submit=True):
        name = st.text_input(_("Name of the new key"), key="api_key_name", max_chars=keys.MAX_KEY_NAME_CHARS,
                             placeholder=_("for example: catalogue sync"))
        if st.form_submit_button(_("Create key"), type="primary", icon=":material/key:"):
            try:
                with get_session() as session:
                    new = keys.create_key(session, user=user, name=name)
            except VormError as exc:
                st.error(error_text(exc), icon=":material/error:")
            else:
                _show_once(N_("Your new API key. Copy it now: it is shown only this once."), new.secret,
                           N_("We keep only a fingerprint of it. Lost it? Revoke it and create a new one."))
                st.rerun()
    with get_session() as session:
        rows = keys.list_keys(session, user_id=pk(user))
    if not rows:
        st.caption(_("No API keys yet."))
    for row in rows:
        cols = st.columns([2, 3, 2, 2, 2])
        cols[0].markdown(f"`{row.prefix}…`")  # our own characters (A-Z, a-z, 0-9, _ and -): nothing to escape
        cols[1].markdown(plain(row.name))
        cols[2].caption(_("Created {date}", date=fmt_date(row.created_at)))
        cols[3].caption(_("Last used: {date}", date=_when(row.last_used_at)))
        if row.revoked_at:
            cols[4].caption(_("Revoked {date}", date=fmt_date(row.revoked_at)))
        elif cols[4].button(_("Revoke"), key=f"revoke_key_{row.id}", icon=":material/block:"):
            with get_session() as session:
                keys.revoke_key(session, user_id=pk(user), key_id=pk(row))
            flash("success", msgid=N_("The key was revoked. Requests with it are refused from now on."))
            st.rerun()


def _endpoint(user: User, row: Any) -> None:
    state = _("on") if row.enabled else _("off: deliveries failed for about a day")
    with st.expander(f"{plain(row.url)} — {state}", icon=":material/webhook:", expanded=True):
        st.caption(_("Events: {events}", events=", ".join(row.event_types)))
        cols = st.columns(4)
        action = None
        if cols[0].button(_("Send test event"), key=f"wh_test_{row.id}", icon=":material/send:"):
            action = "test"
        if cols[1].button(_("Rotate secret"), key=f"wh_rotate_{row.id}", icon=":material/autorenew:"):
            action = "rotate"
        if not row.enabled and cols[2].button(_("Turn on again"), key=f"wh_enable_{row.id}",
                                              icon=":material/play_arrow:"):
            action = "enable"
        if cols[3].button(_("Delete"), key=f"wh_delete_{row.id}", icon=":material/delete:"):
            action = "delete"
        if action:
            try:
                with get_session() as session:
                    if action == "test":
                        outbox.send_test(session, user_id=pk(user), endpoint_id=pk(row))
                        flash("success", msgid=N_("A test event is on its way; it shows in the log below."))
                    elif action == "rotate":
                        new = endpoints.rotate_secret(session, user_id=pk(user), endpoint_id=pk(row))
                        _show_once(N_("The new signing secret. Copy it now: it is shown only this once."), new.secret,
                                   N_("For 24 hours deliveries are signed with both the old and the new secret, so you "
                                      "can switch your receiver without missing any."))
                    elif action == "enable":
                        endpoints.enable_endpoint(session, user_id=pk(user), endpoint_id=pk(row))
                        flash("success", msgid=N_("The endpoint is on again."))
                    else:
                        endpoints.delete_endpoint(session, user_id=pk(user), endpoint_id=pk(row))
                        flash("success", msgid=N_("The endpoint and its delivery log were deleted."))
            except VormError as exc:
                st.error(error_text(exc), icon=":material/error:")
            else:
                st.rerun()
        with get_session() as session:
            log = outbox.list_deliveries(session, user_id=pk(user), endpoint_id=pk(row), limit=DELIVERIES_SHOWN)
        if not log:
            st.caption(_("Nothing sent yet."))
            return
        st.dataframe([{_("Time"): fmt_date(d.created_at), _("Event"): d.event_type,
                       _("Status"): _(DELIVERY_STATUS.get(d.status, d.status)),
                       _("Status code"): d.last_status_code or "—", _("Attempts"): d.attempts} for d in log],
                     hide_index=True, use_container_width=True)
        failed = [d for d in log if d.status == "failed"]
        if failed:
            choice = st.selectbox(_("Resend a failed delivery"), failed, key=f"wh_pick_{row.id}",
                                  format_func=lambda d: f"{fmt_date(d.created_at)} · {d.event_type}")
            if st.button(_("Resend"), key=f"wh_resend_{row.id}", icon=":material/replay:"):
                with get_session() as session:
                    outbox.resend(session, user_id=pk(user), delivery_id=pk(choice))
                flash("success", msgid=N_("The delivery is sent again."))
                st.rerun()


def render_webhooks(user: User) -> None:
    st.subheader(_("Webhooks"))
    st.caption(_("We post an event to your URL when something happens, signed as Standard Webhooks describes "
                 "(headers webhook-id, webhook-timestamp and webhook-signature). Failed deliveries are retried for "
                 "about a day; an endpoint that keeps failing is turned off and we mail you."))
    with st.form("webhook_form", clear_on_submit=True):
        url = st.text_input(_("URL of your receiver"), key="webhook_url", placeholder="https://example.com/vorm-hook")
        events = st.multiselect(_("Events"), list(EVENT_LABELS), default=["job.succeeded", "job.failed"],
                                key="webhook_events", format_func=lambda e: _(EVENT_LABELS[e]))
        if st.form_submit_button(_("Add endpoint"), type="primary", icon=":material/add_link:"):
            try:
                with get_session() as session:
                    row = endpoints.create_endpoint(session, user=user, url=url, event_types=events)
            except VormError as exc:
                st.error(error_text(exc), icon=":material/error:")
            else:
                _show_once(N_("The endpoint's signing secret. Copy it now: it is shown only this once."), row.secret,
                           N_("Verify every delivery with it, for example with the standardwebhooks library."))
                st.rerun()
    with get_session() as session:
        rows = endpoints.list_endpoints(session, user_id=pk(user))
    if not rows:
        st.caption(_("No webhook endpoints yet."))
    for row in rows:
        _endpoint(user, row)


def render(user: User) -> None:
    _secret_banner()
    with st.container(border=True, key="account_api_keys"):
        render_keys(user)
    with st.container(border=True, key="account_webhooks"):
        render_webhooks(user)
