"""The public API: options, progress, registry, print size, stats."""

from __future__ import annotations

import json

import pytest

from core.generation import ENGINES, GenerationOptions, GenerationResult, generate, register_engine
from core.generation.errors import InvalidOption, UnknownEngine, UnsupportedMode
from tests.core.generation.conftest import FAST


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
    stick[20:180, 150:152] = True  # a 2-pixel pole beside it, thinner than the printable minimum
    stats = {}
    for name, mask in (("disk", disk), ("stick", stick)):
        picture = builders.png(builders.on_background(mask))
        stats[name] = generate([picture], GenerationOptions(mode="inflate", faces=3000, resolution=200,
                                                            thumbnails=False)).stats
    assert stats["disk"]["silhouette_thickened"] == 0 and stats["disk"]["mask_method"] == "backdrop"
    assert stats["stick"]["silhouette_thickened"] > 0.005
    assert np.isfinite(stats["stick"]["silhouette_thickened"])
