"""The 3D engine: images in, a watertight, textured model out.

    from core.generation import generate, GenerationOptions
    result = generate([png_bytes], GenerationOptions(mode="inflate"))
    result.glb, result.thumbnails["front"], result.stats

Modes: ``inflate`` (one image, a rounded solid), ``relief`` (one image, a plate
whose thickness follows luminance, optionally a lithophane) and ``carve``
(2 to 64 turntable views, a visual hull); ``auto`` picks inflate or carve by the
number of images. Conventions: +Y up, +X right, +Z toward the first image's
camera; centred on the bounding box with largest extent 1, or ``size_mm``.
Turntable view i of N stands at azimuth 360·i/N degrees and elevation
``elevation_deg`` e (0 to 60, default 0), camera in direction
(sin a·cos e, sin e, cos a·cos e), orthographic unless ``fov_deg`` is given.

``load_image``, ``compute_mask``, ``preview_mask`` and ``mask_overlay`` are light
(no torch) so the upload page can show the detected mask, live as a box is drawn;
the rest imports SciPy on first use, and torch only for carve, CUDA and
thumbnails (inflate and relief on the CPU run on NumPy). A photo with a real background (a table, a
wall, a shadow) is segmented with GrabCut, inside ``GenerationOptions.box`` when
one is given (inflate only).
Input errors are subclasses of ``core.errors.ValidationError`` (see
``core.generation.errors``). The CLI is ``python -m core.generation --help``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from core.generation.options import GenerationOptions, GenerationResult

if TYPE_CHECKING:
    from core.generation.engine import ENGINES, Engine, generate, register_engine
    from core.generation.export import FORMATS, export_mesh, load_glb
    from core.generation.images import compute_mask, load_image, mask_overlay, preview_mask
    from core.generation.render import preview_faces

__all__ = [
    "ENGINES",
    "FORMATS",
    "Engine",
    "GenerationOptions",
    "GenerationResult",
    "compute_mask",
    "export_mesh",
    "generate",
    "load_glb",
    "load_image",
    "mask_overlay",
    "preview_faces",
    "preview_mask",
    "register_engine",
]

_LAZY = {
    "compute_mask": "core.generation.images",
    "load_image": "core.generation.images",
    "mask_overlay": "core.generation.images",
    "preview_mask": "core.generation.images",
    "ENGINES": "core.generation.engine",
    "Engine": "core.generation.engine",
    "generate": "core.generation.engine",
    "register_engine": "core.generation.engine",
    "FORMATS": "core.generation.export",
    "export_mesh": "core.generation.export",
    "load_glb": "core.generation.export",
    "preview_faces": "core.generation.render",
}


def __getattr__(name: str) -> Any:
    # torch takes a second to import, numpy, Pillow and SciPy a few tenths: pages that only
    # validate uploads never pay for torch, and the CLI's --help pays for none of them.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'core.generation' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
