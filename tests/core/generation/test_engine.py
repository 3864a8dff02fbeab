"""The public API: options, progress, registry, print size, stats."""

from __future__ import annotations

import json

import pytest

from core.generation import ENGINES, GenerationOptions, GenerationResult, generate, register_engine
from core.generation.errors import InvalidOption, UnknownEngine, UnsupportedMode
from tests.core.generation.conftest import FAST, front_silhouette, iou


def test_progress_reports_every_stage_in_order(figure_png) -> None:
    seen: list[tuple[str, float]] = []
    generate([figure_png], GenerationOptions(**FAST), progress=lambda s, f: seen.append((s, f)))
    assert [s for s, _ in seen] == ["load", "mask", "solve", "mesh", "texture", "export"]
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_stats_are_json(inflated) -> None:
    stats = json.loads(json.dumps(inflated.stats))
    assert stats["mode"] == "inflate" and stats["device"] == "cpu" and stats["watertight"] is True
    assert set(stats["seconds"]) == {"load", "mask", "solve", "mesh", "texture", "export"}
    assert stats["faces"] <= FAST["faces"] and stats["volume"] > 0 and len(stats["extents"]) == 3


def test_print_size(figure_png) -> None:
    result = generate([figure_png], GenerationOptions(size_mm=80.0, **FAST))
    assert abs(result.mesh.extents.max() - 80.0) < 1e-6 and result.stats["units"] == "mm"


def test_registry_accepts_another_engine(inflated) -> None:
    class Canned:
        def run(self, images, options, progress) -> GenerationResult:
            progress("export", 1.0)
            return inflated

    register_engine("canned", Canned())
    try:
        assert generate([b"anything"], GenerationOptions(engine="canned")) is inflated
    finally:
        ENGINES.pop("canned")
    assert "classic" in ENGINES
    with pytest.raises(UnknownEngine):
        generate([b"x"], GenerationOptions(engine="canned"))
    with pytest.raises(TypeError):
        register_engine("bad", object())  # type: ignore[arg-type]


def test_bad_options(figure_png) -> None:
    with pytest.raises(UnsupportedMode):
        generate([figure_png], GenerationOptions(mode="sculpt"))
    with pytest.raises(UnsupportedMode):
        generate([figure_png, figure_png], GenerationOptions(mode="inflate"))
    with pytest.raises(InvalidOption):
        generate([figure_png], GenerationOptions(faces=10))
    with pytest.raises(InvalidOption):
        generate([], GenerationOptions())


def test_a_widened_thin_part_is_recorded_in_the_stats() -> None:
    import numpy as np

    from tests.core.generation import builders

    disk = builders.disk_mask(200, 60)
    stick = disk.copy()
    stick[20:180, 150:151] = True  # a 1-pixel pole beside it, thinner than the printable minimum (1.6 px)
    stats = {}
    for name, mask in (("disk", disk), ("stick", stick)):
        picture = builders.png(builders.on_background(mask))
        stats[name] = generate([picture], GenerationOptions(mode="inflate", faces=3000, resolution=200,
                                                            thumbnails=False)).stats
    assert stats["disk"]["silhouette_thickened"] == 0 and stats["disk"]["mask_method"] == "backdrop"
    assert stats["stick"]["silhouette_thickened"] > 0.005
    assert np.isfinite(stats["stick"]["silhouette_thickened"])


def test_thin_legs_on_a_dark_backdrop_keep_their_drawn_width() -> None:
    """Issue 20: a bird's 3-pixel legs on a dark plain backdrop came out about 8 pixels wide (silhouette
    IoU 0.94 from +Z): disks of the grid's meshing width were put round every pixel of them. Now a thin
    part grows to the printable minimum (3.6 px here) and no wider, on a grid of whole pixels: the outline
    seen from +Z is the drawn one, and the model is still watertight and not rebuilt."""
    import numpy as np
    from PIL import Image, ImageDraw

    from tests.core.generation import builders

    canvas = Image.new("L", (512, 512), 0)
    draw = ImageDraw.Draw(canvas)
    draw.ellipse((150, 140, 370, 300), fill=255)  # body
    draw.ellipse((320, 100, 400, 180), fill=255)  # head
    draw.polygon([(395, 130), (440, 145), (395, 155)], fill=255)  # beak
    draw.polygon([(150, 200), (80, 170), (90, 200), (155, 240)], fill=255)  # tail
    for x in (230, 290):
        draw.rectangle((x, 290, x + 2, 430), fill=255)  # a leg, 3 pixels wide
        draw.rectangle((x - 15, 428, x + 20, 430), fill=255)  # its foot
    drawn = np.asarray(canvas) >= 128
    rgb = np.where(drawn[..., None], np.uint8([150, 110, 70]), np.uint8([25, 25, 28])).astype(np.uint8)
    result = generate([builders.png(rgb)], GenerationOptions(mode="inflate", faces=50_000, resolution=512,
                                                             thumbnails=False))
    assert result.stats["watertight"] and not result.stats["repaired"] and result.stats["mask_method"] == "backdrop"
    # The mesh seen from +Z, fitted to the drawing's bounds (as benchmarks.engine_quality measures it).
    seen = front_silhouette(np.asarray(result.mesh.vertices), np.asarray(result.mesh.faces), drawn)
    assert iou(seen, drawn) >= 0.97
    legs = np.zeros_like(drawn)
    legs[320:420] = True  # rows of the legs alone, below the body and above the feet
    assert (seen & legs).sum() <= 1.35 * (drawn & legs).sum()  # at most the printable minimum, 3.6 of 3 px
    assert result.stats["silhouette_thickened"] < 0.005
