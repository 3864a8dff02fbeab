"""Photo-like test scenes made on the fly: an object with a known mask on a busy background.

``scene(texture, shape, shadow)`` returns ``(rgb, mask, box)``: an RGB array, the object's
true pixels, and a box around the object as fractions (x0, y0, x1, y1) of the image, as a
person would draw it on the upload page (a little slack on each side). The textures are what
photos on a table show: wood grain, a mottled surface, a quieter table top, a wall meeting a
table at a horizon, and pixel noise.
A soft cast shadow falls on the background beside the object. Used by the tests and by
``benchmarks/photo_quality.py``.
"""

from __future__ import annotations

import numpy as np

TEXTURES = ("wood", "mottled", "table", "wall_table", "noise")
SHAPES = ("ellipse", "box", "figure", "bottle")
OBJECT_COLOURS = {"ellipse": (40, 90, 190), "box": (200, 60, 50), "figure": (60, 160, 80), "bottle": (230, 200, 60)}


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """Value noise in 0..1 with features about ``cell`` pixels across (bilinear over a coarse grid)."""
    gh, gw = height // cell + 2, width // cell + 2
    grid = rng.random((gh, gw))
    ys = np.arange(height) / cell
    xs = np.arange(width) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
    a = grid[y0][:, x0]
    b = grid[y0][:, x0 + 1]
    c = grid[y0 + 1][:, x0]
    d = grid[y0 + 1][:, x0 + 1]
    return a * (1 - fy) * (1 - fx) + b * (1 - fy) * fx + c * fy * (1 - fx) + d * fy * fx


def background(texture: str, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A float RGB background (0-255) of the named texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    if texture == "wood":  # warm stripes whose grain wanders
        wobble = 9 * _smooth_noise(rng, height, width, 40)
        grain = np.sin((yy + wobble * 3 + 0.08 * xx) / 5.5) * 0.5 + 0.5
        fine = _smooth_noise(rng, height, width, 3)
        tone = 0.5 + 0.4 * grain + 0.15 * fine
        out = np.stack([175 * tone, 120 * tone, 75 * tone], axis=-1)
    elif texture == "mottled":  # a stone or fabric surface: blotches at two scales
        n = 0.6 * _smooth_noise(rng, height, width, 24) + 0.4 * _smooth_noise(rng, height, width, 6)
        out = np.stack([120 + 90 * n, 118 + 80 * n, 110 + 70 * n], axis=-1)
    elif texture == "table":  # a quieter surface, plain enough for the plain-background method to accept
        n = 0.6 * _smooth_noise(rng, height, width, 24) + 0.4 * _smooth_noise(rng, height, width, 6)
        out = np.stack([150 + 45 * n, 140 + 40 * n, 125 + 35 * n], axis=-1)
    elif texture == "wall_table":  # a pale wall, a horizon, a darker grained table in front
        horizon = 0.42 * height
        wall = np.stack([215 - 20 * yy / height, 210 - 20 * yy / height, 195 - 15 * yy / height], axis=-1)
        streak = _smooth_noise(rng, height, width, 4)
        table_tone = 0.8 + 0.2 * np.sin(xx / 7 + 3 * streak)
        table = np.stack([140 * table_tone, 100 * table_tone, 70 * table_tone], axis=-1)
        out = np.where((yy < horizon)[..., None], wall, table)
        out += rng.normal(0, 3, out.shape)
    elif texture == "noise":  # plain pixel noise around mid grey: busy, with no structure at all
        out = 128 + rng.normal(0, 45, (height, width, 3))
    else:
        raise ValueError(texture)
    return out


def shape_mask(shape: str, height: int, width: int, cx: float, cy: float, scale: float) -> np.ndarray:
    """The object's silhouette, about ``scale`` of the image height across, centred at (cx, cy) in pixels."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    r = scale * height / 2
    u, v = (xx - cx) / r, (yy - cy) / r
    if shape == "ellipse":
        return u**2 / 0.75**2 + v**2 <= 1
    if shape == "box":  # a rounded rectangle
        qx, qy = np.maximum(np.abs(u) - 0.55, 0), np.maximum(np.abs(v) - 0.8, 0)
        return qx**2 + qy**2 <= 0.18**2
    if shape == "figure":  # a body, a head, an arm: not convex
        body = u**2 / 0.5**2 + (v - 0.25) ** 2 / 0.7**2 <= 1
        head = u**2 + (v + 0.7) ** 2 <= 0.3**2
        arm = (np.abs(v - 0.05) < 0.12) & (u > 0) & (u < 0.95)
        return body | head | arm
    if shape == "bottle":  # a wide body and a narrow neck
        body = (np.abs(u) <= 0.4) & (v >= -0.3) & (v <= 1.0)
        neck = (np.abs(u) <= 0.15) & (v >= -1.0) & (v < -0.3)
        return body | neck
    raise ValueError(shape)


def scene(
    texture: str,
    shape: str,
    shadow: bool = True,
    size: tuple[int, int] = (320, 240),
    seed: int = 0,
    centre: tuple[float, float] = (0.5, 0.52),
    scale: float = 0.62,
) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    """``(rgb, mask, box)``: a shaded object on ``texture``, with a soft shadow cast to its lower right."""
    from scipy import ndimage

    width, height = size
    cx, cy = centre[0] * width, centre[1] * height
    out = background(texture, height, width, seed)
    mask = shape_mask(shape, height, width, cx, cy, scale)
    if shadow:
        offset = (round(0.05 * height), round(0.07 * width))
        cast = np.roll(np.roll(mask, offset[0], axis=0), offset[1], axis=1).astype(np.float64)
        cast = ndimage.gaussian_filter(cast, 0.03 * height)
        out *= (1.0 - 0.45 * cast)[..., None]
    # Shading as on a rounded solid lit from the upper left: brighter there, darker at the rim.
    inside = ndimage.distance_transform_edt(mask)
    depth = np.sqrt(np.clip(inside / max(inside.max(), 1.0), 0, 1))
    yy, xx = np.mgrid[0:height, 0:width]
    light = 0.55 + 0.35 * depth + 0.15 * ((cx - xx) / width + (cy - yy) / height)
    colour = np.array(OBJECT_COLOURS[shape], np.float64)
    rng = np.random.default_rng(seed + 1)
    obj = colour[None, None, :] * light[..., None] + rng.normal(0, 3, (height, width, 3))
    out = np.where(mask[..., None], obj, out)
    rows, cols = np.nonzero(mask)
    slack = 0.04
    box = (
        max(0.0, cols.min() / width - slack),
        max(0.0, rows.min() / height - slack),
        min(1.0, (cols.max() + 1) / width + slack),
        min(1.0, (rows.max() + 1) / height + slack),
    )
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), mask, box


def texture_only(texture: str, size: tuple[int, int] = (320, 240), seed: int = 0) -> np.ndarray:
    """Nothing but the background: a scene in which no object can be told apart."""
    width, height = size
    return np.clip(background(texture, height, width, seed) + 0.5, 0, 255).astype(np.uint8)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))
