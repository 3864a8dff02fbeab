"""My models: a paginated grid with search, rename and delete."""

from __future__ import annotations

import streamlit as st

from core.content import library
from core.db import get_session
from core.errors import VormError
from core.models import JobStatus
from pages.common import error_text, fmt_date, require_user, t

COLUMNS = 4

user = require_user()
st.title(t("library.title"))

search = st.text_input(t("library.search"), key="library_search", placeholder=t("library.search.placeholder"),
                       icon=":material/search:")
if st.session_state.get("_library_last_search") != search:
    st.session_state["_library_last_search"] = search
    st.session_state["library_page"] = 1
page_no = int(st.session_state.get("library_page", 1))

with get_session() as session:
    result = library.list_models(session, user_id=user.id, search=search, page=page_no)
    jobs = library.open_jobs(session, user_id=user.id)
    purge = {m.id: library.purge_date(session, user=user, model=m) for m in result.items}

if jobs:
    with st.expander(t("library.jobs", count=len(jobs)), expanded=any(j.status != JobStatus.FAILED for j in jobs)):
        for job in jobs:
            status = t(f"library.status.{job.status}")
            line = f"**{job.name or '#' + str(job.id)}** · {status} · {fmt_date(job.created_at)}"
            if job.status == JobStatus.RUNNING:
                line += f" · {int(job.progress_pct)}%"
            st.markdown(line)
            if job.status == JobStatus.FAILED and job.error_message:
                st.caption(job.error_message)

if result.total == 0:
    if search:
        st.info(t("library.no_match", search=search), icon=":material/search_off:")
    else:
        with st.container(border=True, key="library_empty"):
            st.subheader(t("library.empty.title"))
            st.write(t("library.empty.body"))
            st.page_link("pages/upload.py", label=t("library.empty.cta"), icon=":material/add_photo_alternate:")
    st.stop()

st.caption(t("library.count", total=result.total, page=result.page, pages=result.pages))


@st.dialog(" ")
def _confirm_delete(model_id: int, name: str) -> None:
    st.write(t("library.delete.confirm", name=name))
    c1, c2 = st.columns(2)
    if c1.button(t("library.delete.yes"), type="primary", key="delete_yes", icon=":material/delete:"):
        try:
            with get_session() as session:
                library.delete_model(session, user_id=user.id, model_id=model_id)
        except VormError as exc:
            st.error(error_text(exc))
            return
        st.session_state["_library_deleted"] = name
        st.rerun()
    if c2.button(t("library.delete.no"), key="delete_no"):
        st.rerun()


@st.dialog(" ")
def _rename(model_id: int, name: str) -> None:
    new = st.text_input(t("library.rename.label"), value=name, key="rename_value", max_chars=library.MAX_NAME_CHARS)
    if st.button(t("library.rename.save"), type="primary", key="rename_save"):
        try:
            with get_session() as session:
                library.rename_model(session, user_id=user.id, model_id=model_id, name=new)
        except VormError as exc:
            st.error(error_text(exc))
            return
        st.rerun()


deleted = st.session_state.pop("_library_deleted", None)
if deleted:
    st.success(t("library.deleted", name=deleted))

for start in range(0, len(result.items), COLUMNS):
    cols = st.columns(COLUMNS)
    for col, model in zip(cols, result.items[start:start + COLUMNS], strict=False):
        with col, st.container(border=True, key=f"model_card_{model.id}"):
            url = library.thumbnail_url(model)
            if url:
                st.image(url, width="stretch")
            else:
                with st.container(height=160, border=False, horizontal_alignment="center",
                                  vertical_alignment="center"):
                    st.markdown(":material/view_in_ar:")
            st.markdown(f"**{model.name or '#' + str(model.id)}**")
            meta = f"{t(f'upload.mode.{model.mode}')} · {fmt_date(model.created_at)}"
            st.caption(meta)
            left = library.days_left(purge.get(model.id))
            if left is not None:
                st.caption(t("library.days_left", days=left))
            st.page_link("pages/model.py", label=t("library.open"), icon=":material/view_in_ar:",
                         query_params={"id": str(model.id)})
            b1, b2 = st.columns(2)
            if b1.button(":material/edit:", key=f"rename_{model.id}", help=t("library.rename"), width="stretch"):
                _rename(model.id, model.name)
            if b2.button(":material/delete:", key=f"delete_{model.id}", help=t("library.delete"), width="stretch"):
                _confirm_delete(model.id, model.name or f"#{model.id}")

if result.pages > 1:
    p1, p2, p3 = st.columns([1, 2, 1])
    if p1.button(t("library.prev"), disabled=result.page <= 1, key="page_prev", icon=":material/chevron_left:"):
        st.session_state["library_page"] = result.page - 1
        st.rerun()
    p2.markdown(f"<div style='text-align:center'>{t('library.page', page=result.page, pages=result.pages)}</div>",
                unsafe_allow_html=True)
    if p3.button(t("library.next"), disabled=result.page >= result.pages, key="page_next",
                 icon=":material/chevron_right:"):
        st.session_state["library_page"] = result.page + 1
        st.rerun()
