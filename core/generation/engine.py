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
from typing import Protocol, runtime_checkable

import numpy as np
import torch
import trimesh
from PIL import Image

from core.generation import carve, inflate, meshing, relief, render, texture
from core.generation.device import resolve_device, synchronize
from core.generation.errors import (
    InvalidOption,
    TooFewViews,
    TooManyViews,
    UnknownEngine,
    UnsupportedMode,
    ViewSizeMismatch,
)
from core.generation.export import to_glb
from core.generation.images import downscale, foreground, load_image
from core.generation.options import GenerationOptions, GenerationResult
from core.i18n import N_

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
    return engine.run(images, options, progress or (lambda stage, fraction: None))


def resolve_mode(mode: str, n_images: int, max_views: int) -> str:
    """The mode to run for this many images; raises for combinations that cannot work."""
    if n_images == 0:
        raise InvalidOption(N_("Give at least one image."))
    if mode == "auto":
        mode = "inflate" if n_images == 1 else "carve"
    if mode == "carve":
        if n_images < 2:
            raise TooFewViews()
        if n_images > max_views:
            raise TooManyViews(max_views=max_views)
    elif n_images != 1:
        raise UnsupportedMode(N_("The {mode} mode takes exactly one image; carve takes several views."), mode=mode)
    return mode


class _Clock:
    def __init__(self, device: torch.device, progress: Progress) -> None:
        self.device = device
        self.progress = progress
        self.seconds: dict[str, float] = {}
        self.start = self.last = time.perf_counter()

    def done(self, stage: str) -> None:
        synchronize(self.device)
        now = time.perf_counter()
        self.seconds[stage] = round(now - self.last, 4)
        self.last = now
        self.progress(stage, STAGES[stage])

    def total(self) -> float:
        return round(time.perf_counter() - self.start, 4)


def _inflate_grid(faces: int) -> int:
    # About 4·fill·G² triangles come out of a G-node grid; aim for ~1.5× the
    # target so decimation has room to choose, within bounds that keep thin
    # parts (low end) and time (high end) in check.
    return int(min(320, max(96, math.sqrt(faces * 0.75))))


class ClassicEngine:
    """Inflate, relief and carve computed directly with torch; no learned weights."""

    def run(self, images: list[bytes], options: GenerationOptions, progress: Progress) -> GenerationResult:
        mode = resolve_mode(options.mode, len(images), options.max_views)
        device = resolve_device(options.device)
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
            found = [foreground(p) for p in pictures]
            clock.done("mask")
            if mode == "inflate":
                mesh, colors = self._inflate(pictures[0], *found[0], options, device, clock)
            else:
                mesh, colors = self._carve(pictures, found, options, device, clock)
        return finish(mesh, colors, mode, options, device, clock, views=len(images), size=pictures[0].size)

    def _inflate(self, picture, mask, coverage, options, device, clock):
        field = inflate.solve(coverage, device, _inflate_grid(options.faces))
        clock.done("solve")
        v, f = inflate.build_mesh(field, picture.size[1])
        v, f = meshing.decimate(v, f, options.faces)
        cols, rows = v[:, 0].copy(), -v[:, 1]
        v = meshing.normalise(v, options.size_mm)
        clock.done("mesh")
        rgb = texture.bleed(np.asarray(picture)[..., :3], mask)
        ys, xs = np.nonzero(mask)
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
        v, f, ppm = relief.build_mesh(
            picture,
            lithophane=options.lithophane,
            base_mm=options.relief_base_mm,
            height_mm=options.relief_height_mm,
            width_mm=width_mm,
        )
        clock.done("solve")
        v, f = meshing.decimate(v, f, options.faces)
        cols, rows = v[:, 0] * ppm - 0.5, -v[:, 1] * ppm - 0.5
        v = meshing.normalise(v, options.size_mm)
        clock.done("mesh")
        rgb = np.asarray(picture.convert("RGB"))
        mesh = texture.textured(v, f, Image.fromarray(rgb), cols, rows)
        colors = _colors_from_texture(rgb, cols, rows)
        clock.done("texture")
        return mesh, colors

    def _carve(self, pictures, found, options, device, clock):
        coverages = [c for _, c in found]
        hull = carve.solve(coverages, options.fov_deg, device, carve.grid_for(options.faces))
        clock.done("solve")
        v, f = carve.build_mesh(hull)
        v, f = meshing.decimate(v, f, options.faces)
        clock.done("mesh")
        views = [texture.bleed(np.asarray(p)[..., :3], m) for p, (m, _) in zip(pictures, found, strict=True)]
        normals = render.vertex_normals(v, f)
        colors = texture.carve_colors(v, f, normals, views, options.fov_deg, hull.voxel, device)
        v = meshing.normalise(v, options.size_mm)
        rgba = np.concatenate([colors, np.full((len(colors), 1), 255, np.uint8)], axis=1)
        mesh = trimesh.Trimesh(v, f, vertex_colors=rgba, process=False)
        clock.done("texture")
        return mesh, colors


def _colors_from_texture(rgb: np.ndarray, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
    from core.generation.colors import sample

    return np.clip(sample(rgb, cols, rows) + 0.5, 0, 255).astype(np.uint8)


def finish(
    mesh: trimesh.Trimesh,
    colors: np.ndarray | None,
    mode: str,
    options: GenerationOptions,
    device: torch.device,
    clock: _Clock,
    views: int,
    size: tuple[int, int],
) -> GenerationResult:
    """GLB, thumbnails and stats for a finished mesh (the export stage)."""
    unit = "mm" if options.size_mm is not None else None
    glb = to_glb(mesh, unit=unit)
    thumbs = render.thumbnails(mesh, colors, device=device)
    clock.done("export")
    faces = np.asarray(mesh.faces)
    vertices = np.asarray(mesh.vertices)
    extents = vertices.max(axis=0) - vertices.min(axis=0)
    stats = {
        "engine": options.engine,
        "mode": mode,
        "device": device.type,
        "views": views,
        "image_size": list(size),
        "seconds": dict(clock.seconds),
        "total_seconds": clock.total(),
        "faces": int(len(faces)),
        "vertices": int(len(vertices)),
        "watertight": meshing.is_watertight(faces, len(vertices)),
        "extents": [round(float(e), 6) for e in extents],
        "volume": round(float(_volume(vertices, faces)), 6),
        "units": unit or "normalised",
    }
    return GenerationResult(mesh=mesh, glb=glb, thumbnails=thumbs, stats=stats)


def _volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


register_engine("classic", ClassicEngine())
