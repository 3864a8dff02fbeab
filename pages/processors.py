"""Who processes personal data for us (policy clause 4): storage and payments, nothing else."""

from __future__ import annotations

import streamlit as st

from core.config import get_settings
from pages.common import t

settings = get_settings()
st.title(t("processors.title"))
st.write(t("processors.intro"))

if settings.storage_backend == "s3":
    endpoint = settings.s3_endpoint_url or f"Amazon S3 ({settings.s3_region})"
    backend = endpoint
else:
    backend = t("processors.storage.local")
mail_host = settings.smtp_host or t("processors.mail.none")

for name, what, key in (
    (t("processors.storage.name", backend=backend), t("processors.storage.what"), "processor_storage"),
    (t("processors.payments.name"), t("processors.payments.what"), "processor_payments"),
    (t("processors.mail.name", host=mail_host), t("processors.mail.what"), "processor_mail"),
):
    with st.container(border=True, key=key):
        st.markdown(f"**{name}**")
        st.write(what)

st.info(t("processors.nothing_else"), icon=":material/lock:")
