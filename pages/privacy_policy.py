"""The privacy policy (public): Dutch original and English translation, last-updated date, cookies."""

from __future__ import annotations

import re

import streamlit as st

from core.privacy import policy
from pages.common import lang, t

_HEADING = re.compile(r"^\d+\.\s+\S")

doc = policy.current()
st.title(t("policy.title"))
choice = st.radio(t("policy.language"), ["nl", "en"], index=0 if lang() == "nl" else 1, horizontal=True,
                  key="policy_lang", format_func=lambda code: {"en": "English", "nl": "Nederlands"}[code])
st.caption(t("policy.last_updated", date=doc.last_updated, version=doc.version))
if choice == "en":
    st.caption(t("policy.dutch_binding"))

with st.container(border=True, key="policy_text"):
    lines = [line.strip() for line in doc.text(choice).splitlines() if line.strip()]
    for line in lines[1:]:  # the first line is the title, shown above
        if _HEADING.match(line):
            st.markdown(f"#### {line}")
        else:
            st.markdown(line)

st.subheader(t("policy.cookies.title"), anchor="cookies")
st.markdown(t("policy.cookies.text"))

try:
    st.page_link("pages/processors.py", label=t("policy.processors_link"), icon=":material/dns:")
except Exception:  # the page is not registered (run on its own, e.g. in a page test)
    st.caption(t("policy.processors_link"))

versions = policy.all_versions()
if len(versions) > 1:
    with st.expander(t("policy.history")):
        for v in reversed(versions):
            kind = t("policy.material") if v.material else t("policy.minor")
            st.markdown(f"- {v.last_updated} · {v.version} · {kind}")
