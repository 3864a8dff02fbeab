"""The options a generation takes and the result it gives back."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.generation.errors import InvalidOption, UnsupportedMode
from core.i18n import N_

if TYPE_CHECKING:  # trimesh takes a quarter of a second to import; the CLI's --help must not wait
    import numpy as np
    import trimesh

MODES = ("auto", "inflate", "relief", "carve")
DEVICES = ("auto", "cpu", "cuda")
DEFAULT_MAX_PIXELS = 40_000_000  # pixels; larger images are refused before decoding
MAX_FACES = 2_000_000
MIN_FACES = 200
RESOLUTION_PX = (32, 8192)  # longest side processed
SIZE_MM = (1.0, 2000.0)  # print size of the largest extent: a bead to a 2 m print
FOV_DEG = (1.0, 120.0)  # carve camera field of view
RELIEF_BASE_MM = (0.2, 50.0)  # the plate under the lowest point: one printed layer to a thick slab
RELIEF_HEIGHT_MM = (0.0, 100.0)  # extra thickness at the highest point
MAX_VIEWS = 1024  # carve: an upper bound on the tier's limit (64 on premium)
MAX_PIXELS_LIMIT = 1_000_000_000  # per image: the tier's limit must stay below this
MIN_BOX_FRACTION = 0.02  # of the image's width and of its height: the smallest box around an object


@dataclass
class GenerationOptions:
    """What to make and how. Defaults suit the free tier."""

    mode: str = "auto"  #: auto | inflate | relief | carve; auto is inflate for one image, carve for more
    faces: int = 50_000  #: target triangle count after decimation
    resolution: int = 512  #: longest image side processed, in pixels (the tier decides)
    device: str = "auto"  #: auto | cpu | cuda
    size_mm: float | None = None  #: print size of the largest extent in mm; None normalises to 1
    fov_deg: float | None = None  #: carve camera field of view; None is orthographic
    elevation_deg: float = 0.0  #: carve: camera height above the turntable's plane, 0 (level) to 60 degrees
    lithophane: bool = False  #: relief only: dark is thick, for back-lit prints
    relief_base_mm: float = 2.0  #: relief only: plate thickness under the lowest point
    relief_height_mm: float = 5.0  #: relief only: extra thickness at the highest point
    engine: str = "classic"  #: name in core.generation.ENGINES
    max_views: int = 64  #: carve: most images accepted
    max_pixels: int = DEFAULT_MAX_PIXELS  #: per image, checked from the header before decoding
    min_thickness: float = 0.01  #: thinnest part, as a fraction of the largest extent; thinner is thickened
    min_thickness_mm: float = 0.8  #: thinnest part in mm at the print size (with size_mm)
    thumbnails: bool = True  #: render the PNG thumbnails (the batch CLI skips them unless asked)
    #: which named views (render.THUMBNAIL_VIEWS) to render; None: all. The worker renders the first
    #: at job time and the others after the job is done (core.jobs.runner).
    thumbnail_views: list[str] | None = None
    #: inflate: a box around the object, fractions x0, y0, x1, y1 of the image; the object is segmented inside it
    box: list[float] | None = None

    def validate(self) -> None:
        """Raise :class:`InvalidOption` or :class:`UnsupportedMode` for values that cannot work.

        Options arrive from the CLI, from a job's stored JSON and from pages, so each is checked
        for its type as well as its range: NaN compares false with every bound (a NaN relief base
        made a plate of NaN vertices that still "passed"), and 1e30 mm is a number but no plate.
        """
        if self.mode not in MODES:
            raise UnsupportedMode(N_("Unknown mode {mode}: use one of {modes}."), mode=self.mode,
                                  modes=", ".join(MODES))
        if self.device not in DEVICES:
            raise InvalidOption(N_("Unknown device {device}: use one of {devices}."), device=self.device,
                                devices=", ".join(DEVICES))
        _check_number("faces", self.faces, MIN_FACES, MAX_FACES, whole=True)
        _check_number("resolution", self.resolution, *RESOLUTION_PX, whole=True)
        if self.size_mm is not None:
            _check_number("size_mm", self.size_mm, *SIZE_MM)
        if self.fov_deg is not None:
            _check_number("fov_deg", self.fov_deg, *FOV_DEG)
        _check_number("relief_base_mm", self.relief_base_mm, *RELIEF_BASE_MM)
        _check_number("relief_height_mm", self.relief_height_mm, *RELIEF_HEIGHT_MM)
        if not isinstance(self.lithophane, bool):
            raise InvalidOption(N_("{option} must be true or false."), option="lithophane")
        _check_number("max_views", self.max_views, 2, MAX_VIEWS, whole=True)
        _check_number("max_pixels", self.max_pixels, 1, MAX_PIXELS_LIMIT, whole=True)
        _check_number("elevation_deg", self.elevation_deg, 0, 60)
        _check_number("min_thickness", self.min_thickness, 0, 0.1)
        _check_number("min_thickness_mm", self.min_thickness_mm, 0, 10)
        if self.box is not None:
            check_box(self.box)


def check_box(box: object) -> list[float]:
    """``box`` as four floats x0, y0, x1, y1 with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1; else InvalidOption.

    It arrives from a job's stored JSON (a list) or the CLI (a tuple). Each side must span at least
    MIN_BOX_FRACTION of the image: a box of a few pixels is a slip of the mouse, not an object.
    """
    numbers = list(box) if isinstance(box, list | tuple) else []
    if len(numbers) != 4 or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in numbers
    ):
        raise InvalidOption(N_("The box must be four numbers x0, y0, x1, y1 from 0 to 1."))
    x0, y0, x1, y1 = (float(v) for v in numbers)
    if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
        raise InvalidOption(N_("The box must lie inside the image, with its left edge before its right edge "
                               "and its top edge above its bottom edge."))
    if x1 - x0 < MIN_BOX_FRACTION or y1 - y0 < MIN_BOX_FRACTION:
        raise InvalidOption(N_("The box is too small: draw it around the whole object."))
    return [x0, y0, x1, y1]


def _check_number(option: str, value: object, low: float, high: float, *, whole: bool = False) -> None:
    """``value`` is a real, finite number (a whole one if ``whole``) from ``low`` to ``high``; else InvalidOption."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and whole and not float(value).is_integer():  # type: ignore[arg-type]
        ok = False
    if not ok or not low <= value <= high:  # type: ignore[operator]
        raise InvalidOption(N_("{option} must be a number from {low} to {high}."), option=option,
                            low=_shown(low), high=_shown(high))


