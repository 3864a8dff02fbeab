"""A printable model, always: thin parts thickened, fragments joined, the surface checked and rebuilt.

Every mode ends here before texturing. The rules, checked by :func:`check`:

- finite coordinates, a closed 2-manifold (every edge has exactly two faces, no
  pinched vertices), consistently wound outwards, positive volume;
- one body: separate pieces and stray fragments are joined to the largest by
  bridges rather than dropped (:func:`bridges`);
- no part thinner than the printable minimum (:func:`min_thickness`): in the
  silhouettes (and, when the surface is rebuilt, in the voxel solid) every part
  lies near a disk or ball of that diameter inside the shape; parts that do not
  get such disks along them (:func:`thin_parts`, :func:`thicken`).

Thickness and bridging are applied to the representation each mode meshes
(silhouettes, the carve field), so the usual mesh comes out sound by
construction. When the check still fails, :func:`rebuild` voxelises the mesh
(winding numbers along three axes, majority vote), thickens and bridges the
solid, and meshes it again with marching cubes. If that fails too,
:class:`~core.generation.errors.UnprintableModel` is raised: a broken model is
never returned as a success.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from core.generation import meshing
from core.generation.errors import UnprintableModel

MIN_THICKNESS_FRACTION = 0.01  # of the largest extent, the default printable minimum
MIN_THICKNESS_MM = 0.8  # at print size, when one is given
GRID_CELLS_PER_PART = 2.5  # a part must span this many grid cells to be meshed reliably
CORNER_SLACK = 3.0  # radii: corners sharper than about 40° count as thin (their tips cannot print)
REBUILD_MAX_VOXELS = 128  # along the longest side, for the fallback rebuild
WELD_TOLERANCE = 1e-8  # trimesh's merge tolerance, in the mesh's own units: points closer are one
_JITTER = (1.0e-4 * math.sqrt(2.0), 1.0e-4 * math.pi / 3.0)  # keeps sample points off shared edges


def min_thickness(extent: float, size_mm: float | None, fraction: float, at_least_mm: float) -> float:
    """The printable minimum in the model's working units, for a largest extent ``extent``.

    ``fraction`` of the largest extent, and with a print size at least
    ``at_least_mm`` millimetres at that size.
    """
    t = fraction * extent
    if size_mm:
        t = max(t, at_least_mm * extent / size_mm)
    return t


# --- checks ---------------------------------------------------------------------------------


@dataclass
class Soundness:
    """What :func:`check` found."""

    finite: bool
    closed: bool  #: every edge shared by exactly two faces
    wound: bool  #: neighbouring faces agree on orientation
    single_fans: bool  #: no pinched ("bow-tie") vertices
    volume: float
    bodies: int

    @property
    def ok(self) -> bool:
        return self.finite and self.closed and self.wound and self.single_fans and self.volume > 0 and self.bodies == 1

    def problems(self) -> list[str]:
        out = []
        if not self.finite:
            out.append("non-finite coordinates")
        if not self.closed:
            out.append("open or non-manifold edges")
        elif not self.wound:
            out.append("inconsistent winding")
        elif not self.single_fans:
            out.append("pinched vertices")
        if not self.volume > 0:
            out.append(f"volume {self.volume:.3g}")
        if self.bodies != 1:
            out.append(f"{self.bodies} bodies")
        return out


def check(vertices: np.ndarray, faces: np.ndarray) -> Soundness:
    """Finite, closed, manifold, wound, positive volume, one body (see :func:`meshing.topology`)."""
    finite = bool(np.isfinite(vertices).all())
    if len(faces) == 0 or len(vertices) == 0:
        return Soundness(finite, False, False, False, 0.0, 0)
    closed, wound, fans, pieces = meshing.topology(faces, len(vertices), want_pieces=True)
    if not (closed and wound):
        pieces = bodies(faces, max(len(vertices), int(faces.max()) + 1))
    volume = signed_volume(vertices, faces) if finite else float("nan")
    return Soundness(finite, closed, wound, fans, volume, pieces)


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def bodies(faces: np.ndarray, n_vertices: int) -> int:
    """Connected pieces of the surface (sharing vertices)."""
    used = np.unique(faces)
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]], axis=0)
    graph = sparse.csr_matrix((np.ones(len(e), np.int8), (e[:, 0], e[:, 1])), shape=(n_vertices, n_vertices))
    _, labels = connected_components(graph, directed=False)
    return len(np.unique(labels[used]))


# --- thickness and bridges on grids (2D silhouettes, 3D solids) -----------------------------


def thin_parts(solid: np.ndarray, radius: float) -> np.ndarray:
    """Cells of ``solid`` farther than ``CORNER_SLACK·radius`` from the centre of any disk (ball) of
    ``radius`` inside it.

    Lines, rims, necks and fragments narrower than ``2·radius`` have no such
    disk at all; the slack leaves ordinary corners (down to about 40°) alone,
    so only parts too thin to print, and needle-sharp tips, are reported.
    """
    if radius <= 0 or not solid.any():
        return np.zeros_like(solid)
    padded = np.pad(solid, 1)
    core = ndimage.distance_transform_edt(padded) > radius
    if not core.any():
        return solid.copy()
    near = ndimage.distance_transform_edt(~core) <= CORNER_SLACK * radius
    inner = tuple(slice(1, -1) for _ in solid.shape)
    return solid & ~near[inner]


def thicken(coverage: np.ndarray, radius: float, drawn_width: bool = False) -> np.ndarray:
    """Soft coverage (0..1) whose 0.5 region is open for a disk of ``radius`` pixels.

    Every thin part (see :func:`thin_parts`) gets disks of that radius along it,
    with an anti-aliased edge, so lines, rims and necks end up at least
    ``2·radius`` wide; parts that are already thick enough are unchanged.

    With ``drawn_width`` the disks sit on the thin part's middle line (its
    ridge), so a line ``w`` wide becomes ``max(w, 2·radius)`` wide, centred on
    where it was drawn, and no wider: the outline people see grows only by
    what printing needs. Without it they sit on every thin cell (``w + 2·radius``).
    """
    solid = coverage >= 0.5
    thin = thin_parts(solid, radius)
    if not thin.any():
        return coverage
    if drawn_width:
        return np.maximum(coverage, _ridge_disks(solid, thin, radius).astype(coverage.dtype))
    dist = ndimage.distance_transform_edt(~thin)
    added = np.clip(radius + 0.5 - dist, 0.0, 1.0).astype(coverage.dtype)
    return np.maximum(coverage, added)


def _ridge_disks(solid: np.ndarray, thin: np.ndarray, radius: float) -> np.ndarray:
    """Soft coverage of disks of ``radius`` around the middle line of the ``thin`` cells.

    The middle line is where the distance to the outline peaks across the part
    (a cell at least as far in as its neighbours); where it is two cells wide
    (an even width), the disks shrink by half a cell so the part is ``2·radius``
    across, not one more. The part's own cells stay covered.
    """
    inner = ndimage.distance_transform_edt(solid)
    ridge = thin & (inner >= ndimage.maximum_filter(np.where(solid, inner, 0.0), size=3) - 1e-9)
    # An even width: two middle cells side by side, so ridge neighbours both along the line and across it;
    # each reaches half a cell less.
    across = ndimage.binary_dilation(ridge, structure=np.array([[0, 0, 0], [1, 0, 1], [0, 0, 0]], bool))
    along = ndimage.binary_dilation(ridge, structure=np.array([[0, 1, 0], [0, 0, 0], [0, 1, 0]], bool))
    pair = ridge & across & along
    reach = np.where(pair, radius - 0.5, radius)
    dist, (iy, ix) = ndimage.distance_transform_edt(~ridge, return_indices=True)
    added = np.clip(reach[iy, ix] + 0.5 - dist, 0.0, 1.0)
    return np.maximum(added, thin.astype(np.float64))


def bridges(solid: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Short segments (cell index pairs) that join every piece of ``solid`` into one.

    The pieces' nearest points come from one distance transform of the
    background: where the regions closest to two different pieces meet, a
    bridge between them is as short as it can be there. A minimum spanning tree
    over those candidates picks the bridges, so the total length is small.
    """
    labels, count = ndimage.label(solid)
    if count <= 1:
        return []
    _, nearest = ndimage.distance_transform_edt(labels == 0, return_indices=True)
    owner = labels[tuple(nearest)]
    flat_nearest = np.ravel_multi_index(tuple(nearest), solid.shape)
    best: dict[tuple[int, int], tuple[float, int, int]] = {}

    def coords(flat: np.ndarray) -> np.ndarray:
        return np.stack(np.unravel_index(flat, solid.shape), axis=1)

    for axis in range(solid.ndim):
        a = [slice(None)] * solid.ndim
        b = [slice(None)] * solid.ndim
        a[axis], b[axis] = slice(None, -1), slice(1, None)
        oa, ob = owner[tuple(a)].ravel(), owner[tuple(b)].ravel()
        sel = np.nonzero(oa != ob)[0]
        if not len(sel):
            continue
        pa = flat_nearest[tuple(a)].ravel()[sel]
        pb = flat_nearest[tuple(b)].ravel()[sel]
        length = np.linalg.norm(coords(pa) - coords(pb), axis=1)
        la, lb = oa[sel], ob[sel]
        lo, hi = np.minimum(la, lb), np.maximum(la, lb)
        order = np.lexsort((length, hi, lo))
        lo, hi, length, pa, pb = lo[order], hi[order], length[order], pa[order], pb[order]
        first = np.ones(len(lo), bool)
        first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
        for i in np.nonzero(first)[0]:
            key = (int(lo[i]), int(hi[i]))
            if key not in best or length[i] < best[key][0]:
                best[key] = (float(length[i]), int(pa[i]), int(pb[i]))
    if not best:
        return []
    keys = list(best)
    rows = [k[0] for k in keys]
    cols = [k[1] for k in keys]
    weights = [best[k][0] + 1e-3 for k in keys]
    graph = sparse.csr_matrix((weights, (rows, cols)), shape=(count + 1, count + 1))
    tree = minimum_spanning_tree(graph).tocoo()
    out = []
    for r, c in zip(tree.row, tree.col, strict=True):
        _, pa, pb = best[(int(min(r, c)), int(max(r, c)))]
        ends = coords(np.array([pa, pb])).astype(np.float64)
        out.append((ends[0], ends[1]))
    return out


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)


