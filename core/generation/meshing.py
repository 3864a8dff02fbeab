"""Mesh building blocks shared by the modes: contouring, smoothing, decimation, checks."""

from __future__ import annotations

import fast_simplification
import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

# Triangles per marching-squares case, as local point ids of a cell:
#   0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left corner;
#   4 top, 5 right, 6 bottom, 7 left edge crossing.
# The cycle 0 4 1 5 2 6 3 7 runs clockwise seen from +Z once rows map to -Y,
# so the table's triangles face -Z; ``filled_contour`` reverses them.
_CYCLE = (0, 4, 1, 5, 2, 6, 3, 7)


def _polygon(case: int) -> list[int]:
    inside = [(case >> k) & 1 for k in range(4)]
    points = []
    for k in range(4):
        if inside[k]:
            points.append(k)
        if inside[k] != inside[(k + 1) % 4]:
            points.append(4 + k)
    return points


def _fan(points: list[int]) -> list[tuple[int, int, int]]:
    return [(points[0], points[i], points[i + 1]) for i in range(1, len(points) - 1)]


def _case_triangles() -> dict[tuple[int, bool], list[tuple[int, int, int]]]:
    table: dict[tuple[int, bool], list[tuple[int, int, int]]] = {}
    for case in range(1, 16):
        table[(case, True)] = _fan(_polygon(case))
        table[(case, False)] = table[(case, True)]
    # Saddles with a low centre: two separate corners instead of one band.
    table[(5, False)] = [(0, 4, 7), (5, 2, 6)]
    table[(10, False)] = [(4, 1, 5), (6, 3, 7)]
    return table


_TABLE = _case_triangles()
CROSS_CLAMP = 0.02  # keep edge crossings off the grid nodes, so no two vertices coincide


def filled_contour(values: np.ndarray, level: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triangulate the region ``values >= level`` of a grid (filled marching squares).

    Returns ``(points, faces, node)``: 2D points as ``(col, row)`` in grid units,
    triangles facing +Z once rows map to -Y, and for each point the flat grid
    index of its node, or -1 for points on the outline (edge crossings). The
    region is a manifold with boundary: every outline point has two outline edges.
    The grid's outermost ring must lie outside the region.
    """
    rows, cols = values.shape
    inside = values >= level
    n_nodes = rows * cols
    n_h = rows * (cols - 1)
    c = inside[:-1, :-1] * 1 + inside[:-1, 1:] * 2 + inside[1:, 1:] * 4 + inside[1:, :-1] * 8
    r_idx, c_idx = np.nonzero(c > 0)
    case = c[r_idx, c_idx]
    centre = (
        values[r_idx, c_idx] + values[r_idx, c_idx + 1] + values[r_idx + 1, c_idx + 1] + values[r_idx + 1, c_idx]
    ) / 4.0
    high = centre >= level
    local = np.stack(
        [
            r_idx * cols + c_idx,
            r_idx * cols + c_idx + 1,
            (r_idx + 1) * cols + c_idx + 1,
            (r_idx + 1) * cols + c_idx,
            n_nodes + r_idx * (cols - 1) + c_idx,
            n_nodes + n_h + r_idx * cols + c_idx + 1,
            n_nodes + (r_idx + 1) * (cols - 1) + c_idx,
            n_nodes + n_h + r_idx * cols + c_idx,
        ],
        axis=1,
    )
    tris = []
    for (k, hi), pattern in _TABLE.items():
        if k in (5, 10):
            sel = (case == k) & (high == hi)
        elif hi:
            sel = case == k
        else:
            continue
        if not sel.any() or not pattern:
            continue
        idx = np.asarray(pattern)
        tris.append(local[sel][:, idx].reshape(-1, 3))
    faces_global = np.concatenate(tris, axis=0)
    used, faces = np.unique(faces_global, return_inverse=True)
    faces = faces.reshape(-1, 3)[:, ::-1].copy()
    points = np.empty((len(used), 2), np.float64)
    node = np.full(len(used), -1, np.int64)
    is_node = used < n_nodes
    nid = used[is_node]
    points[is_node, 0] = nid % cols
    points[is_node, 1] = nid // cols
    node[is_node] = nid
    flat = values.ravel()
    horiz = (used >= n_nodes) & (used < n_nodes + n_h)
    hid = used[horiz] - n_nodes
    hr, hc = hid // (cols - 1), hid % (cols - 1)
    a, b = flat[hr * cols + hc], flat[hr * cols + hc + 1]
    t = np.clip((a - level) / np.where(a == b, 1e-9, a - b), CROSS_CLAMP, 1 - CROSS_CLAMP)
    points[horiz, 0] = hc + t
    points[horiz, 1] = hr
    vert = used >= n_nodes + n_h
    vid = used[vert] - n_nodes - n_h
    vr, vc = vid // cols, vid % cols
    a, b = flat[vr * cols + vc], flat[(vr + 1) * cols + vc]
    t = np.clip((a - level) / np.where(a == b, 1e-9, a - b), CROSS_CLAMP, 1 - CROSS_CLAMP)
    points[vert, 0] = vc
    points[vert, 1] = vr + t
    return points, faces, node


def topology(faces: np.ndarray, n_vertices: int, want_pieces: bool = False) -> tuple[bool, bool, bool, int]:
    """``(closed, wound, single_fans, pieces)`` from one sort of the directed edges.

    A closed, consistently wound 2-manifold has every directed edge once and
    its reverse once; the reverse half-edges then give the fans around each
    vertex (no pinched vertices) and, when asked, the connected pieces (else 0).
    """
    if len(faces) == 0:
        return False, False, False, 0
    f = faces.astype(np.int64)
    n = max(n_vertices, int(f.max()) + 1)
    start, end = f.ravel(), f[:, [1, 2, 0]].ravel()
    key = start * n + end
    order = np.argsort(key)
    sorted_key = key[order]
    wound = not bool((sorted_key[1:] == sorted_key[:-1]).any())
    opposite_key = end * n + start
    pos = np.clip(np.searchsorted(sorted_key, opposite_key), 0, len(key) - 1)
    closed = bool((sorted_key[pos] == opposite_key).all())
    if not (closed and wound):
        return closed, wound, False, 0
    opposite = order[pos]
    half = len(key)
    rot = (opposite // 3) * 3 + (opposite % 3 + 1) % 3
    graph = sparse.csr_matrix((np.ones(half, np.int8), (np.arange(half), rot)), shape=(half, half))
    fans = int(connected_components(graph, directed=True, connection="weak")[0]) == len(np.unique(start))
    pieces = 0
    if want_pieces:
        adj = sparse.csr_matrix((np.ones(half, np.int8), (np.arange(half) // 3, opposite // 3)), shape=(len(f), len(f)))
        pieces = int(connected_components(adj, directed=False)[0])
    return closed, wound, fans, pieces


def is_watertight(faces: np.ndarray, n_vertices: int) -> bool:
    """Closed, consistently wound, and no pinched vertices."""
    closed, wound, fans, _ = topology(faces, n_vertices)
    return closed and wound and fans


def compact(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop unreferenced vertices and degenerate (repeated-index) faces."""
    good = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 2] != faces[:, 0])
    faces = faces[good]
    used, inverse = np.unique(faces.ravel(), return_inverse=True)
    return vertices[used], inverse.reshape(-1, 3)


