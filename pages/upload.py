"""Upload one image (or several views), see what will be modelled, choose options, and watch the job."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import streamlit as st

from core.config import get_settings
from core.content import uploads
from core.content.library import DEFAULT_PRINT_SIZE_MM, PRINT_SIZE_MM
from core.db import get_session
from core.errors import VormError
from core.models import JobStatus
from pages import common, viewer
from pages.common import (
    N_,
    _,
    arrived,
    client,
    error_text,
    flash,
    fmt_number,
    fmt_percent,
    job_error_text,
    label,
    method_text,
    ngettext,
    plain,
    require_user,
)

#: While a job is queued or running, its row is read this often (one primary-key query), so that the
#: result shows a moment after the worker finished it, not a whole refresh interval later.
PROGRESS_POLL_SECONDS = 0.3
QUEUE_POSITION_SECONDS = 1.5  # the place in the queue (a count) is asked for this often
BOX_PICKER_SIDE_PX = 640  # the picture the user drags a box on
BOX_MODES = ("auto", "inflate")  # the modes that look for one object in one image
BOX_MODES_MADE = ("inflate",)  # what those make of one image: the only one that needs its object found
MODES = ("auto", "inflate", "relief", "carve")
TERMINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
FACE_STEPS = (2_000, 5_000, 10_000, 20_000, 50_000, 100_000)
MODE_HELP = {
    "inflate": N_("One photo of an object on a plain background. Its outline is blown up into a rounded, closed "
                  "shape, coloured from the photo. Best for toys, fruit, logos and flat-ish things."),
    "relief": N_("Any picture becomes a printable plate whose height follows the brightness. Tick lithophane for a "
                 "back-lit print where dark areas are thick."),
    "carve": N_("2 to {max_views} photos taken all around the object on a turntable, at equal steps, from the same "
                "distance and height. The shape is carved from every outline."),
}

user = require_user()
settings = get_settings()
tier = settings.tier(user.plan)


@st.cache_data(show_spinner=False)
def _example(mode: str) -> Any:
    return uploads.mode_example(mode)


_CHECKED = "_upload_checked"  # session state: file key -> what _check found
_SPOOLED = "_upload_spooled"  # session state: file key -> its bytes on disk, waiting for _check


def _check(source: Any, filename: str, plan: str) -> dict[str, Any]:
    """Validate and preview one file (its bytes, or a file holding them). ``validated``: a ParkedImage
    (what will be stored waits on disk); ``error``: the file cannot be used; ``mask_error``: it is a good
    image, but the object was not found in it automatically (a box drawn around it may still find it).
    """
    try:
        v = uploads.park_upload(source, filename=filename, plan=plan)
    except VormError as exc:
        return {"error": exc}
    try:
        found = uploads.mask_preview_found(v.image)
    except VormError as exc:
        return {"validated": v, "mask_error": exc}
    return {"validated": v, "preview": found.picture, "share": found.share, "method": found.method,
            "segmenter": found.segmenter}


def _checked(files: list[tuple[str, str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Each file checked once per session, by its key (see ``files``), so widget changes do not redo it.

    Kept in this session's state, not in a cache every session shares: what waits for the generation
    is this user's, and it goes with the session (a file taken out of the uploader goes at once).
    ``files``: (key, name, source), the source being the bytes or the uploader's file.
    """
    memo: dict[str, dict[str, Any]] = st.session_state.setdefault(_CHECKED, {})
    spooled: dict[str, Any] = st.session_state.setdefault(_SPOOLED, {})
    keys = {f[0] for f in files}
    for key in [k for k in memo if k not in keys]:
        del memo[key]
    for key, name, source in files:
        if key not in memo:
            raw = spooled.pop(key, None) or (source if isinstance(source, bytes) else source.getvalue())
            memo[key] = _check(raw, name, user.plan)
    spooled.clear()
    return [(name, memo[key]) for key, name, _source in files]


def _take_new_files(uploader_key: str) -> None:
    """Before the uploader is drawn: each newly uploaded file's bytes go to disk (``_checked`` reads them
    back when the file's turn to be decoded comes), and Streamlit keeps only the file's name (``_release``).
    Drawing the widget hands this run a deep copy of its value, every file's bytes copied once more: from
    this point that copy is of nothing."""
    spooled: dict[str, Any] = st.session_state.setdefault(_SPOOLED, {})
    checked = st.session_state.get(_CHECKED, {})
    current = list(st.session_state.get(uploader_key) or [])  # the widget's state as the browser sent it
    for f in current:
        key = "file:" + f.file_id
        if f.size and not f.closed and key not in checked and key not in spooled:
            spooled[key] = uploads.spool_upload(f.getvalue())
    _release(current, keep_open=True)  # the widget deep-copies these objects: emptied, not closed