def _capsule(shape: tuple[int, ...], a: np.ndarray, b: np.ndarray, reach: float):
    """The box of cells within ``reach`` of segment ab, and their distances to it (cells)."""
    lo = np.maximum(np.floor(np.minimum(a, b) - reach - 1), 0).astype(int)
    hi = np.minimum(np.ceil(np.maximum(a, b) + reach + 2), shape).astype(int)
    box = tuple(slice(lo[k], hi[k]) for k in range(len(shape)))
    pts = np.indices(hi - lo).reshape(len(shape), -1).T + lo
    return box, _segment_distance(pts.astype(np.float64), a, b).reshape(hi - lo)


def join_pieces(coverage: np.ndarray, radius: float) -> np.ndarray:
    """Soft coverage with every piece joined to the others by bridges ``2·radius`` wide."""
    segments = bridges(coverage >= 0.5)
    if not segments:
        return coverage
    out = coverage.copy()
    for a, b in segments:
        box, d = _capsule(coverage.shape, a, b, radius)
        out[box] = np.maximum(out[box], np.clip(radius + 0.5 - d, 0.0, 1.0))
    return out


def crop_box(coverage: np.ndarray, margin: float) -> tuple[slice, slice]:
    """The object's bounding box (coverage above 0) grown by ``margin`` cells, within the image."""
    rows = np.nonzero(coverage.max(axis=1) > 0)[0]
    cols = np.nonzero(coverage.max(axis=0) > 0)[0]
    if not len(rows):
        return slice(0, coverage.shape[0]), slice(0, coverage.shape[1])
    m = int(math.ceil(margin)) + 2
    return (slice(max(rows[0] - m, 0), min(rows[-1] + m + 1, coverage.shape[0])),
            slice(max(cols[0] - m, 0), min(cols[-1] + m + 1, coverage.shape[1])))