def _shown(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


@dataclass
class GenerationResult:
    """A finished model: the mesh, its GLB, thumbnails and figures about the run."""

    mesh: trimesh.Trimesh  #: normalised, watertight, textured or vertex-coloured
    glb: bytes  #: the main artefact, with texture or colours and a PBR material
    thumbnails: dict[str, bytes] = field(default_factory=dict)  #: view name -> PNG bytes
    stats: dict[str, Any] = field(default_factory=dict)  #: JSON-serialisable figures
    #: the named views left out because ``thumbnail_views`` asked for fewer (rendered later by the caller)
    deferred_thumbnails: list[str] = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(vertices float64, faces int64)`` of the mesh, without building a trimesh for it."""
        import numpy as np

        mesh = self.__dict__["_mesh"]
        return np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)


def _get_mesh(self: GenerationResult) -> trimesh.Trimesh:
    # The engine hands over MeshArrays; trimesh (half a second to import) is loaded when the mesh is first read.
    mesh = self.__dict__["_mesh"]
    to_trimesh = getattr(mesh, "to_trimesh", None)
    if to_trimesh is not None:
        mesh = self.__dict__["_mesh"] = to_trimesh()
    return mesh


def _set_mesh(self: GenerationResult, mesh: Any) -> None:
    self.__dict__["_mesh"] = mesh


GenerationResult.mesh = property(_get_mesh, _set_mesh)  # type: ignore[assignment]
