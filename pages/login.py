"""Log in, or ask for a password-reset link."""

from __future__ import annotations

import streamlit as st

from core.accounts import auth
from core.db import get_session
from core.errors import VormError
from pages.common import client, error_text, log_in, t

st.title(t("login.title"))
st.caption(t("login.intro"))

left, _ = st.columns([2, 1])
with left:
    with st.form("login_form"):
        email = st.text_input(t("login.email"), key="login_email", autocomplete="email")
        password = st.text_input(t("login.password"), type="password", key="login_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button(t("login.submit"), type="primary", icon=":material/login:")
    if submitted:
        who = client()
        try:
            with get_session() as session:
                user = auth.authenticate(session, email=email, password=password, client=who)
                token = auth.create_session(session, user=user, client=who)
        except VormError as exc:
            st.error(error_text(exc), icon=":material/error:")
        else:
            log_in(token, user)
            st.rerun()

    st.page_link("pages/register.py", label=t("login.no_account"), icon=":material/person_add:")

    with st.expander(t("login.forgot")):
        with st.form("forgot_form"):
            reset_email = st.text_input(t("login.email"), key="reset_email")
            asked = st.form_submit_button(t("login.reset_submit"))
        if asked:
            try:
                with get_session() as session:
                    auth.request_password_reset(session, email=reset_email, client=client())
            except VormError as exc:
                st.error(error_text(exc))
            else:
                st.success(t("login.reset_sent"))
