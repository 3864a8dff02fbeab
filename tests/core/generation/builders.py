"""Test images made on the fly: shapes with alpha or on a plain background, and turntable views."""

from __future__ import annotations

import io
import math
import struct
import zlib

import numpy as np
from PIL import Image


def png(array: np.ndarray, **save: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", **save)
    return buf.getvalue()


def disk_mask(size: int, radius: float, cx: float | None = None, cy: float | None = None) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    cx = size / 2 - 0.5 if cx is None else cx
    cy = size / 2 - 0.5 if cy is None else cy
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2


def figure_mask(size: int = 256) -> np.ndarray:
    """A body, a head up top and one arm to the right: asymmetric on purpose."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    body = (xx - 0.45) ** 2 / 0.2**2 + (yy - 0.6) ** 2 / 0.28**2 <= 1
    head = (xx - 0.45) ** 2 + (yy - 0.22) ** 2 <= 0.12**2
    arm = (np.abs(yy - 0.5) < 0.05) & (xx > 0.45) & (xx < 0.9)
    return body | head | arm


def rgba(mask: np.ndarray, colour: tuple[int, int, int] = (200, 80, 60)) -> np.ndarray:
    h, w = mask.shape
    out = np.zeros((h, w, 4), np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    out[..., 0] = colour[0]
    out[..., 1] = (colour[1] + 100 * xx / w).astype(np.uint8)
    out[..., 2] = colour[2]
    out[..., 3] = np.where(mask, 255, 0)
    return out


def on_background(mask: np.ndarray, background: int = 240, colour=(200, 80, 60)) -> np.ndarray:
    out = np.full(mask.shape + (3,), background, np.uint8)
    out[mask] = colour
    return out


def turntable_views(
    n: int, size: int, balls: list[tuple[float, float, float, float]], elevation: float = 0.0
) -> list[np.ndarray]:
    """Orthographic silhouettes of balls (x, y, z, r in pixels, about the image centre) per the spec.

    View i stands at azimuth a = 360·i/n and elevation e: camera direction
    (sin a·cos e, sin e, cos a·cos e), looking at the origin, its image's right
    (cos a, 0, -sin a) and up (-sin e·sin a, cos e, -sin e·cos a); a ball's
    silhouette is a disk of its radius around its centre's projection.
    """
    yy, xx = np.mgrid[0:size, 0:size]
    e = math.radians(elevation)
    views = []
    for i in range(n):
        a = math.radians(360.0 * i / n)
        right = np.array([math.cos(a), 0.0, -math.sin(a)])
        up = np.array([-math.sin(e) * math.sin(a), math.cos(e), -math.sin(e) * math.cos(a)])
        mask = np.zeros((size, size), bool)
        for x, y, z, r in balls:
            u, v = float(np.dot([x, y, z], right)), float(np.dot([x, y, z], up))
            col, row = (size - 1) / 2 + u, (size - 1) / 2 - v
            mask |= (xx - col) ** 2 + (yy - row) ** 2 <= r * r
        views.append(on_background(mask, colour=(40 + 25 * i % 200, 90, 160)))
    return views


def robot(size: int = 320) -> np.ndarray:
    """A toy robot on a plain background: boxy body and head, arms, legs, an antenna with a ball."""
    from PIL import ImageDraw

    image = Image.new("RGB", (size, size), (238, 240, 243))
    d = ImageDraw.Draw(image)
    s = size / 320
    def box(x0, y0, x1, y1, colour):  # noqa: E306
        d.rectangle([x0 * s, y0 * s, x1 * s, y1 * s], fill=colour)
    box(110, 120, 210, 230, (70, 110, 170))  # body
    box(125, 60, 195, 115, (90, 130, 190))  # head
    box(140, 75, 155, 90, (250, 220, 60))  # eyes
    box(165, 75, 180, 90, (250, 220, 60))
    box(70, 130, 105, 150, (60, 95, 150))  # arms
    box(215, 130, 250, 150, (60, 95, 150))
    box(125, 235, 150, 290, (50, 80, 130))  # legs
    box(170, 235, 195, 290, (50, 80, 130))
    box(158, 30, 162, 60, (80, 80, 80))  # antenna
    d.ellipse([150 * s, 20 * s, 170 * s, 40 * s], fill=(220, 60, 50))
    return np.asarray(image)


def horse(size: int = 320) -> np.ndarray:
    """A horse in profile made of ellipses and bars, brown with a darker mane, on a plain background."""
    from PIL import ImageDraw

    image = Image.new("RGB", (size, size), (236, 238, 240))
    d = ImageDraw.Draw(image)
    s = size / 320
    brown, dark = (150, 95, 55), (80, 50, 30)
    d.ellipse([80 * s, 120 * s, 230 * s, 190 * s], fill=brown)  # body
    d.polygon([(200 * s, 140 * s), (225 * s, 70 * s), (250 * s, 75 * s), (228 * s, 150 * s)], fill=brown)  # neck
    d.ellipse([220 * s, 55 * s, 285 * s, 95 * s], fill=brown)  # head
    d.polygon([(222 * s, 72 * s), (232 * s, 58 * s), (238 * s, 72 * s)], fill=dark)  # ear
    d.line([(205 * s, 140 * s), (228 * s, 72 * s)], fill=dark, width=int(6 * s))  # mane
    for x in (100, 125, 185, 208):  # legs
        d.rectangle([x * s, 175 * s, (x + 12) * s, 265 * s], fill=brown)
        d.rectangle([x * s, 258 * s, (x + 12) * s, 268 * s], fill=dark)
    d.line([(82 * s, 140 * s), (55 * s, 200 * s)], fill=dark, width=int(8 * s))  # tail
    return np.asarray(image)


def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid PNG header claiming a huge size, with a tiny (bogus) body: never decodable."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def ray_marched(
    size: int, inside, normal, shaded: bool = True, colour: tuple[int, int, int] = (200, 170, 60),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(RGBA image, front, back) of a solid about the picture's centre, seen orthographically along -Z.

    ``inside(points)`` says which of an (..., 3) array of points (pixels, Y up) are in the solid and
    ``normal(points)`` gives its outward normals at surface points. Every pixel's ray is marched in
    quarter-pixel steps (not solved in closed form, as the engine does); front and back are Z in pixels
    where it enters and leaves (NaN where it misses). Lit from the upper left with 0.3 ambient, unless
    ``shaded`` is False (one flat colour).
    """
    light = np.array([-0.4, 0.5, 0.77]) / np.linalg.norm([-0.4, 0.5, 0.77])
    zs = np.arange(-size / 2, size / 2, 0.25)
    front = np.full((size, size), np.nan)
    back = np.full((size, size), np.nan)
    shade = np.zeros((size, size))
    xs = np.arange(size) + 0.5 - size / 2
    for row in range(size):
        y = size / 2 - row - 0.5
        p = np.stack(np.broadcast_arrays(xs[:, None], y, zs[None, :]), axis=-1)  # (cols, zs, 3)
        ins = inside(p)
        hit = ins.any(axis=1)
        if not hit.any():
            continue
        last = len(zs) - 1 - np.argmax(ins[:, ::-1], axis=1)  # the highest Z inside: the front
        first = np.argmax(ins, axis=1)
        front[row, hit], back[row, hit] = zs[last[hit]], zs[first[hit]]
        lit = 0.3 + 0.7 * np.clip(normal(p[np.arange(size), last]) @ light, 0, None) if shaded else 1.0
        shade[row] = np.where(hit, lit, 0.0)
    image = np.zeros((size, size, 4), np.uint8)
    image[..., :3] = np.clip(np.array(colour)[None, None, :] * shade[..., None], 0, 255).astype(np.uint8)
    image[..., 3] = np.where(np.isfinite(front), 255, 0)
    return image, front, back


def slanted_cylinder(
    size: int, radius: float, half_length: float, turn_deg: float, lean_deg: float, shaded: bool = True,
    end_radius: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``ray_marched``: a cylinder, its axis turned ``turn_deg`` from the picture's X axis and leaning
    ``lean_deg`` towards the camera; with ``end_radius``, a frustum (a cone at 0) whose end at +axis,
    the one leaning towards the camera, has that radius."""
    turn, lean = np.radians(turn_deg), np.radians(lean_deg)
    axis = np.array([np.cos(turn) * np.cos(lean), np.sin(turn) * np.cos(lean), np.sin(lean)])
    top = radius if end_radius is None else end_radius
    r_mid, taper = (radius + top) / 2, (top - radius) / (2 * half_length)

    def inside(p: np.ndarray) -> np.ndarray:
        along = p @ axis
        radial = np.linalg.norm(p - along[..., None] * axis, axis=-1)
        return (radial <= r_mid + taper * along) & (np.abs(along) <= half_length)

    def normal(q: np.ndarray) -> np.ndarray:
        a = q @ axis
        side = q - a[:, None] * axis
        dist = np.linalg.norm(side, axis=1)
        on_cap = (half_length - np.abs(a)) < (r_mid + taper * a - dist) / np.sqrt(1 + taper**2)
        out = side / np.maximum(dist, 1e-9)[:, None] - taper * axis
        return np.where(on_cap[:, None], np.sign(a)[:, None] * axis, out / np.sqrt(1 + taper**2))

    return ray_marched(size, inside, normal, shaded)


def box_on_corner(
    size: int, half: tuple[float, float, float], yaw_deg: float, tilt_deg: float, shaded: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``ray_marched``: a box of half-sizes ``half``, turned ``yaw_deg`` about Y, then tipped ``tilt_deg``
    about X towards the camera, so its top shows."""
    a, b = np.radians(yaw_deg), np.radians(tilt_deg)
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    rot = rx @ ry  # box frame to picture frame
    h = np.array(half)

    def inside(p: np.ndarray) -> np.ndarray:
        return np.all(np.abs(p @ rot) <= h, axis=-1)

    def normal(q: np.ndarray) -> np.ndarray:
        local = q @ rot
        k = np.argmax(np.abs(local) / h, axis=1)
        n = np.zeros_like(local)
        n[np.arange(len(k)), k] = np.sign(local[np.arange(len(k)), k])
        return n @ rot.T

    return ray_marched(size, inside, normal, shaded)