def prepare_silhouette(coverage: np.ndarray, radius: float, thick: bool = False,
                       drawn_width: bool = False) -> np.ndarray:
    """Thin parts thickened to ``2·radius`` pixels and all pieces joined: ready to mesh.

    ``thick`` says the caller already found no thin parts at this radius. Works
    on the object's bounding box only (distance transforms are the cost).
    ``drawn_width``: thin parts grow to ``2·radius`` and no wider (see :func:`thicken`).
    """
    box = crop_box(coverage, CORNER_SLACK * radius + 1)
    part = coverage[box] if thick else thicken(coverage[box], radius, drawn_width)
    joined = join_pieces(part, radius)
    if joined is not part:
        # A bridge may itself meet another part at a sharp, thin angle.
        part = thicken(joined, radius, drawn_width)
    if part is coverage[box]:
        return coverage
    out = coverage.copy()
    out[box] = part
    return out


def join_field(field: np.ndarray, voxel: float, radius: float) -> np.ndarray:
    """A signed field (negative inside, in world units) with its pieces joined by round bridges."""
    segments = bridges(field < 0)
    if not segments:
        return field
    out = field.copy()
    for a, b in segments:
        box, d = _capsule(field.shape, a, b, radius / voxel + 1)
        out[box] = np.minimum(out[box], d * voxel - radius)
    return out


