"""Who processes personal data for us (policy clause 4): what this installation really uses."""

from __future__ import annotations

import streamlit as st

from core.privacy.processors import configured_processors
from pages.common import _

st.title(_("Processors"))
st.write(_("We do not sell your personal data. Only these service providers process it for us, under a processing "
           "agreement, and only for what is listed."))

for p in configured_processors():
    with st.container(border=True, key=f"processor_{p.key}"):
        icon = ":material/cloud:" if p.third_party else ":material/dns:"
        st.markdown(f"{icon} **{_(p.name, **p.fields)}**")
        st.write(_(p.purpose))

st.info(_("Nothing else leaves our servers."), icon=":material/lock:")