def _release(picked: list[Any], *, keep_open: bool = False) -> None:
    """Streamlit keeps every uploaded file's bytes in memory for the session's life (and two minutes
    after, for a reconnect), and the file objects of a run share them; once ours are on disk, drop both,
    leaving Streamlit the name only, so the uploader still lists the file and this session finds its
    check by the file's id."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    from streamlit.runtime.uploaded_file_manager import UploadedFileRec

    ctx = get_script_run_ctx()
    for f in picked:
        if ctx is not None and f.size and not f.closed:
            ctx.uploaded_file_mgr.add_file(ctx.session_id, UploadedFileRec(file_id=f.file_id, name=f.name,
                                                                           type=f.type, data=b""))
        # Its buffer is freed; the widget's value keeps the name and id it needs.
        if keep_open:
            f.truncate(0)
        else:
            f.close()


@st.cache_data(show_spinner=False, max_entries=32)
def _boxed(key: str, box: tuple[float, ...], _image: Any) -> dict[str, Any]:
    """The preview with the user's box: the object is looked for inside it. ``key`` names the image."""
    try:
        found = uploads.mask_preview_found(_image, box=box)
    except VormError as exc:
        return {"mask_error": exc}
    return {"preview": found.picture, "share": found.share, "method": found.method, "segmenter": found.segmenter}


@st.cache_data(show_spinner=False, max_entries=16)
def _lithophane(key: str, _image: Any) -> Any:
    """The picture as the printed lithophane shows it against a lamp."""
    return uploads.lithophane_preview(_image)


@st.cache_data(show_spinner=False, max_entries=16)
def _picture(key: str, _image: Any) -> Any:
    """The image as the box picker shows it: RGB, at most BOX_PICKER_SIDE_PX on its longest side."""
    from core.generation.images import preview_rgba

    return np.asarray(preview_rgba(_image, BOX_PICKER_SIDE_PX).convert("RGB"))


@st.cache_data(show_spinner=False, max_entries=16)
def _picture_png(key: str, _image: Any) -> tuple[str, int, int]:
    """``_picture`` as a PNG data URI, with its width and height, for the box picker. Given the pixels
    (``z``), Plotly writes every value as a JSON number: about 45 MB of Python objects and a second of
    a core for each run of the page, five uploads at once ~230 MB; a PNG is a few hundred KB."""
    import base64
    import io

    from PIL import Image

    picture = _picture(key, _image)
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(), picture.shape[1], picture.shape[0]


def _box_picker(picture: tuple[str, int, int], box: list[float] | None, chart_key: str) -> list[float] | None:
    """The image (``_picture_png``) as a chart where the user drags a box; returns the new box (fractions) or None."""
    import plotly.graph_objects as go

    source, width, height = picture
    fig = go.Figure(go.Image(source=source, hoverinfo="skip"))
    # Box selection needs a trace that can be selected: four invisible points in the corners.
    fig.add_trace(go.Scatter(x=[0, width, 0, width], y=[0, 0, height, height], mode="markers",
                             marker={"opacity": 0}, hoverinfo="skip", showlegend=False))
    if box:
        fig.add_shape(type="rect", x0=box[0] * width, y0=box[1] * height, x1=box[2] * width, y1=box[3] * height,
                      line={"color": "#2563eb", "width": 3})
    fig.update_layout(dragmode="select", margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=360,
                      xaxis={"visible": False, "range": [0, width], "fixedrange": True},
                      yaxis={"visible": False, "range": [height, 0], "scaleanchor": "x", "fixedrange": True})
    event = st.plotly_chart(fig, on_select="rerun", selection_mode="box", key=chart_key,
                            config={"displayModeBar": False, "scrollZoom": False}, width="stretch",
                            alt=_("Your image: drag a box around the object"))
    boxes = (event.selection.get("box") if event else None) or []  # type: ignore[union-attr]
    if not boxes:
        return None
    xs, ys = sorted(boxes[-1]["x"]), sorted(boxes[-1]["y"])
    fractions = [xs[0] / width, ys[0] / height, xs[1] / width, ys[1] / height]
    return [round(min(1.0, max(0.0, f)), 4) for f in fractions]


