"""Altair and pydeck charts for the admin tabs; every visible word goes through gettext."""

from __future__ import annotations

from typing import Any

import altair as alt
import pydeck as pdk
import streamlit as st

from pages.common import _, label

STATUS_COLOURS = {"succeeded": "#2e9e5b", "failed": "#d1495b", "cancelled": "#9a9a9a", "queued": "#edae49",
                  "running": "#3d7ab8"}


def bars(rows: list[dict[str, Any]], *, x: str, y: str, x_title: str, y_title: str, colour: str | None = None,
         colour_title: str = "", key: str) -> None:
    if not rows:
        st.caption(_("No data in this period."))
        return
    enc: dict[str, Any] = {"x": alt.X(f"{x}:N", title=x_title, sort=None), "y": alt.Y(f"{y}:Q", title=y_title)}
    if colour:
        domain = [s for s in STATUS_COLOURS if any(r[colour] == label("job_status", s) for r in rows)]
        enc["color"] = alt.Color(f"{colour}:N", title=colour_title,
                                 scale=alt.Scale(domain=[label("job_status", s) for s in domain],
                                                 range=[STATUS_COLOURS[s] for s in domain]))
        enc["tooltip"] = [f"{x}:N", f"{colour}:N", f"{y}:Q"]
    chart = alt.Chart(alt.Data(values=rows)).mark_bar().encode(**enc).properties(height=260)
    st.altair_chart(chart, key=key, width="stretch")


def columns_3d(rows: list[dict[str, Any]], *, key: str) -> None:
    """Jobs by resolution (x) and faces (y); height: mean engine seconds, colour: number of jobs."""
    if not rows:
        st.caption(_("No data in this period."))
        return
    top = max(r["jobs"] for r in rows) or 1
    max_res = max(r["resolution"] for r in rows) or 1
    max_faces = max(r["faces"] for r in rows) or 1
    half = 2.5  # half the width of a column, in the chart's 0..100 units

    def square(x: float, y: float) -> list[list[float]]:
        return [[x - half, y - half], [x + half, y - half], [x + half, y + half], [x - half, y + half]]

    data = [{"polygon": square(r["resolution"] / max_res * 100, r["faces"] / max_faces * 100),
             "elevation": r["seconds"] * 8,
             "color": [46, 158 - int(100 * r["jobs"] / top), 91 + int(150 * r["jobs"] / top)],
             "tip": _("{res} px · {faces} faces · {jobs} jobs · {seconds} s", res=r["resolution"], faces=r["faces"],
                      jobs=r["jobs"], seconds=round(r["seconds"], 2))} for r in rows]
    # Extruded polygons: the layer that renders in headless Chromium's WebGL as in browsers (see DESIGN.md).
    layer = pdk.Layer("SolidPolygonLayer", data=data, get_polygon="polygon", get_elevation="elevation",
                      extruded=True, get_fill_color="color", pickable=True)
    view = pdk.View(type="OrbitView", controller=True)
    state = pdk.ViewState(target=[50, 50, 0], rotation_orbit=30, rotation_x=35, zoom=1.6)
    st.pydeck_chart(pdk.Deck(layers=[layer], views=[view], initial_view_state=state, map_provider=None,
                             tooltip={"text": "{tip}"}), key=key, height=380)
