"""The model viewer's payload: a compact deck.gl JSON spec of the stored preview mesh. No Streamlit here.

The page hands this string to ``st.pydeck_chart`` as it is. pydeck's own serialiser writes
every number on its own indented line (2.6 MB for the 6,000-triangle preview of a 512² inflate)
and the page then spent longer sending and parsing it than drawing it. Here the same layer
(one ``SolidPolygonLayer`` polygon per triangle, see DESIGN.md: what renders in headless Chromium)
is written with short keys, no whitespace, and coordinates rounded to a step far below a pixel,
and a preview larger than ``VIEWER_MAX_FACES`` triangles is simplified first, so a big mesh
cannot make the page slow. The downloads keep the full model.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from core.content.library import camera_for_bounds, preview_polygons
from core.models import Model3D

#: At most this many triangles go to the browser (what the worker stores as the preview).
VIEWER_MAX_FACES = 6000
#: Coordinates are rounded to a power of ten of at most the model's largest side / this (for the
#: viewer's 520 px at 60% fill, well under a pixel), and at least a tenth of it.
COORD_STEPS = 1000
ROTATION_ORBIT_DEG = -30
ROTATION_X_DEG = 15


def preview_arrays(model: Model3D) -> tuple[np.ndarray, np.ndarray]:
    """The stored preview as triangles (m, 3, 3) and their colours (m, 3) uint8; empty when there is none."""
    triangles, colours = [], []
    for item in preview_polygons(model):
        polygon, colour = item.get("polygon"), item.get("color")
        if isinstance(polygon, list) and len(polygon) == 3 and isinstance(colour, list) and len(colour) >= 3:
            triangles.append(polygon)
            colours.append(colour[:3])
    try:
        tri = np.asarray(triangles, np.float64).reshape(-1, 3, 3)
        rgb = np.clip(np.asarray(colours, np.float64).reshape(-1, 3), 0, 255).astype(np.uint8)
    except (TypeError, ValueError):  # a malformed preview shows as none; the downloads are complete
        return np.zeros((0, 3, 3)), np.zeros((0, 3), np.uint8)
    keep = np.isfinite(tri).all(axis=(1, 2))
    return tri[keep], rgb[keep]


def thin(tri: np.ndarray, rgb: np.ndarray, max_faces: int = VIEWER_MAX_FACES) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_faces`` triangles that keep the shape: shared corners are joined, the mesh is
    simplified, and each new triangle takes the colour of the nearest old one."""
    if len(tri) <= max_faces:
        return tri, rgb
    import fast_simplification
    from scipy.spatial import cKDTree

    corners, faces = np.unique(tri.reshape(-1, 3), axis=0, return_inverse=True)
    faces = faces.reshape(-1, 3)
    try:
        v, f = fast_simplification.simplify(corners.astype(np.float32), faces.astype(np.int64),
                                            target_count=max(4, max_faces))
        new = np.asarray(v, np.float64)[np.asarray(f, np.int64)]
    except Exception:  # noqa: BLE001 - an odd preview: every k-th triangle still shows its size and colours
        new = tri[:: math.ceil(len(tri) / max_faces)]
    if len(new) > max_faces or not len(new):
        new = tri[:: math.ceil(len(tri) / max_faces)]
    _, nearest = cKDTree(tri.mean(axis=1)).query(new.mean(axis=1))
    return new, rgb[nearest]


def _decimals(extent: float) -> int:
    """Decimals such that the rounding step is between extent/COORD_STEPS/10 and extent/COORD_STEPS."""
    return int(min(8, max(0, -math.floor(math.log10(max(extent, 1e-9) / COORD_STEPS)))))


def empty_spec(*, height_px: int, background: list[int]) -> str:
    """The deck.gl JSON of an empty viewer: what the upload page shows while the model is being made."""
    return _spec(np.zeros((0, 3, 3)), np.zeros((0, 3)), height_px=height_px, background=background)[0]


def viewer_spec(model: Model3D, *, height_px: int, background: list[int]) -> tuple[str, int]:
    """The deck.gl JSON for ``st.pydeck_chart`` and the number of triangles it shows (0: no preview)."""
    tri, rgb = thin(*preview_arrays(model))
    return _spec(tri, rgb, height_px=height_px, background=background)


def _spec(tri: np.ndarray, rgb: np.ndarray, *, height_px: int, background: list[int]) -> tuple[str, int]:
    if len(tri):
        points = tri.reshape(-1, 3)
        lo, hi = points.min(axis=0).tolist(), points.max(axis=0).tolist()
        camera = camera_for_bounds(lo, hi, height_px)
        digits = _decimals(max(b - a for a, b in zip(lo, hi, strict=True)))
        rounded = np.round(tri, digits) + 0.0  # + 0.0: no "-0.0"
        coords: Any = rounded.astype(np.int64).tolist() if digits == 0 else rounded.tolist()
        data = [{"p": p, "c": c} for p, c in zip(coords, rgb.tolist(), strict=True)]
    else:
        camera = camera_for_bounds([-0.5, -0.5, -0.5], [0.5, 0.5, 0.5], height_px)
        data = []
    spec = {
        "initialViewState": {"target": camera.target, "zoom": camera.zoom, "minZoom": camera.min_zoom,
                             "maxZoom": camera.max_zoom, "rotationOrbit": ROTATION_ORBIT_DEG,
                             "rotationX": ROTATION_X_DEG},
        "layers": [{"@@type": "SolidPolygonLayer", "id": "mesh", "data": data, "getPolygon": "@@=p",
                    "getFillColor": "@@=c", "_full3d": True, "extruded": False, "pickable": False,
                    "stroked": False}],
        "views": [{"@@type": "OrbitView", "controller": True, "orbitAxis": "Y"}],
        "parameters": {"clearColor": [c / 255 for c in background] + [1]},
    }
    return json.dumps(spec, separators=(",", ":")), len(data)