def _quota() -> int:
    from core.jobs.queue import quota_left_today

    with get_session() as session:
        return quota_left_today(session, user=user)


def _again_sources() -> tuple[list[tuple[str, bytes]], dict[str, Any]]:
    """``?again=<model id>``: the user's own images and options of an earlier model."""
    from core.content.library import get_model
    from core.models import GenerationJob, Upload
    from core.storage import get_storage

    model_id = st.query_params.get("again")
    if not model_id:
        return [], {}
    try:
        with get_session() as session:
            model = get_model(session, user_id=user.id, model_id=model_id)
            job = session.get(GenerationJob, model.job_id) if model.job_id else None
            if job is None or job.user_id != user.id:
                return [], {}
            files = []
            for upload_id in job.upload_ids:
                row = session.get(Upload, upload_id)
                if row is not None and row.user_id == user.id:
                    files.append((row.filename, get_storage().get(row.storage_key)))
            return files, {"mode": job.mode, "name": model.name, **job.options}
    except VormError as exc:
        st.warning(error_text(exc))
        return [], {}


def _uploader_instructions(text: str) -> None:
    """Streamlit's uploader says "50MB per file" in English (its global upload bound, not the plan's
    limit) and offers no way to change it: hide that line and show ours in its place."""
    quoted = json.dumps(text, ensure_ascii=False)  # a valid CSS string
    st.html(f"""<style>
      [data-testid="stFileUploaderDropzoneInstructions"] > * {{ display: none !important; }}
      [data-testid="stFileUploaderDropzoneInstructions"]::after {{ content: {quoted}; font-size: 0.875rem; }}
    </style>""")


# --- a job in progress ----------------------------------------------------------


def _stage_text(stage: str | None) -> str:
    if not stage:
        return _("Waiting for a worker")
    return label("stage", stage)


def _queue_position(job: Any) -> int:
    """The job's place in the queue (0: next), counted at most every QUEUE_POSITION_SECONDS."""
    import time

    from core.jobs import queue

    known = st.session_state.get("_queue_position")
    if known and known[0] == job.id and time.monotonic() - known[1] < QUEUE_POSITION_SECONDS:
        return int(known[2])
    with get_session() as session:
        position = queue.queue_position(session, job=job) or 0
    st.session_state["_queue_position"] = (job.id, time.monotonic(), position)
    return position


@st.fragment(run_every=PROGRESS_POLL_SECONDS)
def _progress(job_id: int) -> None:
    from core.jobs import queue

    try:
        with get_session() as session:
            job = queue.get_job(session, job_id=job_id, user_id=user.id)
    except VormError as exc:
        st.error(error_text(exc))
        return
    if job.status in TERMINAL:
        st.rerun()  # the whole page draws the result, and this fragment stops refreshing
    with st.container(border=True, key="job_progress"):
        st.subheader(_("Making “{name}”", name=plain(job.name or f"#{job.id}")))
        if job.status == JobStatus.QUEUED:
            st.info(_("Waiting in the queue: number {position}.", position=fmt_number(_queue_position(job) + 1)),
                    icon=":material/schedule:")
        st.progress(min(100, max(0, int(job.progress_pct))) / 100,
                    text=f"{_stage_text(job.progress_stage)} · {int(job.progress_pct)}%")
        if st.button(_("Cancel"), key="cancel_job"):
            with get_session() as session:
                queue.cancel_job(session, job_id=job.id, user_id=user.id)
            st.rerun()
        st.caption(_("Your model appears here when it is ready."))
        viewer.placeholder(key="pending_viewer")


