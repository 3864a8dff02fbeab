"""Create an account: email, name, a strong password and the current privacy policy accepted."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.accounts import auth
from core.db import get_session
from core.errors import VormError
from core.privacy import policy
from pages.common import client, error_text, flash, lang, log_in, t

current = policy.current()
st.title(t("register.title"))
st.caption(t("register.intro"))

left, _ = st.columns([2, 1])
with left:
    with st.form("register_form"):
        email = st.text_input(t("login.email"), key="register_email", autocomplete="email")
        name = st.text_input(t("register.name"), key="register_name", autocomplete="name")
        password = st.text_input(t("login.password"), type="password", key="register_password",
                                 help=t("register.password_rule"), autocomplete="new-password")
        st.caption(":material/password: " + t("register.password_rule"))
        accepted = st.checkbox(t("register.accept", version=current.last_updated), key="register_accept")
        submitted = st.form_submit_button(t("register.submit"), type="primary", icon=":material/person_add:")
    if (Path(__file__).parent / "privacy_policy.py").is_file():
        st.page_link("pages/privacy_policy.py", label=t("register.read_policy"), icon=":material/policy:")
    else:
        with st.expander(t("register.read_policy")):
            st.text(current.text(lang()))
    if submitted:
        who = client()
        try:
            with get_session() as session:
                user = auth.register(session, email=email, name=name, password=password, accepted_policy=accepted,
                                     locale=lang(), client=who)
                token = auth.create_session(session, user=user, client=who)
        except VormError as exc:
            st.error(error_text(exc), icon=":material/error:")
        else:
            log_in(token, user)
            flash("success", key="register.done")
            st.rerun()
    st.page_link("pages/login.py", label=t("register.have_account"), icon=":material/login:")
