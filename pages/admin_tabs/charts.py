"""Altair and pydeck charts for the admin tabs; every visible word goes through gettext."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import altair as alt
import pydeck as pdk
import streamlit as st

from core import i18n
from pages.common import _, label, lang

STATUS_COLOURS = {"succeeded": "#2e9e5b", "failed": "#d1495b", "cancelled": "#9a9a9a", "queued": "#edae49",
                  "running": "#3d7ab8"}


#: The look every bar chart shares: the count's title above the chart (a vertical axis title is cut
#: to the chart's height), labels across, whole numbers only, and no decimals on a scale of counts.
TITLE_COLOUR = "#31333f"
AXIS_COLOUR = "#6b6f7b"


def bucket(value: str | datetime, *, hourly: bool = False) -> str:
    """A metrics bucket ("2026-11-30", "2026-11-30 14:00" or a datetime) as a short label in the page's language."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return i18n.format_bucket(when if hourly or isinstance(value, datetime) else when.date(), lang(), hourly=hourly)


def timeline(rows: list[dict[str, Any]], period: Any, *, series: str | None = None) -> list[dict[str, Any]]:
    """Counts per day (per hour in a 24-hour period) from ``metrics``, with every bucket of the period present
    (a quiet day is a 0, not a gap that moves the next day up), labelled in the page's language.

    ``series``: the field that splits a bucket (a job's status); a quiet bucket gets a 0 of the first one.
    No rows at all stay none, so the chart's empty message shows.
    """
    if not rows:
        return []
    hourly = bool(period.hourly)
    fmt, step = ("%Y-%m-%d %H:00", timedelta(hours=1)) if hourly else ("%Y-%m-%d", timedelta(days=1))
    start = period.since.replace(minute=0, second=0, microsecond=0)
    if not hourly:
        start = start.replace(hour=0)
    keys: list[str] = []
    while start <= period.now:
        keys.append(start.strftime(fmt))
        start += step
    by_key: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_key.setdefault(str(r["t"]), []).append(r)
    quiet = {series: rows[0][series]} if series else {}
    filled = [r for k in keys for r in by_key.get(k, [{"t": k, **quiet, "n": 0}])]
    return [{**r, "t": bucket(r["t"], hourly=hourly)} for r in filled]


def bar_chart(rows: list[dict[str, Any]], *, x: str, y: str, x_title: str, y_title: str, colour: str | None = None,
              colour_title: str = "") -> alt.Chart | None:
    """Bars of counts; None when there is nothing to draw (no rows, or every count is zero)."""
    if not rows or not any(r[y] for r in rows):
        return None
    enc: dict[str, Any] = {
        "x": alt.X(f"{x}:N", title=x_title, sort=None,
                   axis=alt.Axis(labelAngle=0, labelOverlap="greedy", labelLimit=120, labelPadding=6,
                                 titlePadding=10, titleColor=AXIS_COLOUR, titleFontWeight="normal")),
        # tickMinStep 1 and format "d": a count's scale says 0, 1, 2, never 0.5 or 0.000000.
        "y": alt.Y(f"{y}:Q", title=None, scale=alt.Scale(domainMin=0, nice=True),
                   axis=alt.Axis(format="d", tickMinStep=1, tickCount=5, labelPadding=6)),
        "tooltip": [alt.Tooltip(f"{x}:N", title=x_title),
                    *([alt.Tooltip(f"{colour}:N", title=colour_title)] if colour else []),
                    alt.Tooltip(f"{y}:Q", title=y_title, format="d")],
    }
    if colour:
        domain = [s for s in STATUS_COLOURS if any(r[colour] == label("job_status", s) for r in rows)]
        enc["color"] = alt.Color(f"{colour}:N", title=colour_title,
                                 scale=alt.Scale(domain=[label("job_status", s) for s in domain],
                                                 range=[STATUS_COLOURS[s] for s in domain]),
                                 legend=alt.Legend(orient="top", direction="horizontal", titleOrient="left"))
    title = alt.TitleParams(y_title, anchor="start", frame="group", fontSize=13, fontWeight="normal",
                            color=TITLE_COLOUR, offset=10, limit=0)
    return (alt.Chart(alt.Data(values=rows), title=title)
            .mark_bar(cornerRadiusTopLeft=2, cornerRadiusTopRight=2, color="#3d7ab8")
            .encode(**enc).properties(height=320 if colour else 240))  # the legend takes its share


def bars(rows: list[dict[str, Any]], *, x: str, y: str, x_title: str, y_title: str, colour: str | None = None,
         colour_title: str = "", key: str, empty: str | None = None) -> None:
    """A bar chart of counts, or ``empty`` (a sentence saying there is nothing to show) in its place."""
    chart = bar_chart(rows, x=x, y=y, x_title=x_title, y_title=y_title, colour=colour, colour_title=colour_title)
    if chart is None:
        st.caption(empty or _("No data in this period."))
        return
    st.altair_chart(chart, key=key, width="stretch")


def table(rows: list[dict[str, Any]], *, key: str, empty: str, **kwargs: Any) -> None:
    """A table, or ``empty`` in its place: a table with no rows says only "empty"."""
    if not rows:
        st.caption(empty)
        return
    st.dataframe(rows, key=key, hide_index=True, **kwargs)


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
