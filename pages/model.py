"""One model (``?id=``): the 3D viewer, thumbnails, mesh figures, downloads and "generate again"."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.content import library
from core.db import get_session
from core.errors import VormError
from pages import viewer
from pages.common import _, error_text, fmt_date, fmt_number, label, method_text, ngettext, plain, require_user

AUTOMATIC_MASKS = ("learned", "backdrop", "grabcut")  # found without the person's help: a box may do better

user = require_user()
model_id = st.query_params.get("id")
if not model_id:
    st.title(_("Model"))
    st.info(_("Choose a model in “My models” to see it here."), icon=":material/view_in_ar:")
    st.page_link("pages/library.py", label=_("My models"), icon=":material/view_module:")
    st.stop()

try:
    with get_session() as session:
        model = library.get_model(session, user_id=user.id, model_id=model_id)
        purge = library.purge_date(session, user=user, model=model)
except VormError as exc:
    # Another user's model looks exactly like a missing one.
    st.title(_("Model"))
    st.error(error_text(exc), icon=":material/error:")
    st.page_link("pages/library.py", label=_("My models"), icon=":material/view_module:")
    st.stop()


title = model.name or f"#{model.id}"
st.title(plain(title))
meta = f"{label('mode', model.mode)} · {fmt_date(model.created_at)}"
left = library.days_left(purge)
if left is not None:
    meta += " · " + ngettext("Kept for {n} more day (free plan)", "Kept for {n} more days (free plan)", left)
st.caption(meta)

view_col, side = st.columns([3, 1])
with view_col:
    shown = viewer.show(model, key="model_viewer")
    st.caption(_("Drag to turn the model, scroll to zoom, shift-drag to move it.") if shown
               else _("There is no preview of this model; the downloads are complete."))

with side:
    st.subheader(_("The mesh"))
    size = " × ".join(fmt_number(float(f"{v:.3g}")) for v in library.print_extents(model))
    facts = [(_("Triangles"), fmt_number(model.faces)),
             (_("Watertight (printable)"), label("yes_no", "yes" if model.watertight else "no")),
             (_("Print size"), f"{size} mm" if size else "—")]
    st.markdown("\n".join(f"- {name}: **{value}**" for name, value in facts))
    def _resize(key: str) -> None:
        # On change only: a rerun of a tab left open must not undo a size set elsewhere since.
        try:
            with get_session() as session:
                library.set_print_size(session, user_id=user.id, model_id=model.id, size_mm=st.session_state[key])
        except VormError as exc:
            st.session_state["_print_size_error"] = error_text(exc)

    size_key = f"print_size_{model.id}"
    st.number_input(_("Longest side when printed (mm)"), min_value=library.PRINT_SIZE_MM[0],
                    max_value=library.PRINT_SIZE_MM[1], value=float(model.print_size_mm), step=5.0, format="%.1f",
                    key=size_key, on_change=_resize, args=(size_key,),
                    help=_("The downloads are scaled to this size: STL, 3MF, OBJ and PLY in millimetres, GLB in "
                           "metres."))
    if st.session_state.get("_print_size_error"):
        st.error(st.session_state.pop("_print_size_error"), icon=":material/error:")
    method = model.stats.get("mask_method")
    if method:
        st.caption(method_text(method, model.stats.get("segmenter")), help=_(
            "How the object was told apart from its background: an automatic method, or the box you drew."))
    if method in AUTOMATIC_MASKS and model.mode == "inflate":
        st.page_link("pages/upload.py", label=_("Not right? Draw a box"), icon=":material/crop_free:",
                     query_params={"again": str(model.id), "box": "1"},
                     help=_("The same image again: drag a box around the object and we look for it there only."))
    st.subheader(_("Downloads"))
    allowed = library.allowed_formats(user)

    def _data(fmt: str) -> Any:
        def produce() -> bytes:
            with get_session() as session:
                return library.export_bytes(session, user=user, model_id=model.id, fmt=fmt)
        return produce

    for fmt in library.ALL_FORMATS:
        if fmt in allowed:
            st.download_button(_("Download {fmt}", fmt=fmt.upper()), data=_data(fmt),
                               file_name=library.download_name(model, fmt), mime=library.MIME[fmt],
                               key=f"download_{fmt}", icon=":material/download:", on_click="ignore",
                               width="stretch")
        else:
            st.button(_("Download {fmt}", fmt=fmt.upper()), disabled=True, key=f"download_{fmt}",
                      help=_("More formats (PLY, 3MF) come with premium."), width="stretch")
    if len(allowed) < len(library.ALL_FORMATS):
        st.caption(_("More formats (PLY, 3MF) come with premium."))
    st.divider()
    st.page_link("pages/upload.py", label=_("Generate again"), icon=":material/replay:",
                 query_params={"again": str(model.id)}, help=_("The same images, with other options."))

thumbs = library.thumbnail_urls(model)
if thumbs:
    st.subheader(_("Views"))
    cols = st.columns(max(1, min(4, len(thumbs))))
    for i, (name, url) in enumerate(thumbs.items()):
        cols[i % len(cols)].image(url, caption=label("view", name), width="stretch")