def _result(job_id: int) -> None:
    from core.content.library import get_model
    from core.jobs import queue

    with get_session() as session:
        job = queue.get_job(session, job_id=job_id, user_id=user.id)
    if job.status not in TERMINAL:
        _progress(job_id)
        return
    st.session_state["_upload_result_shown"] = job_id
    with st.container(border=True, key="job_result"):
        if job.status == JobStatus.SUCCEEDED and job.model_id:
            st.success(_("“{name}” is ready.", name=plain(job.name or f"#{job.id}")), icon=":material/check_circle:")
            try:
                with get_session() as session:
                    model = get_model(session, user_id=user.id, model_id=job.model_id)
            except VormError:  # deleted in another tab meanwhile
                model = None
            if model is not None and viewer.show(model, key=f"result_viewer_{model.id}"):
                st.caption(_("Drag to turn the model, scroll to zoom, shift-drag to move it."))
            st.page_link("pages/model.py", label=_("Open the model"), icon=":material/view_in_ar:",
                         query_params={"id": str(job.model_id)})
        elif job.status == JobStatus.CANCELLED:
            st.warning(_("The generation was cancelled."))
        else:
            st.error(_("The model could not be made: {message}", message=job_error_text(job)), icon=":material/error:")
    if st.button(_("Make another model"), key="start_another", icon=":material/add_photo_alternate:"):
        st.session_state.pop("upload_job_id", None)
        st.session_state["uploader_nonce"] = st.session_state.get("uploader_nonce", 0) + 1
        st.rerun()


# --- the page -------------------------------------------------------------------

st.title(_("New model"))
left = _quota()
if left > 0:
    st.caption(ngettext("You can start {n} more generation today (of {limit}).",
                        "You can start {n} more generations today (of {limit}).", left,
                        limit=fmt_number(tier["daily_generations"])))
else:
    st.warning(ngettext("You have no generations left today: your plan allows {n} a day.",
                        "You have no generations left today: your plan allows {n} a day.",
                        int(tier["daily_generations"])))
if user.plan != "premium":
    _premium = settings.tier("premium")
    _price = common.premium_price_text()
    with st.container(horizontal=True, vertical_alignment="center", key="upload_premium"):
        st.caption(_("Premium: {n} generations a day, all formats and a higher resolution, for {price}.",
                     n=fmt_number(_premium["daily_generations"]), price=_price) if _price else
                   _("Premium: {n} generations a day, all formats and a higher resolution.",
                     n=fmt_number(_premium["daily_generations"])))
        try:
            st.page_link("pages/account.py", label=_("Upgrade to premium"), icon=":material/workspace_premium:")
        except Exception:  # the page is not registered (run on its own, e.g. in a page test)
            pass

if st.query_params.get("again"):
    # "Generate again" from a model page starts a new form, even when this tab's last job is still shown.
    st.session_state.pop("upload_job_id", None)
if st.session_state.get("upload_job_id") and arrived() and \
        st.session_state.get("_upload_result_shown") == st.session_state["upload_job_id"]:
    # Back on "New model" from another page after the result was seen: a fresh form, not the old card.
    st.session_state.pop("upload_job_id", None)
    st.session_state["uploader_nonce"] = st.session_state.get("uploader_nonce", 0) + 1
if st.session_state.get("upload_job_id"):
    _result(int(st.session_state["upload_job_id"]))
    st.stop()

with st.expander(_("How does it work? The four modes"), expanded=not st.query_params.get("again")):
    cols = st.columns(3)
    for col, mode in zip(cols, ("inflate", "relief", "carve"), strict=True):
        with col:
            st.image(_example(mode), width="stretch")
            st.markdown(f"**{label('mode', mode)}**")
            st.caption(_(MODE_HELP[mode], max_views=tier["max_views"]))
    st.caption(_("Automatic chooses for you: one image is inflated, several images are carved."))

again_files, again_options = _again_sources()
if again_files:
    st.info(_("Generating “{name}” again from the same images. Change the options below.",
              name=plain(again_options.get("name", ""))), icon=":material/replay:")
    # Keyed by content: the same images, the same check.
    files: list[tuple[str, str, Any]] = [("sha256:" + hashlib.sha256(data).hexdigest(), name, data)
                                         for name, data in again_files]
else:
    limit_mb = fmt_number(tier["max_upload_bytes"] / 1024 / 1024, digits=0)
    _uploader_instructions(_("Up to {mb} MB per file · PNG, JPEG or WebP", mb=limit_mb))
    uploader_key = f"uploader_{st.session_state.get('uploader_nonce', 0)}"
    _take_new_files(uploader_key)
    picked = st.file_uploader(
        _("Your image, or several views of one object"), accept_multiple_files=True, key=uploader_key,
        help=_("PNG, JPEG or WebP, up to {mb} MB each; at most {max_views} views on your plan.", mb=limit_mb,
               max_views=tier["max_views"]),
    )
    # Keyed by the uploader's file id: after the first check Streamlit's copy of the bytes is gone (_release).
    files = [("file:" + f.file_id, f.name, f) for f in (picked or [])]
    st.caption(ngettext("At most {n} view on your plan.", "At most {n} views on your plan.", tier["max_views"])
               + " " + _("Tip: one object, a plain background, and some space around it. Camera details and GPS "
                   "position are removed before your image is stored."))

