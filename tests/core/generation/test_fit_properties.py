"""Property tests (Hypothesis): the solid fits take any outline and any lighting, and answer a solid or None.

Outlines are random polygons, ellipses and unions of disks, drawn soft on grids of
random size; brightness is a random mix of levels, gradients and noise. A fit may
refuse, but never raises, and a solid it returns has finite surfaces, its front
never behind its back.
"""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from core.generation import cuboid, oblique

SS = 4  # supersampling of the drawn outlines, so their coverage is soft like the engine's


def _draw(size: tuple[int, int], shapes: list[tuple[str, list[float]]]) -> np.ndarray:
    canvas = Image.new("L", (size[1] * SS, size[0] * SS), 0)
    draw = ImageDraw.Draw(canvas)
    for kind, p in shapes:
        pts = [(x * size[1] * SS, y * size[0] * SS) for x, y in zip(p[0::2], p[1::2], strict=False)]
        if kind == "polygon" and len(pts) >= 3:
            draw.polygon(pts, fill=255)
        elif kind == "ellipse" and len(pts) >= 2:
            (x0, y0), (x1, y1) = pts[0], pts[1]
            draw.ellipse([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], fill=255)
    small = canvas.resize((size[1], size[0]), Image.Resampling.BOX)
    cov = np.asarray(small, dtype=np.float32) / 255.0
    cov[[0, -1], :] = 0.0  # the grid's outer ring is outside, as inflate's is
    cov[:, [0, -1]] = 0.0
    return cov


coords = st.floats(0.05, 0.95, allow_nan=False)
shape = st.one_of(
    st.tuples(st.just("polygon"), st.lists(coords, min_size=6, max_size=16)),
    st.tuples(st.just("ellipse"), st.lists(coords, min_size=4, max_size=4)),
)


@settings(max_examples=80, deadline=None)
@given(
    rows=st.integers(24, 120),
    cols=st.integers(24, 120),
    shapes=st.lists(shape, min_size=1, max_size=3),
    levels=st.lists(st.floats(0.0, 255.0), min_size=1, max_size=3),
    slope=st.tuples(st.floats(-2.0, 2.0), st.floats(-2.0, 2.0)),
    noise=st.floats(0.0, 20.0),
    seed=st.integers(0, 2**16),
)
def test_fits_answer_a_sound_solid_or_none(rows, cols, shapes, levels, slope, noise, seed) -> None:
    coverage = _draw((rows, cols), shapes)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:cols]
    band = (xx * len(levels) // cols).clip(0, len(levels) - 1)
    brightness = np.asarray(levels)[band] + slope[0] * xx + slope[1] * yy + rng.normal(0, noise, (rows, cols))
    brightness = np.where(coverage > 0, np.clip(brightness, 0, 255), 0.0)
    for fit in (oblique.fit, oblique.fit_frustum, cuboid.fit):
        solid = fit(coverage, brightness)
        if solid is None:
            continue
        front, back, hit = solid.rays(coverage.shape)
        assert np.isfinite(front).all() and np.isfinite(back).all()
        assert (front[hit] >= back[hit]).all()


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(["box", "cylinder", "cone"]),
    size=st.sampled_from([96, 128]),
    a=st.floats(12.0, 30.0),
    b=st.floats(12.0, 30.0),
    c=st.floats(12.0, 30.0),
    turn=st.floats(-85.0, 85.0),
    lean=st.floats(-60.0, 60.0),
)
# A box whose hexagon has two sides nearly square in the picture: its depths were ill-conditioned,
# and half a cell of error in a corner made one edge twice as long (ray-IoU 0.45, inflate's 0.6).
@example(kind="box", size=96, a=21.49949879784306, b=15.694184864101583, c=25.342635417498638,
         turn=-18.921470829154757, lean=-14.343220304063713)
def test_a_fitted_solid_is_truer_than_the_dome(kind, size, a, b, c, turn, lean) -> None:
    """Boxes, cylinders and cones in any pose, drawn with hard edges: a fit may refuse, but what it
    returns is sound and nearer the true solid than inflate's own surfaces."""
    from core.generation import inflate
    from tests.core.generation import builders
    from tests.core.generation.conftest import ray_iou, shaded_field

    k = size / 96
    if kind == "box":
        image, front, back = builders.box_on_corner(size, (a * k, b * k, c * k), turn, lean)
    else:
        image, front, back = builders.slanted_cylinder(size, a * k * 0.8, b * k * 1.2, turn, lean,
                                                       end_radius=0.0 if kind == "cone" else None)
    field, _, _, brightness = shaded_field(image)
    for fit in (oblique.fit, oblique.fit_frustum, cuboid.fit):
        solid = fit(field.coverage, brightness)
        if solid is None:
            continue
        f, bk, hit = solid.rays(field.coverage.shape)
        assert np.isfinite(f).all() and (f[hit] >= bk[hit]).all()
        fitted = ray_iou(field, inflate.surfaces(field, solid=solid), front, back)
        assert fitted > ray_iou(field, inflate.surfaces(field), front, back), (fit.__module__, solid)
