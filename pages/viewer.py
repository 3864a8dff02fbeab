"""The 3D viewer of one model, shared by the model page and the upload page's result (not a page itself)."""

from __future__ import annotations

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
        super().__init__(map_provider=None, map_style=None)
        self._spec = spec

    def to_json(self) -> str:
        return self._spec


@st.cache_data(show_spinner=False, max_entries=16, ttl=600)
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
