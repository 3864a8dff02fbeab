"""The engine registry and the classic (weight-free) engine.

An engine turns image bytes plus options into a :class:`GenerationResult`.
``ENGINES`` maps names to engines; ``register_engine`` adds one, so a learned
model (TripoSR, TRELLIS, Hunyuan3D...) can be plugged in where its weights are
present, and chosen with ``GenerationOptions(engine=...)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from core.generation import cuboid, cues, inflate, meshing, oblique, relief, repair, texture
from core.generation.arrays import MeshArrays
from core.generation.device import device_type, resolve_device, synchronize
from core.generation.errors import UnknownEngine, UnprintableModel, ViewSizeMismatch
from core.generation.export import to_glb
from core.generation.images import downscale, foreground_method, load_image
from core.generation.modes import resolve_mode
from core.generation.options import GenerationOptions, GenerationResult
from core.i18n import N_

if TYPE_CHECKING:
    import torch

# torch (a second to import) is loaded for carve, for CUDA and for thumbnails; an inflate
# or relief on the CPU runs on NumPy without it.

Progress = Callable[[str, float], None]

#: Overall fraction of the work done when each stage ends, for progress bars.
STAGES = {"load": 0.1, "mask": 0.2, "solve": 0.45, "mesh": 0.7, "texture": 0.85, "export": 1.0}


@runtime_checkable
class Engine(Protocol):
    """Anything with this ``run`` method can be registered."""

    def run(self, images: list[bytes], options: GenerationOptions, progress: Progress) -> GenerationResult: ...


ENGINES: dict[str, Engine] = {}


def register_engine(name: str, engine: Engine) -> None:
    """Make ``engine`` available as ``GenerationOptions(engine=name)``; replaces one of the same name."""
    if not isinstance(engine, Engine):
        raise TypeError("an engine needs a run(images, options, progress) method")
    ENGINES[name] = engine


def generate(
    images: list[bytes],
    options: GenerationOptions | None = None,
    progress: Progress | None = None,
) -> GenerationResult:
    """Images (encoded bytes) in, a finished model out. No file or network I/O.

    ``progress(stage, fraction)`` is called as each stage ends: load, mask,
    solve, mesh, texture, export; ``fraction`` is the share of the whole job done.
    Input problems raise subclasses of :class:`core.errors.ValidationError`.
    """
    options = options or GenerationOptions()
    options.validate()
    engine = ENGINES.get(options.engine)
    if engine is None:
        raise UnknownEngine(N_("No engine named {engine} is installed."), engine=options.engine)
    result = engine.run(images, options, progress or (lambda stage, fraction: None))
    # Whatever engine made it: a model that is not sound is never handed out as a success.
    vertices, faces = result.arrays()
    report = repair.check(vertices, faces)
    if not report.ok:
        raise UnprintableModel(problems="; ".join(report.problems()))
    return result


class _Clock:
    def __init__(self, device: torch.device | str, progress: Progress) -> None:
        self.device = device
        self.progress = progress
        self.seconds: dict[str, float] = {}
        self.repaired = False
        self.mask_method: str | None = None  # how the masks were made (images.MASK_METHODS); None for relief
        self.thickened: float | None = None  # share of an inflate's silhouette widened for printing
        self.start = self.last = time.perf_counter()

    def done(self, stage: str) -> None:
        synchronize(self.device)
        now = time.perf_counter()
        self.seconds[stage] = round(now - self.last, 4)
        self.last = now
        self.progress(stage, STAGES[stage])

    def total(self) -> float:
        return round(time.perf_counter() - self.start, 4)


GRID_FINE = 512  # inflate grid nodes when thin parts need more than the face budget suggests (whole pixels at 512 px)


def _inflate_grid(faces: int) -> int:
    # About 4·fill·G² triangles come out of a G-node grid; aim for ~1.5× the
    # target so decimation has room to choose, within bounds that keep thin
    # parts (low end) and time (high end) in check.
    return int(min(320, max(96, math.sqrt(faces * 0.75))))


class ClassicEngine:
    """Inflate, relief and carve computed directly (NumPy, and torch for carve and CUDA); no learned weights."""

    def run(self, images: list[bytes], options: GenerationOptions, progress: Progress) -> GenerationResult:
        mode = resolve_mode(options.mode, len(images), options.max_views)
        kind = device_type(options.device)
        device: torch.device | str = "cpu" if kind == "cpu" and mode != "carve" else resolve_device(options.device)
        clock = _Clock(device, progress)
        loaded = [load_image(data, options.max_pixels) for data in images]
        if mode == "carve" and len({im.size for im in loaded}) > 1:
            raise ViewSizeMismatch()
        pictures = [downscale(im, options.resolution) for im in loaded]
        clock.done("load")
        if mode == "relief":
            clock.done("mask")
            mesh, colors = self._relief(pictures[0], options, clock)
        else:
            # The box is drawn on the one picture of an inflate; carve views are found on their own.
            box = options.box if mode == "inflate" else None
            made = [foreground_method(p, box) for p in pictures]
            found = [(m, c) for m, c, _ in made]
            clock.mask_method = _mask_method([how for _, _, how in made])
            clock.done("mask")
            if mode == "inflate":
                mesh, colors = self._inflate(pictures[0], *found[0], options, device, clock)
            else:
                mesh, colors = self._carve(pictures, found, options, device, clock)
        return finish(mesh, colors, mode, options, device, clock, views=len(images), size=pictures[0].size)

    def _inflate(self, picture, mask, coverage, options, device, clock):
        drawn = coverage >= 0.5
        coverage, grid, thickness = _printable_silhouettes([coverage], options, _inflate_grid(options.faces),
                                                           GRID_FINE, drawn_width=True)
        coverage = coverage[0]
        # Thin parts widened to the printable minimum are not what the picture shows: say how much.
        made = coverage >= 0.5
        clock.thickened = round(float((made & ~drawn).sum() / max(int(made.sum()), 1)), 4)
        # Thickened parts and bridges take the colour of the nearest drawn pixel, not the backdrop's.
        solid = mask | (coverage >= 0.5)
        field = inflate.solve(coverage, device, grid)
        clock.done("solve")
        rgb = np.asarray(picture.convert("RGB"))
        flatness, one_face = cues.face_cues(rgb, coverage)
        brightness = inflate.grid_average(field, rgb.astype(np.float32) @ np.float32([0.299, 0.587, 0.114]),
                                          coverage)
        fitted = (oblique.fit(field.coverage, brightness) or oblique.fit_frustum(field.coverage, brightness)
                  or cuboid.fit(field.coverage, brightness))
        v, f = inflate.build_mesh(field, picture.size[1], flatness, one_face, fitted)
        v, f = meshing.decimate(v, f, options.faces)
        v, f = _sound(v, f, thickness, options, clock)
        cols, rows = v[:, 0].copy(), -v[:, 1]
        v = meshing.normalise(v, options.size_mm)
        clock.done("mesh")
        rgb = texture.bleed(np.asarray(picture)[..., :3], mask)
        ys, xs = np.nonzero(solid)
        pad = 2
        r0, c0 = max(ys.min() - pad, 0), max(xs.min() - pad, 0)
        r1, c1 = min(ys.max() + pad + 1, mask.shape[0]), min(xs.max() + pad + 1, mask.shape[1])
        tex = Image.fromarray(np.ascontiguousarray(rgb[r0:r1, c0:c1]))
        mesh = texture.textured(v, f, tex, cols - c0, rows - r0)
        colors = _colors_from_texture(rgb, cols, rows)
        clock.done("texture")
        return mesh, colors

    def _relief(self, picture, options, clock):
        width_mm = options.size_mm or relief.DEFAULT_WIDTH_MM
        thickness = repair.min_thickness(width_mm, options.size_mm, options.min_thickness, options.min_thickness_mm)
        build = {
            "lithophane": options.lithophane,
            # The plate is never thinner than the printable minimum.
            "base_mm": max(options.relief_base_mm, thickness),
            "height_mm": options.relief_height_mm,
            "width_mm": width_mm,
        }
        v, f, ppm = relief.build_mesh(picture, grid_max=relief.grid_for(options.faces, picture.size), **build)
        clock.done("solve")
        v, f = meshing.decimate(v, f, options.faces)
        if len(f) > options.faces:
            # Decimation gave up (it keeps the plate closed or does nothing): a grid within budget.
            v, f, ppm = relief.build_mesh(picture, grid_max=relief.grid_for(options.faces, picture.size, 0.45),
                                          **build)
        v, f = _sound(v, f, thickness, options, clock)
        cols, rows = v[:, 0] * ppm - 0.5, -v[:, 1] * ppm - 0.5
        v = meshing.normalise(v, options.size_mm)
        clock.done("mesh")
        rgb = np.asarray(picture.convert("RGB"))
        mesh = texture.textured(v, f, Image.fromarray(rgb), cols, rows)
        colors = _colors_from_texture(rgb, cols, rows)
        clock.done("texture")
        return mesh, colors

    def _carve(self, pictures, found, options, device, clock):
        from core.generation import carve, render

        coverages, grid, thickness = _printable_silhouettes(
            [c for _, c in found], options, carve.grid_for(options.faces), carve.grid_for(options.faces), turntable=True
        )
        found = [(m, c) for (m, _), c in zip(found, coverages, strict=True)]  # colours from the drawn pixels
        hull = carve.solve(coverages, options.fov_deg, device, grid, options.elevation_deg)
        hull.field = repair.join_field(hull.field, hull.voxel, max(thickness, repair.GRID_CELLS_PER_PART * hull.voxel)
                                       / 2.0)
        clock.done("solve")
        v, f = carve.build_mesh(hull)
        v, f = meshing.decimate(v, f, options.faces)
        v, f = _sound(v, f, thickness, options, clock)
        clock.done("mesh")
        views = [texture.bleed(np.asarray(p)[..., :3], m) for p, (m, _) in zip(pictures, found, strict=True)]
        normals = render.vertex_normals(v, f)
        colors = texture.carve_colors(v, f, normals, views, options.fov_deg, hull.voxel, device,
                                      options.elevation_deg)
        v = meshing.normalise(v, options.size_mm)
        rgba = np.concatenate([colors, np.full((len(colors), 1), 255, np.uint8)], axis=1)
        mesh = MeshArrays(v, f, vertex_colors=rgba)
        clock.done("texture")
        return mesh, colors


def _printable_silhouettes(
    coverages: list[np.ndarray], options: GenerationOptions, grid: int, grid_fine: int, turntable: bool = False,
    drawn_width: bool = False,
) -> tuple[list[np.ndarray], int, float]:
    """``(coverages, grid, thickness_px)``: silhouettes whose thin parts are thickened and pieces joined.

    A part must span a few grid cells to survive meshing; when the silhouettes
    have thinner parts the grid is refined (up to ``grid_fine``) towards the
    printable minimum, and what is still thinner is thickened to what the grid holds.
    ``drawn_width`` (inflate, whose outline is what people see from the front): a thin part grows
    to that width and no wider, about its middle line, so the silhouette keeps its drawn width
    wherever printing allows (see :func:`repair.thicken`).
    """
    extent = 1.0
    for c in coverages:
        rows = np.nonzero(c.max(axis=1) >= 0.5)[0]
        cols = np.nonzero(c.max(axis=0) >= 0.5)[0]
        if not len(rows):
            continue
        if turntable:  # the hull reaches as far from the axis on every side
            half = (c.shape[1] - 1) / 2.0
            width = 2 * max(abs(cols[0] - half), abs(cols[-1] - half)) + 1
        else:
            width = cols[-1] - cols[0] + 1
        extent = max(extent, rows[-1] - rows[0] + 1, width)
    thickness = repair.min_thickness(extent, options.size_mm, options.min_thickness, options.min_thickness_mm)
    step = math.ceil(extent / grid)
    cells = repair.GRID_CELLS_PER_PART * step
    thin_seen = None
    if cells > thickness and grid < grid_fine:
        boxes = [repair.crop_box(c, repair.CORNER_SLACK * cells / 2.0 + 1) for c in coverages]
        thin_seen = any(repair.thin_parts(c[box] >= 0.5, cells / 2.0).any()
                        for c, box in zip(coverages, boxes, strict=True))
        if thin_seen:
            # Cells small enough that a part the printable minimum wide spans enough of them: whole pixels.
            fine = math.ceil(extent / max(1, math.floor(thickness / repair.GRID_CELLS_PER_PART)))
            grid = max(grid, min(grid_fine, fine))
            step = math.ceil(extent / grid)
    radius = max(thickness, repair.GRID_CELLS_PER_PART * step) / 2.0
    # Nothing thin at this radius was seen above: only the pieces need joining.
    thick = thin_seen is False and radius <= cells / 2.0
    made = [repair.prepare_silhouette(c, radius, thick=thick, drawn_width=drawn_width) for c in coverages]
    return made, grid, thickness


def _sound(v: np.ndarray, f: np.ndarray, thickness: float, options: GenerationOptions, clock: _Clock):
    """The final check; a rebuild when the mesh fails it (see :mod:`core.generation.repair`)."""
    v, f, rebuilt = repair.ensure_sound(v, f, thickness, options.faces)
    clock.repaired = rebuilt
    return v, f


def _colors_from_texture(rgb: np.ndarray, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
    from core.generation.colors import sample

    return np.clip(sample(rgb, cols, rows) + 0.5, 0, 255).astype(np.uint8)


def finish(
    mesh: MeshArrays,
    colors: np.ndarray | None,
    mode: str,
    options: GenerationOptions,
    device: torch.device | str,
    clock: _Clock,
    views: int,
    size: tuple[int, int],
) -> GenerationResult:
    """GLB, thumbnails and stats for a finished mesh (the export stage)."""
    unit = "mm" if options.size_mm is not None else None
    glb = to_glb(mesh, unit=unit)
    thumbs = {}
    deferred: list[str] = []
    if options.thumbnails:
        from core.generation import render

        thumbs = render.thumbnails(mesh, colors, device=resolve_device(_device_name(device)),
                                   views=options.thumbnail_views)
        deferred = [view for view in render.THUMBNAIL_VIEWS if view not in thumbs]
    clock.done("export")
    faces = np.asarray(mesh.faces)
    vertices = np.asarray(mesh.vertices)
    extents = vertices.max(axis=0) - vertices.min(axis=0)
    stats = {
        "engine": options.engine,
        "mode": mode,
        "device": _device_name(device),
        "views": views,
        "image_size": list(size),
        "seconds": dict(clock.seconds),
        "total_seconds": clock.total(),
        "faces": int(len(faces)),
        "vertices": int(len(vertices)),
        "watertight": meshing.is_watertight(faces, len(vertices)),
        "repaired": clock.repaired,
        "extents": [round(float(e), 6) for e in extents],
        "volume": round(float(_volume(vertices, faces)), 6),
        "units": unit or "normalised",
    }
    if clock.thickened is not None:
        stats["silhouette_thickened"] = clock.thickened
    if clock.mask_method:
        stats["mask_method"] = clock.mask_method
        if clock.mask_method.startswith("learned"):
            from core.generation.learned import active_name

            stats["segmenter"] = active_name()
    # A trimesh.Trimesh when result.mesh is first read (trimesh is not imported before).
    return GenerationResult(mesh=mesh, glb=glb, thumbnails=thumbs, stats=stats,  # type: ignore[arg-type]
                            deferred_thumbnails=deferred)


def _mask_method(methods: list[str]) -> str:
    """One method for all views: theirs when they agree, else the least sure one (the page's caution)."""
    order = ("grabcut", "backdrop", "box", "learned_box", "learned", "alpha")
    return min(methods, key=order.index) if methods else "backdrop"


def _device_name(device: torch.device | str) -> str:
    return device if isinstance(device, str) else device.type


def _volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


register_engine("classic", ClassicEngine())