def _simplify(vertices: np.ndarray, faces: np.ndarray, target: int, agg: float) -> tuple[np.ndarray, np.ndarray]:
    v, f = fast_simplification.simplify(
        np.ascontiguousarray(vertices, np.float32),
        np.ascontiguousarray(faces, np.int64),
        target_count=int(target),
        agg=agg,
    )
    return compact(np.asarray(v, np.float64), np.asarray(f, np.int64))


def decimate(vertices: np.ndarray, faces: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadric decimation to at most ``target`` faces, keeping the mesh closed and manifold.

    One pass usually does it. When a collapse breaks the topology (on thin
    parts), the reduction goes in smaller steps, each checked, with gentler
    settings where needed; the result is the smallest closed mesh reached, which
    is over ``target`` only when no step could make progress.
    """
    if len(faces) <= target:
        return vertices, faces
    v, f = _simplify(vertices, faces, target, 7.0)
    if len(f) and len(f) <= target and is_watertight(f, len(v)):
        return v, f
    for factor in (0.5, 0.8):
        while len(faces) > target:
            goal = max(int(target), int(len(faces) * factor))
            for agg in (7.0, 5.0, 3.0):
                v, f = _simplify(vertices, faces, goal, agg)
                if len(f) and len(f) < 0.98 * len(faces) and is_watertight(f, len(v)):
                    vertices, faces = v, f
                    break
            else:
                break  # no progress at this step size
    return vertices, faces


def laplacian(n_vertices: int, faces: np.ndarray) -> sparse.csr_matrix:
    """The uniform (umbrella) operator: mean of the neighbours minus the vertex."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]], axis=0)
    e = np.concatenate([e, e[:, ::-1]], axis=0)
    adj = sparse.csr_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n_vertices, n_vertices))
    adj.data[:] = 1.0  # duplicates summed: reset to plain adjacency
    deg = np.asarray(adj.sum(axis=1)).ravel()
    inv = sparse.diags(1.0 / np.maximum(deg, 1.0))
    return (inv @ adj - sparse.identity(n_vertices)).tocsr()


def taubin(
    vertices: np.ndarray,
    faces: np.ndarray,
    iterations: int = 10,
    lam: float = 0.5,
    mu: float = -0.53,
    fixed: np.ndarray | None = None,
) -> np.ndarray:
    """Taubin λ|μ smoothing: removes staircase noise without shrinking the shape."""
    lap = laplacian(len(vertices), faces)
    v = vertices.astype(np.float64).copy()
    for _ in range(iterations):
        for factor in (lam, mu):
            step = factor * (lap @ v)
            if fixed is not None:
                step[fixed] = 0.0
            v += step
    return v


def normalise(vertices: np.ndarray, size: float | None) -> np.ndarray:
    """Centre on the bounding box; largest extent 1, or ``size`` (mm) when given."""
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    extent = float((hi - lo).max())
    scale = (size if size is not None else 1.0) / max(extent, 1e-12)
    return (vertices - (lo + hi) / 2.0) * scale


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals."""
    tri = vertices[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # area-weighted
    corners = faces.ravel()
    out = np.stack(
        [np.bincount(corners, weights=np.repeat(fn[:, c], 3), minlength=len(vertices)) for c in range(3)], axis=1
    )
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norm, 1e-12)
