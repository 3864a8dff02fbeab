"""A small software rasteriser in torch: thumbnails, visibility, and the web preview.

No display or OpenGL is needed. Triangles are binned by the size of their
screen bounding box, every candidate pixel of a bin is tested at once, and a
z-buffer is resolved with one ``scatter_reduce`` on (depth, face) keys.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import fast_simplification
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy.spatial import cKDTree

from core.generation.arrays import MeshArrays
from core.generation.colors import vertex_colors
from core.generation.meshing import vertex_normals

if TYPE_CHECKING:
    import trimesh

THUMBNAIL_PX = 256
SUPERSAMPLE = 2  # renders at twice the size and averages, for smooth edges
# Named views: (azimuth, elevation) in degrees; azimuth 0 looks from +Z, 90 from +X.
THUMBNAIL_VIEWS = {"front": (0.0, 0.0), "three_quarter": (35.0, 20.0), "side": (90.0, 0.0)}
LIGHT = np.array([-0.35, 0.55, 0.76])  # towards the key light, in camera space (x right, y up, z to viewer)
AMBIENT = 0.32
PREVIEW_LIGHT = np.array([0.35, 0.55, 0.76])
_DEPTH_LEVELS = (1 << 31) - 1
_EMPTY = torch.iinfo(torch.int64).max


def rasterize(
    screen: torch.Tensor, faces: torch.Tensor, width: int, height: int, want_depth: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Visible face per pixel (-1 for none), and the depth there (larger is nearer; -inf for none).

    ``screen`` is (n, 3): x right and y down in pixels (pixel centres at +0.5),
    and depth towards the viewer. Back faces are culled, so only closed meshes
    render correctly (which ours are).
    """
    device = screen.device
    tri = screen[faces]  # (m, 3, 3)
    x, y, z = tri[..., 0], tri[..., 1], tri[..., 2]
    # Front faces run counter-clockwise with y up, so clockwise on screen (y down).
    area = (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0]) - (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0])
    bx0 = torch.ceil(x.min(1).values - 0.5).clamp_min(0)
    by0 = torch.ceil(y.min(1).values - 0.5).clamp_min(0)
    bx1 = torch.floor(x.max(1).values - 0.5).clamp_max(width - 1)
    by1 = torch.floor(y.max(1).values - 0.5).clamp_max(height - 1)
    keep = (area > 1e-12) & (bx1 >= bx0) & (by1 >= by0)
    idx = torch.nonzero(keep).squeeze(1)
    zmin = float(z.min()) if z.numel() else 0.0
    zmax = float(z.max()) if z.numel() else 1.0
    zscale = _DEPTH_LEVELS / max(zmax - zmin, 1e-9)
    buf = torch.full((height * width,), _EMPTY, dtype=torch.int64, device=device)
    if idx.numel():
        x, y, z, area = x[idx], y[idx], z[idx], area[idx]
        bx0, by0 = bx0[idx], by0[idx]
        span = (torch.maximum(bx1[idx] - bx0, by1[idx] - by0) + 1).long()
        # Barycentric weights and depth as planes a·x + b·y + c, evaluated at each
        # box's first pixel centre; a pixel then costs two multiply-adds per plane.
        planes = []
        for i, j in ((1, 2), (2, 0), (0, 1)):
            a = (y[:, j] - y[:, i]) / area
            b = -(x[:, j] - x[:, i]) / area
            c = -(a * x[:, i] + b * y[:, i])
            planes.append((a, b, c))
        za = planes[0][0] * z[:, 0] + planes[1][0] * z[:, 1] + planes[2][0] * z[:, 2]
        zb = planes[0][1] * z[:, 0] + planes[1][1] * z[:, 1] + planes[2][1] * z[:, 2]
        zc = planes[0][2] * z[:, 0] + planes[1][2] * z[:, 1] + planes[2][2] * z[:, 2]
        planes.append((za, zb, zc))
        coef = torch.stack([torch.stack([a, b, a * (bx0 + 0.5) + b * (by0 + 0.5) + c], 1) for a, b, c in planes], 1)
        origin = torch.stack([bx0, by0], 1).long()
        size = 1
        while True:
            sel = (span <= size) & (span > size // 2) if size > 1 else span <= 1
            chosen = torch.nonzero(sel).squeeze(1)
            if chosen.numel():
                chunk = max(1, (1 << 21) // (size * size))
                for start in range(0, chosen.numel(), chunk):
                    part = chosen[start : start + chunk]
                    _raster_bin(part, idx[part], size, coef[part], origin[part], zmax, zscale, width, height, buf)
            if size >= int(span.max()):
                break
            size *= 2
    hit = buf != _EMPTY
    face_id = torch.where(hit, buf & 0xFFFFFFFF, torch.full_like(buf, -1)).reshape(height, width)
    if not want_depth:
        return face_id, torch.empty(0, device=device)
    depth = zmax - (buf >> 32).double() / zscale
    depth = torch.where(hit, depth, torch.full_like(depth, -math.inf)).reshape(height, width)
    return face_id, depth.float()


def _raster_bin(
    local: torch.Tensor,
    face: torch.Tensor,
    s: int,
    coef: torch.Tensor,
    origin: torch.Tensor,
    zmax: float,
    zscale: float,
    width: int,
    height: int,
    buf: torch.Tensor,
) -> None:
    del local
    off = torch.arange(s, device=coef.device, dtype=coef.dtype)
    ox, oy = off[None, None, :], off[None, :, None]

    def plane(k: int) -> torch.Tensor:
        return coef[:, k, 2, None, None] + coef[:, k, 0, None, None] * ox + coef[:, k, 1, None, None] * oy

    inside = (plane(0) >= 0) & (plane(1) >= 0) & (plane(2) >= 0)
    if s > 1:
        inside &= (origin[:, 0, None, None] + ox < width) & (origin[:, 1, None, None] + oy < height)
    f, iy, ix = torch.nonzero(inside, as_tuple=True)
    depth = plane(3)[f, iy, ix]
    key = ((zmax - depth) * zscale).clamp(0, _DEPTH_LEVELS).long() << 32 | face[f]
    pix = (origin[f, 1] + iy) * width + origin[f, 0] + ix
    buf.scatter_reduce_(0, pix, key, reduce="amin")


def camera(azimuth_deg: float, elevation_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(right, up, toward) unit vectors of a camera at that azimuth and elevation, +Y up."""
    a, e = math.radians(azimuth_deg), math.radians(elevation_deg)
    toward = np.array([math.sin(a) * math.cos(e), math.sin(e), math.cos(a) * math.cos(e)])
    right = np.array([math.cos(a), 0.0, -math.sin(a)])
    up = np.cross(toward, right)
    return right, up, toward


def render(
    vertices: np.ndarray,
    faces: np.ndarray,
    colors: np.ndarray,
    azimuth_deg: float,
    elevation_deg: float,
    size: int = THUMBNAIL_PX,
    device: torch.device | None = None,
    normals: np.ndarray | None = None,
) -> Image.Image:
    """A lit, anti-aliased RGBA render with a transparent background, orthographic."""
    device = device or torch.device("cpu")
    right, up, toward = camera(azimuth_deg, elevation_deg)
    centre = (vertices.min(0) + vertices.max(0)) / 2.0
    p = vertices - centre
    radius = float(np.linalg.norm(p, axis=1).max()) or 1.0
    n = size * SUPERSAMPLE
    scale = 0.46 * n / radius
    sx = p @ right * scale + n / 2.0
    sy = n / 2.0 - p @ up * scale
    sz = p @ toward
    screen = torch.from_numpy(np.stack([sx, sy, sz], 1).astype(np.float32)).to(device)
    ft = torch.from_numpy(np.ascontiguousarray(faces, np.int64)).to(device)
    face_id, _ = rasterize(screen, ft, n, n)
    fid = face_id.reshape(-1)
    pix = torch.nonzero(fid >= 0).squeeze(1)
    # Flat shading per face, from the smoothed (vertex-averaged) normal: at thumbnail
    # size a face covers about a pixel, so per-pixel interpolation buys nothing visible.
    if normals is None:
        normals = _vertex_normals(vertices, faces)
    fn = torch.from_numpy(normals[faces].sum(axis=1).astype(np.float32)).to(device)
    fn = F.normalize(fn, dim=1)
    fc = torch.from_numpy(colors[faces, :3].astype(np.float32).mean(axis=1) / 255.0).to(device)
    cam = torch.tensor(np.stack([right, up, toward]), dtype=torch.float32, device=device)
    light = torch.tensor(LIGHT / np.linalg.norm(LIGHT), dtype=torch.float32, device=device) @ cam
    face_rgb = fc * (AMBIENT + (1 - AMBIENT) * (fn @ light).clamp_min(0))[:, None]
    rgb = face_rgb[fid[pix]]
    img = torch.zeros((n * n, 4), device=device)
    img[pix, :3] = rgb.clamp(0, 1)
    img[pix, 3] = 1.0
    img = img.reshape(1, n, n, 4).permute(0, 3, 1, 2)
    img = F.avg_pool2d(img, SUPERSAMPLE)[0].permute(1, 2, 0)
    # Un-premultiply the averaged colour so edges do not darken.
    alpha = img[..., 3:4]
    img[..., :3] = torch.where(alpha > 0, img[..., :3] / alpha.clamp_min(1e-6), img[..., :3])
    arr = (img.clamp(0, 1) * 255 + 0.5).byte().cpu().numpy()
    return Image.fromarray(arr, "RGBA")


_vertex_normals = vertex_normals  # in meshing, so that writing a GLB needs no torch


def thumbnails(
    mesh: MeshArrays | trimesh.Trimesh,
    colors: np.ndarray | None = None,
    size: int = THUMBNAIL_PX,
    device: torch.device | None = None,
    views: Sequence[str] | None = None,
) -> dict[str, bytes]:
    """PNG renders of the named views (``views`` of THUMBNAIL_VIEWS, in its order; None: all of them)."""
    vertices = np.asarray(mesh.vertices, np.float64)
    faces = np.asarray(mesh.faces, np.int64)
    if colors is None:
        colors = vertex_colors(mesh)
    normals = _vertex_normals(vertices, faces)
    out = {}
    for name, (az, el) in THUMBNAIL_VIEWS.items():
        if views is not None and name not in views:
            continue
        image = render(vertices, faces, colors, az, el, size, device, normals)
        buf = io.BytesIO()
        image.save(buf, format="PNG", compress_level=1)
        out[name] = buf.getvalue()
    return out


PREVIEW_CREASE_DEG = 40.0  # a corner farther than this from its vertex's smooth normal keeps the face's own


def preview_faces(mesh: MeshArrays | trimesh.Trimesh, max_faces: int = 6000) -> list[dict]:
    """A decimated, coloured, lit copy of the mesh for pydeck's ``SolidPolygonLayer``.

    Each item is ``{"polygon": [[x, y, z], ...3], "color": [r, g, b]}`` in the
    model's own units, rounded to 4 decimals. pydeck gives a polygon one colour,
    so the shading is baked in per face, but from smoothed normals: each corner
    takes its vertex's area-weighted normal (or the face's own across a crease
    sharper than ``PREVIEW_CREASE_DEG``), is lit with Lambert shading, and the
    face's colour is the mean of its three corners, each coloured from the
    texture or vertex colours at the nearest surface vertex. A curved surface then
    looks round, not faceted, while the edges of a box stay crisp.
    """
    vertices = np.asarray(mesh.vertices, np.float64)
    faces = np.asarray(mesh.faces, np.int64)
    colors = vertex_colors(mesh).astype(np.float64)
    if len(faces) > max_faces:
        v, f = fast_simplification.simplify(
            vertices.astype(np.float32), faces, target_count=max(4, int(max_faces))
        )
        v, f = np.asarray(v, np.float64), np.asarray(f, np.int64)
    else:
        v, f = vertices, faces
    tri = v[f]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    fn /= np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-12)
    vn = _vertex_normals(v, f)
    corner_n = vn[f]  # (m, 3, 3)
    smooth = np.einsum("mkc,mc->mk", corner_n, fn) >= math.cos(math.radians(PREVIEW_CREASE_DEG))
    corner_n = np.where(smooth[..., None], corner_n, fn[:, None, :])
    light = PREVIEW_LIGHT / np.linalg.norm(PREVIEW_LIGHT)
    shade = AMBIENT + (1 - AMBIENT) * np.clip(corner_n @ light, 0.0, None)  # (m, 3)
    _, nearest = cKDTree(vertices).query(v)
    corner_rgb = colors[nearest][f]  # (m, 3, 3)
    rgb = (corner_rgb * shade[..., None]).mean(axis=1)
    rgb = np.clip(rgb + 0.5, 0, 255).astype(int)
    coords = np.round(tri, 4)
    return [
        {"polygon": coords[i].tolist(), "color": rgb[i].tolist()} for i in range(len(f))
    ]