checked = _checked(files)  # also forgets the files no longer here
again = bool(again_files)
if not again:
    _release(picked or [])  # a file _take_new_files could not take: checked from memory, now released
# No bytes stay in this page's variables: they can outlive the run (until the garbage collector comes).
files = [(key, name, None) for key, name, _source in files]
del again_files
if not files:
    st.stop()

problems = [(name, c["error"]) for name, c in checked if "error" in c]
good = [(name, c) for name, c in checked if "error" not in c]
single = len(files) == 1 and len(good) == 1
if not single:  # several views: each must show its object on its own (carve has no box)
    problems += [(name, c["mask_error"]) for name, c in good if "mask_error" in c]
    good = [(name, c) for name, c in good if "mask_error" not in c]

for name, exc in problems:
    st.error(f"**{plain(name)}**: {error_text(exc)}", icon=":material/error:")
if len(files) > 1:
    try:
        uploads.check_views(len(files), plan=user.plan)
    except VormError as exc:
        problems.append(("", exc))
        st.error(error_text(exc), icon=":material/error:")

# The options are drawn below the preview, but the preview depends on them: read their last values.
mode_default = again_options.get("mode", "auto")
chosen_mode = st.session_state.get("opt_mode", mode_default if mode_default in MODES else "auto")
several = len(files) > 1
made_mode = chosen_mode if chosen_mode != "auto" else ("carve" if several else "inflate")
lithophane_default = bool(again_options.get("lithophane", False))
chosen_lithophane = bool(st.session_state.get("opt_litho", lithophane_default))

box: list[float] | None = None
needs_box: VormError | None = None  # one image whose object was not found without a box
if good and single and made_mode == "relief":
    # A relief is the whole picture as a plate: no object to find, no box.
    st.subheader(_("What will be modelled"))
    name, c = good[0]
    file_key, image = files[0][0], c["validated"].image
    _left, middle, _right = st.columns([1, 2, 1])
    with middle:
        if chosen_lithophane:
            st.image(_lithophane(file_key, image), width="stretch",
                     caption=_("{name} · the lithophane lit from behind: one pale material, thin where the "
                               "picture is bright", name=plain(name)))
        else:
            st.image(_picture(file_key, image), width="stretch",
                     caption=_("{name} · the whole picture becomes a plate: the brighter, the higher",
                               name=plain(name)))
elif good and single:
    st.subheader(_("What will be modelled"))
    name, c = good[0]
    file_key, image = files[0][0], c["validated"].image
    digest = hashlib.sha256(file_key.encode()).hexdigest()[:16]
    state = st.session_state.get("upload_box") or {}
    if state.get("digest") != digest:  # another image: its own box, or the earlier model's on "generate again"
        again_box = again_options.get("box") if again else None
        state = {"digest": digest, "box": list(again_box) if again_box else None, "nonce": 0}
        st.session_state["upload_box"] = state
    if st.query_params.get("box") and not state["box"]:  # from the model page's "Not right? Draw a box"
        st.info(_("Drag a box around the object in the picture on the left, then generate again."),
                icon=":material/crop_free:")
    else:
        st.caption(_("Not the right object? Drag a box around it in the picture on the left: we then look for the "
                     "object inside the box only."))
    left_col, right_col = st.columns(2)
    with left_col:
        drawn = _box_picker(_picture_png(file_key, image), state["box"], f"box_{digest}_{state['nonce']}")
    if drawn and drawn != state["box"]:
        state["box"] = drawn
    box = state["box"]
    shown_preview = _boxed(file_key, tuple(box), image) if box else c
    with right_col:
        if "mask_error" in shown_preview:
            needs_box = shown_preview["mask_error"]
            hint = (_("Try a box that holds the whole object and little else.") if box else
                    "" if getattr(needs_box, "code", "") == "object_not_found" else  # its message asks for a box
                    _("Drag a box around the object in the picture to show us where it is."))
            st.warning(f"{error_text(needs_box)} {hint}".strip(), icon=":material/crop_free:")
        else:
            found = (_("Object inside your box ({pct} of the image)", pct=fmt_percent(shown_preview["share"]))
                     if box else _("Detected object ({pct} of the image)", pct=fmt_percent(shown_preview["share"])))
            st.image(shown_preview["preview"], width="stretch", caption=f"{plain(name)} · {found}")
            st.caption(_("The washed-out part is treated as background.") + " "
                       + method_text(shown_preview["method"], shown_preview["segmenter"]))
    if box and st.button(_("Clear the box"), icon=":material/close:", key="clear_box"):
        st.session_state["upload_box"] = {"digest": digest, "box": None, "nonce": state["nonce"] + 1}
        st.rerun()
