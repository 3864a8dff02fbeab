"""The privacy policy (public): Dutch original and English translation, last-updated date, cookies."""

from __future__ import annotations

import re

import streamlit as st

from core import i18n
from core.config import get_settings
from core.privacy import policy
from core.privacy.processors import configured_processors
from pages.common import _, lang

_HEADING = re.compile(r"^\d+\.\s+\S")


def _link(page: str, text: str, icon: str) -> None:
    try:
        st.page_link(page, label=text, icon=icon)
    except Exception:  # the page is not registered (run on its own, e.g. in a page test)
        st.caption(text)


doc = policy.current()
st.title(_("Privacy policy"))
choice = st.radio(_("Language of the policy"), ["nl", "en"], index=0 if lang() == "nl" else 1, horizontal=True,
                  key="policy_lang", format_func=i18n.LANG_NAMES.__getitem__)
st.caption(_("Last updated: {date} (version {version})", date=doc.last_updated, version=doc.version))
if choice == "en":
    st.caption(_("The Dutch text is the original; this English text is a translation."))

with st.container(border=True, key="policy_text"):
    lines = [line.strip() for line in doc.text(choice).splitlines() if line.strip()]
    for line in lines[1:]:  # the first line is the title, shown above
        if _HEADING.match(line):
            st.markdown(f"#### {line}")
        else:
            st.markdown(line)

st.subheader(_("Cookies"), anchor="cookies")
st.markdown(_("We use only strictly necessary cookies, so we do not ask for consent:\n\n- **Login cookie**: keeps "
              "you logged in. It holds only a signed reference to your session on our server, which ends when you "
              "log out or delete your account.\n- **Streamlit connection**: the app framework keeps your browser tab "
              "connected to the server.\n- **Server choice** (only where Vorm runs on several servers): a random "
              "code that keeps your tab on one server. It holds nothing about you and ends when you close the "
              "browser.\n\nNo analytics, tracking or advertising cookies, and no third-party cookies."))

st.subheader(_("Who processes your data on this installation"), anchor="processors")
for p in configured_processors():
    st.markdown(f"- **{_(p.name, **p.fields)}**: {_(p.purpose)}")
_link("pages/processors.py", _("Who processes your data: see the processors page."), ":material/dns:")

st.subheader(_("How to reach us"), anchor="contact")
st.markdown(_("- the support form on the support page; privacy requests are answered within one month at the latest\n"
              "- email: {email}", email=get_settings().support_email))
_link("pages/support.py", _("Go to the support page"), ":material/support:")

versions = policy.all_versions()
if len(versions) > 1:
    with st.expander(_("Earlier versions")):
        for v in reversed(versions):
            kind = _("material change") if v.material else _("minor change")
            st.markdown(f"- {v.last_updated} · {v.version} · {kind}")
