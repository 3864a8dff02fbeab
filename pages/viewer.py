"""The 3D viewer of one model, shared by the model page and the upload page's result (not a page itself)."""

from __future__ import annotations

from typing import Any

import pydeck as pdk
import streamlit as st

from core.content import library, viewer
from core.db import get_session
from core.models import Model3D

VIEWER_HEIGHT_PX = 520
BACKGROUND = [246, 247, 249]


class _Prepared(pdk.Deck):  # type: ignore[misc]
    """A deck whose JSON was written once (``core.content.viewer``): pydeck's indented serialiser
    made the viewer's message five times larger and took longer than the drawing."""

    def __init__(self, spec: str) -> None:
        # pydeck's own __init__ is skipped: it looks for its Jupyter extra with an import that fails on
        # every call, under the import lock every page thread shares (seen at 100 sessions). Streamlit
        # reads only to_json() and the optional attributes set here.
        self._spec = spec
        self.layers: list[Any] = []
        self.mapbox_key = None
        self._tooltip = None

    def to_json(self) -> str:
        return self._spec


# One entry per model being looked at (a few hundred kB each): at 100 sessions, 16 entries were
# recomputed on nearly every model page run, a third of the web process's CPU.
@st.cache_data(show_spinner=False, max_entries=128, ttl=600)
def _spec(model_id: int, preview_key: str | None, user_id: int, height_px: int) -> tuple[str, int]:
    # Keyed by the owner too, so a cache entry can never answer another user's request; and by the
    # preview's key (under a fresh prefix per model), in case SQLite hands a deleted model's id out again.
    with get_session() as session:
        model = library.get_model(session, user_id=user_id, model_id=model_id)
    return viewer.viewer_spec(model, height_px=height_px, background=BACKGROUND)


def show(model: Model3D, *, key: str, height_px: int = VIEWER_HEIGHT_PX) -> int:
    """Draw the viewer of the user's own ``model``; returns how many triangles it shows (0: no preview)."""
    spec, faces = _spec(int(model.id), model.preview_key, int(model.user_id), height_px)
    st.pydeck_chart(_Prepared(spec), height=height_px, key=key)
    return faces


def placeholder(*, key: str, height_px: int = VIEWER_HEIGHT_PX) -> None:
    """An empty viewer where the model will appear: the browser loads and starts deck.gl while the job
    runs, so the model draws sooner when it is ready (issue 19: click to model)."""
    st.pydeck_chart(_Prepared(_empty(height_px)), height=height_px, key=key)


@st.cache_data(show_spinner=False)
def _empty(height_px: int) -> str:
    return viewer.empty_spec(height_px=height_px, background=BACKGROUND)
