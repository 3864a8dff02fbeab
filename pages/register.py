"""Create an account: email, name, a strong password and the current privacy policy accepted."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.accounts import auth, sessions
from core.db import get_session
from core.errors import VormError
from core.privacy import policy
from pages.common import N_, _, client, error_text, flash, lang, log_in

current = policy.current()
st.title(_("Create an account"))
st.caption(_("Free: 5 models a day. Your images stay private."))

left, _spacer = st.columns([2, 1])
with left:
    with st.form("register_form"):
        email = st.text_input(_("Email address"), key="register_email", autocomplete="email")
        name = st.text_input(_("Name"), key="register_name", autocomplete="name")
        password = st.text_input(_("Password"), type="password", key="register_password",
                                 help=_("At least 10 characters, with letters and digits."),
                                 autocomplete="new-password")
        st.caption(":material/password: " + _("At least 10 characters, with letters and digits."))
        accepted = st.checkbox(_("I accept the privacy policy (version {version})",
                                 version=current.last_updated), key="register_accept")
        submitted = st.form_submit_button(_("Create account"), type="primary", icon=":material/person_add:")
    if (Path(__file__).parent / "privacy_policy.py").is_file():
        st.page_link("pages/privacy_policy.py", label=_("Read the privacy policy"), icon=":material/policy:")
    else:
        with st.expander(_("Read the privacy policy")):
            st.text(current.text(lang()))
    if submitted:
        who = client()
        try:
            with get_session() as session:
                user = auth.register(session, email=email, name=name, password=password, accepted_policy=accepted,
                                     locale=lang(), client=who)
                token = sessions.create_session(session, user=user, client=who)
        except VormError as exc:
            st.error(error_text(exc), icon=":material/error:")
        else:
            log_in(token, user)
            flash("success", msgid=N_("Welcome! Your account is ready."))
            st.rerun()
    st.page_link("pages/login.py", label=_("Already have an account? Log in"), icon=":material/login:")