# --- the fallback: voxelise, thicken, join, mesh again --------------------------------------


def _winding_along_last_axis(p: np.ndarray, faces: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Inside (winding number > 0) at integer grid points, counted along the last axis.

    ``p`` are vertex positions in grid units. Each triangle adds its orientation
    at the first grid point above where it crosses each column.
    """
    tri = p[faces]
    x, y, z = tri[..., 0] - _JITTER[0], tri[..., 1] - _JITTER[1], tri[..., 2]
    area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    keep = np.abs(area) > 1e-12
    x, y, z, area = x[keep], y[keep], z[keep], area[keep]
    bx0 = np.clip(np.ceil(x.min(1)), 0, shape[0]).astype(np.int64)
    bx1 = np.clip(np.floor(x.max(1)), -1, shape[0] - 1).astype(np.int64)
    by0 = np.clip(np.ceil(y.min(1)), 0, shape[1]).astype(np.int64)
    by1 = np.clip(np.floor(y.max(1)), -1, shape[1] - 1).astype(np.int64)
    nx, ny = np.maximum(bx1 - bx0 + 1, 0), np.maximum(by1 - by0 + 1, 0)
    counts = nx * ny
    delta = np.zeros((shape[0], shape[1], shape[2] + 1), np.int32)
    chunk = 1 << 21
    ids = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    for s in range(0, len(ids), chunk):
        t = ids[s : s + chunk]
        k = np.arange(s, s + len(t)) - starts[t]
        gx = bx0[t] + k % np.maximum(nx[t], 1)
        gy = by0[t] + k // np.maximum(nx[t], 1)
        w = []
        for i, j in ((1, 2), (2, 0), (0, 1)):
            w.append(((x[t, j] - x[t, i]) * (gy - y[t, i]) - (y[t, j] - y[t, i]) * (gx - x[t, i])) / area[t])
        inside = (w[0] >= 0) & (w[1] >= 0) & (w[2] >= 0)
        t, gx, gy = t[inside], gx[inside], gy[inside]
        zc = w[0][inside] * z[t, 0] + w[1][inside] * z[t, 1] + w[2][inside] * z[t, 2]
        gz = np.clip(np.ceil(zc), 0, shape[2]).astype(np.int64)
        np.add.at(delta, (gx, gy, gz), -np.sign(area[t]).astype(np.int32))
    return np.cumsum(delta, axis=2)[..., : shape[2]] > 0


def voxelize(vertices: np.ndarray, faces: np.ndarray, voxel: float) -> tuple[np.ndarray, np.ndarray]:
    """``(solid, origin)``: the mesh's inside on a grid of ``voxel`` spacing, robust to small holes.

    Winding numbers are counted along each of the three axes and the majority
    wins, so a hole or a flipped patch in the surface spoils one count, not the solid.
    """
    lo = vertices.min(axis=0) - 3 * voxel
    hi = vertices.max(axis=0) + 3 * voxel
    shape = tuple(int(s) for s in np.ceil((hi - lo) / voxel).astype(int) + 1)
    p = (vertices - lo) / voxel
    votes = np.zeros(shape, np.int8)
    for perm in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        sub = tuple(shape[k] for k in perm)
        inside = _winding_along_last_axis(p[:, perm], faces, sub)  # type: ignore[arg-type]
        votes += np.transpose(inside, np.argsort(perm)).astype(np.int8)
    solid = votes >= 2
    # Sheets and slivers thinner than a voxel hold no voxel centre: keep the voxels
    # their surface passes through, where the solid has nothing near.
    surface = _surface_voxels(p, faces, shape)
    solid |= surface & ~ndimage.binary_dilation(solid, iterations=2)
    return solid, lo


def _surface_voxels(p: np.ndarray, faces: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Voxels (nearest grid points) that triangles pass through, by sampling each at half-voxel spacing."""
    tri = p[faces]
    edges = np.linalg.norm(tri[:, [1, 2, 0]] - tri, axis=2).max(axis=1)
    n = np.clip(np.ceil(edges * 2.0), 1, 64).astype(np.int64)
    out = np.zeros(shape, bool)
    for k in np.unique(n):
        sel = tri[n == k]
        i, j = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
        keep = i + j <= k
        a, b = (i[keep] / k)[None, :, None], (j[keep] / k)[None, :, None]
        pts = sel[:, 0:1] * (1 - a - b) + sel[:, 1:2] * a + sel[:, 2:3] * b
        idx = np.clip(np.rint(pts.reshape(-1, 3)).astype(np.int64), 0, np.array(shape) - 1)
        out[tuple(idx.T)] = True
    return out


def mesh_solid(solid: np.ndarray, origin: np.ndarray, voxel: float) -> tuple[np.ndarray, np.ndarray]:
    """A smooth closed surface around a voxel solid (blurred occupancy, marching cubes, Taubin)."""
    from skimage import measure

    padded = np.pad(solid.astype(np.float32), 2)
    soft = ndimage.gaussian_filter(padded, 0.6)
    verts, faces, _, _ = measure.marching_cubes(soft, 0.5, spacing=(voxel,) * 3)
    verts = verts.astype(np.float64) + origin - 2 * voxel
    faces = faces.astype(np.int64)
    verts, faces = meshing.compact(verts, faces)
    if signed_volume(verts, faces) < 0:
        faces = faces[:, ::-1].copy()
    return meshing.taubin(verts, faces, 4), faces


def rebuild(
    vertices: np.ndarray, faces: np.ndarray, thickness: float, voxel: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The model as a voxel solid, thickened to ``thickness``, in one piece, meshed again."""
    extent = float((vertices.max(axis=0) - vertices.min(axis=0)).max())
    if voxel is None:
        voxel = max(extent / REBUILD_MAX_VOXELS, thickness / GRID_CELLS_PER_PART)
    solid, origin = voxelize(vertices, faces, voxel)
    if not solid.any():
        raise UnprintableModel()
    solid = ndimage.binary_fill_holes(solid)  # enclosed voids would be separate shells
    radius = max(thickness / 2.0 / voxel, GRID_CELLS_PER_PART / 2.0)
    thin = thin_parts(solid, radius)
    if thin.any():
        solid |= ndimage.distance_transform_edt(~thin) <= radius
    for a, b in bridges(solid):
        box, d = _capsule(solid.shape, a, b, radius)
        solid[box] |= d <= radius
    return mesh_solid(solid, origin, voxel)


def surface_area(vertices: np.ndarray, faces: np.ndarray) -> float:
    tri = vertices[faces]
    return float(np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum() / 2.0)


def weld(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One vertex for points that any file would store as one.

    STL keeps no vertex identity, and loaders (trimesh, slicers) merge points closer than
    ``WELD_TOLERANCE``: two vertices that close but distinct in memory would come back as one and
    the reloaded mesh as non-manifold. So the mesh is judged as it will be read.
    """
    if len(vertices) == 0:
        return vertices, faces
    keys = np.round(vertices / WELD_TOLERANCE).astype(np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    if len(first) == len(vertices):
        return vertices, faces
    return vertices[first], inverse.reshape(-1)[faces]


def ensure_sound(
    vertices: np.ndarray, faces: np.ndarray, thickness: float, target_faces: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(vertices, faces, rebuilt)``: the mesh if sound and within budget, else rebuilt.

    Raises :class:`UnprintableModel` when no rebuild is sound. A sound mesh that
    decimation could not bring within ``target_faces`` is rebuilt on coarser
    voxels; if even that fails it is kept as it is (over budget, but sound).
    """
    if np.isfinite(vertices).all():
        vertices, faces = weld(vertices, faces)
    report = check(vertices, faces)
    if report.ok and len(faces) <= target_faces:
        return vertices, faces, False
    if not report.finite:
        raise UnprintableModel(problems="non-finite coordinates")
    extent = float((vertices.max(axis=0) - vertices.min(axis=0)).max())
    voxel = max(extent / REBUILD_MAX_VOXELS, thickness / GRID_CELLS_PER_PART)
    if report.ok:
        # Only over budget: voxels about as big as the budget's triangles.
        voxel = max(voxel, math.sqrt(2.5 * surface_area(vertices, faces) / max(target_faces, 1)))
    problems = report.problems() or ["over the face budget"]
    for _ in range(3):
        v, f = rebuild(vertices, faces, thickness, voxel)
        v, f = meshing.decimate(v, f, target_faces)
        rebuilt = check(v, f)
        if rebuilt.ok and len(f) <= target_faces:
            return v, f, True
        problems = rebuilt.problems() or ["over the face budget"]
        voxel *= 1.5
    if report.ok:
        return vertices, faces, False
    raise UnprintableModel(problems="; ".join(problems))