elif good:
    st.subheader(_("What will be modelled"))
    st.caption(_("The object as we found it; the washed-out part is treated as background."))
    shown = good[:8]
    cols = st.columns(min(4, len(shown)))
    for i, (name, c) in enumerate(shown):
        cols[i % len(cols)].image(c["preview"], caption=plain(name), width="stretch")
    if len(good) > len(shown):
        st.caption(ngettext("…and {n} more view.", "…and {n} more views.", len(good) - len(shown)))

# No st.form: the options below depend on the mode (a form would only redraw them on submit), and in a
# form the Enter key in a field submits it, which started a generation while someone typed a size.
st.subheader(_("Options"))
c1, c2 = st.columns(2)
mode = c1.selectbox(_("Mode"), MODES, index=MODES.index(chosen_mode), format_func=lambda m: label("mode", m),
                    key="opt_mode")
name = c2.text_input(_("Name of the model"), value=again_options.get("name")
                     or uploads.default_name([f for _k, f, _d in files]), key="opt_name")
faces_default = int(again_options.get("faces", 20_000))
faces = c1.select_slider(_("Detail (triangles)"), options=FACE_STEPS, format_func=fmt_number,
                         value=faces_default if faces_default in FACE_STEPS else 20_000,
                         help=_("More triangles keep finer detail but make larger files. {n} suits most prints.",
                                n=fmt_number(20_000)), key="opt_faces")
size_mm = c2.number_input(_("Print size of the longest side (mm)"), min_value=PRINT_SIZE_MM[0],
                          max_value=PRINT_SIZE_MM[1], step=5.0, format="%.1f",
                          value=float(again_options.get("size_mm") or DEFAULT_PRINT_SIZE_MM),
                          help=_("The files are in millimetres, ready for a slicer. You can change the size later "
                                 "on the model's page."), key="opt_size")
lithophane = False
if made_mode == "relief":
    lithophane = c1.checkbox(_("Lithophane"), value=lithophane_default, key="opt_litho",
                             help=_("Dark areas become thick, so the print shows the picture when lit from "
                                    "behind."))
elevation = 0
if made_mode == "carve":
    elevation = c2.slider(_("Camera height (degrees above the turntable)"), min_value=0, max_value=60,
                          step=5, value=int(again_options.get("elevation_deg") or 0), key="opt_elevation",
                          help=_("0 when the camera looked straight at the turntable; more when it looked down "
                                 "on it."))
blocked = bool(problems) or not good or left == 0 or (needs_box is not None and made_mode in BOX_MODES_MADE)
submitted = st.button(_("Make my 3D model"), type="primary", icon=":material/deployed_code:", disabled=blocked,
                      key="make_model")
if problems:
    st.caption(_("Fix the problems above first; then you can start."))

if submitted and not blocked:
    options: dict[str, Any] = {"faces": int(faces), "size_mm": float(size_mm)}
    if made_mode == "relief" and lithophane:
        options["lithophane"] = True
    if elevation and made_mode == "carve":
        options["elevation_deg"] = float(elevation)
    if box and single and mode in BOX_MODES:
        options["box"] = box
    try:
        with get_session() as session:
            # Limits first, then storage, then rows and job in one transaction: a refusal stores nothing.
            images = [c["validated"].validated() for _n, c in good]  # read back from disk
            job = uploads.submit_generation(session, user=user, images=images, mode=mode, options=options,
                                            name=name.strip()[:255], client=client())
    except VormError as exc:
        st.error(error_text(exc), icon=":material/error:")
    else:
        st.session_state["upload_job_id"] = job.id
        if "again" in st.query_params:
            del st.query_params["again"]
        flash("success", msgid=N_("Your model is on its way."))
        st.rerun()
