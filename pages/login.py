"""Log in, or ask for a password-reset link."""

from __future__ import annotations

import streamlit as st

from core.accounts import auth, password_reset, sessions
from core.db import get_session
from core.errors import VormError
from pages.common import N_, _, client, error_text, flash, log_in, mail_is_sent

st.title(_("Log in"))
st.caption(_("Turn a photo of an object into a 3D model you can spin, download and print."))

left, _spacer = st.columns([2, 1])
with left:
    with st.form("login_form"):
        email = st.text_input(_("Email address"), key="login_email", autocomplete="email")
        password = st.text_input(_("Password"), type="password", key="login_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button(_("Log in"), type="primary", icon=":material/login:")
    if submitted:
        who = client()
        try:
            with get_session() as session:
                user = auth.authenticate(session, email=email, password=password, client=who)
                token = sessions.create_session(session, user=user, client=who)
        except VormError as exc:
            st.error(error_text(exc), icon=":material/error:")
        else:
            log_in(token, user)
            flash("success", msgid=N_("Welcome back! You are logged in."))
            st.rerun()

    st.page_link("pages/register.py", label=_("No account yet? Create one"), icon=":material/person_add:")

    with st.expander(_("Forgot your password?")):
        with st.form("forgot_form"):
            reset_email = st.text_input(_("Email address"), key="reset_email")
            asked = st.form_submit_button(_("Send reset link"))
        if asked:
            try:
                with get_session() as session:
                    password_reset.request_password_reset(session, email=reset_email, client=client())
            except VormError as exc:
                st.error(error_text(exc))
            else:
                st.success(_("If an account exists for that address, a link to reset the password is on its way "
                             "to it.") if mail_is_sent() else
                           _("If an account exists for that address, a link to reset the password is waiting to "
                             "be sent. This installation has no mail server set up yet: ask its operator, who "
                             "can see the link."))
