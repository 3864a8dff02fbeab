"""My models: a paginated grid with search, rename and delete."""

from __future__ import annotations

import streamlit as st

from core.content import library
from core.db import get_session
from core.errors import VormError
from core.models import JobStatus
from pages.common import _, error_text, fmt_date, fmt_number, job_error_text, label, ngettext, plain, require_user

COLUMNS = 4

user = require_user()
st.title(_("My models"))

search = st.text_input(_("Search by name"), key="library_search", placeholder=_("e.g. teapot"),
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
    with st.expander(_("In progress and recent problems ({count})", count=fmt_number(len(jobs))),
                     expanded=any(j.status != JobStatus.FAILED for j in jobs)):
        for job in jobs:
            status = label("job_status", job.status)
            line = f"**{plain(job.name or '#' + str(job.id))}** · {status} · {fmt_date(job.created_at)}"
            if job.status == JobStatus.RUNNING:
                line += f" · {int(job.progress_pct)}%"
            st.markdown(line)
            if job.status == JobStatus.FAILED:
                st.caption(job_error_text(job))

if result.total == 0:
    if search:
        st.info(_("No model has “{search}” in its name.", search=plain(search)), icon=":material/search_off:")
    else:
        with st.container(border=True, key="library_empty"):
            st.subheader(_("Nothing here yet"))
            st.write(_("Upload a photo of an object on a plain background and Vorm turns it into a 3D model "
                       "in about a minute."))
            st.page_link("pages/upload.py", label=_("Make your first model"), icon=":material/add_photo_alternate:")
    st.stop()

st.caption(ngettext("{n} model", "{n} models", result.total) + " · "
           + _("page {page} of {pages}", page=fmt_number(result.page), pages=fmt_number(result.pages)))


@st.dialog(_("Delete a model"))
def _confirm_delete(model_id: int, name: str) -> None:
    st.write(_("Delete “{name}” with all its files? This cannot be undone.", name=plain(name)))
    c1, c2 = st.columns(2)
    if c1.button(_("Yes, delete it"), type="primary", key="delete_yes", icon=":material/delete:"):
        try:
            with get_session() as session:
                library.delete_model(session, user_id=user.id, model_id=model_id)
        except VormError as exc:
            st.error(error_text(exc))
            return
        st.session_state["_library_deleted"] = name
        st.rerun()
    if c2.button(_("Keep it"), key="delete_no"):
        st.rerun()


@st.dialog(_("Rename a model"))
def _rename(model_id: int, name: str) -> None:
    new = st.text_input(_("New name for “{name}”", name=plain(name)), value=name, key="rename_value",
                        max_chars=library.MAX_NAME_CHARS)
    if st.button(_("Save"), type="primary", key="rename_save"):
        try:
            with get_session() as session:
                library.rename_model(session, user_id=user.id, model_id=model_id, name=new)
        except VormError as exc:
            st.error(error_text(exc))
            return
        st.rerun()


deleted = st.session_state.pop("_library_deleted", None)
if deleted:
    st.success(_("“{name}” was deleted.", name=plain(deleted)))

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
            st.markdown(f"**{plain(model.name or '#' + str(model.id))}**")
            meta = f"{label('mode', model.mode)} · {fmt_date(model.created_at)}"
            st.caption(meta)
            left = library.days_left(purge.get(model.id))
            if left is not None:
                st.caption(ngettext("Kept for {n} more day (free plan)", "Kept for {n} more days (free plan)", left))
            st.page_link("pages/model.py", label=_("Open"), icon=":material/view_in_ar:",
                         query_params={"id": str(model.id)})
            # Words beside the icons: an icon alone gives a screen reader nothing to say.
            with st.container(horizontal=True, gap="small"):
                if st.button(_("Rename"), icon=":material/edit:", key=f"rename_{model.id}"):
                    _rename(model.id, model.name)
                if st.button(_("Delete"), icon=":material/delete:", key=f"delete_{model.id}"):
                    _confirm_delete(model.id, model.name or f"#{model.id}")

if result.pages > 1:
    p1, p2, p3 = st.columns([1, 2, 1])
    if p1.button(_("Previous"), disabled=result.page <= 1, key="page_prev", icon=":material/chevron_left:"):
        st.session_state["library_page"] = result.page - 1
        st.rerun()
    page_text = _("Page {page} of {pages}", page=fmt_number(result.page), pages=fmt_number(result.pages))
    p2.markdown(f"<div style='text-align:center'>{page_text}</div>", unsafe_allow_html=True)
    if p3.button(_("Next"), disabled=result.page >= result.pages, key="page_next",
                 icon=":material/chevron_right:"):
        st.session_state["library_page"] = result.page + 1
        st.rerun()
