"""The options a generation takes and the result it gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.generation.errors import InvalidOption, UnsupportedMode
from core.i18n import N_

if TYPE_CHECKING:  # trimesh takes a quarter of a second to import; the CLI's --help must not wait
    import trimesh

MODES = ("auto", "inflate", "relief", "carve")
DEVICES = ("auto", "cpu", "cuda")
DEFAULT_MAX_PIXELS = 40_000_000  # pixels; larger images are refused before decoding
MAX_FACES = 2_000_000
MIN_FACES = 200


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

    def validate(self) -> None:
        """Raise :class:`InvalidOption` or :class:`UnsupportedMode` for values that cannot work."""
        if self.mode not in MODES:
            raise UnsupportedMode(N_("Unknown mode {mode}: use one of {modes}."), mode=self.mode,
                                  modes=", ".join(MODES))
        if self.device not in DEVICES:
            raise InvalidOption(N_("Unknown device {device}: use one of {devices}."), device=self.device,
                                devices=", ".join(DEVICES))
        if not MIN_FACES <= int(self.faces) <= MAX_FACES:
            raise InvalidOption(N_("faces must be between {low} and {high}."), low=MIN_FACES, high=MAX_FACES)
        if not 32 <= int(self.resolution) <= 8192:
            raise InvalidOption(N_("resolution must be between 32 and 8192 pixels."))
        if self.size_mm is not None and not 0 < self.size_mm <= 10_000:
            raise InvalidOption(N_("size_mm must be positive and at most 10 m."))
        if self.fov_deg is not None and not 1 <= self.fov_deg <= 120:
            raise InvalidOption(N_("fov_deg must be between 1 and 120 degrees."))
        if self.relief_base_mm <= 0 or self.relief_height_mm < 0:
            raise InvalidOption(N_("The relief base must be thicker than 0 mm and its height at least 0 mm."))
        if self.max_views < 2 or self.max_pixels < 1:
            raise InvalidOption(N_("max_views must be at least 2 and max_pixels positive."))
        if not 0 <= self.elevation_deg <= 60:
            raise InvalidOption(N_("elevation_deg must be between 0 and 60 degrees."))
        if not (0 <= self.min_thickness <= 0.1 and 0 <= self.min_thickness_mm <= 10):
            raise InvalidOption(N_("min_thickness must be between 0 and 0.1, and min_thickness_mm between 0 and 10."))


@dataclass
class GenerationResult:
    """A finished model: the mesh, its GLB, thumbnails and figures about the run."""

    mesh: trimesh.Trimesh  #: normalised, watertight, textured or vertex-coloured
    glb: bytes  #: the main artefact, with texture or colours and a PBR material
    thumbnails: dict[str, bytes] = field(default_factory=dict)  #: view name -> PNG bytes
    stats: dict[str, Any] = field(default_factory=dict)  #: JSON-serialisable figures
