"""Segmentation quality on photos with a real background: automatic and box-guided, against ground truth.

    .venv/bin/python -m benchmarks.photo_quality [--size WxH] [--seeds N]

Generated scenes (tests/core/generation/scenes.py): four object shapes on four busy textures
(wood grain, a mottled surface, a wall meeting a table, pixel noise), each with and without a
soft cast shadow, so 32 scenes a seed. Each goes through ``core.generation.images.compute_mask``
as an upload would (PNG bytes, ``load_image``, the engine's default 512 px), once without a box
and once with the box a person would draw (the object's bounds plus 4 % slack). Reported:
mask IoU against the true mask, how many automatic runs found the object or refused
(``object_not_found``), and seconds per image. A refusal counts as IoU 0 in "auto IoU (all)";
"auto IoU (found)" is over the images it accepted.

Textures with no object at all must be refused. Then the four photos that ship with scikit-image
(coffee, rocket, chelsea, astronaut), which have no ground truth: the automatic outcome (found with
its share of the frame, or refused) and, with a hand-drawn box, the share of the mask inside the
box and the share of the box the mask covers.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from PIL import Image

from core.errors import VormError
from core.generation import compute_mask, load_image
from core.generation.images import downscale
from tests.core.generation import builders, scenes
from tests.core.generation.test_segment import BOXES

RESOLUTION_PX = 512  # the engine's default processing size (the free tier's)


def _picture(rgb: np.ndarray):
    return downscale(load_image(builders.png(rgb)), RESOLUTION_PX)


def _timed(picture, box=None) -> tuple[np.ndarray | None, str, float]:
    start = time.perf_counter()
    try:
        mask, outcome = compute_mask(picture, box), "found"
    except VormError as err:
        mask, outcome = None, err.code
    return mask, outcome, time.perf_counter() - start


def generated(size: tuple[int, int], seeds: int) -> None:
    print(f"generated scenes: {len(scenes.SHAPES)} shapes x {len(scenes.TEXTURES)} textures x shadow/none"
          f" x {seeds} seed(s), {size[0]}x{size[1]} px, processed at {RESOLUTION_PX} px")
    print(f"{'texture':<11} {'shape':<8} {'shadow':<6} | {'auto':<16} {'IoU':>6} {'s':>6} | {'box IoU':>7} {'s':>6}")
    rows = []
    for seed in range(seeds):
        for texture in scenes.TEXTURES:
            for shape in scenes.SHAPES:
                for shadow in (False, True):
                    rgb, truth, box = scenes.scene(texture, shape, shadow, size=size, seed=seed)
                    picture = _picture(rgb)
                    truth_small = np.asarray(Image.fromarray(truth).resize(picture.size, Image.Resampling.NEAREST))
                    auto, outcome, t_auto = _timed(picture)
                    guided, _, t_box = _timed(picture, box)
                    iou_auto = scenes.iou(auto, truth_small) if auto is not None else float("nan")
                    iou_box = scenes.iou(guided, truth_small) if guided is not None else 0.0
                    rows.append((outcome, iou_auto, t_auto, iou_box, t_box))
                    print(f"{texture:<11} {shape:<8} {shadow!s:<6} | {outcome:<16} {iou_auto:>6.3f} {t_auto:>6.2f}"
                          f" | {iou_box:>7.3f} {t_box:>6.2f}", flush=True)
    found = [r for r in rows if r[0] == "found"]
    print()
    print(f"scenes {len(rows)}: automatic found {len(found)}, refused {len(rows) - len(found)}")
    print(f"auto IoU (found): mean {np.mean([r[1] for r in found]) if found else float('nan'):.3f}"
          f"  min {min((r[1] for r in found), default=float('nan')):.3f}"
          f"  found with IoU < 0.9: {sum(r[1] < 0.9 for r in found)}")
    print(f"auto IoU (all, refusal = 0): mean {np.mean([r[1] if r[0] == 'found' else 0.0 for r in rows]):.3f}")
    print(f"box IoU: mean {np.mean([r[3] for r in rows]):.3f}  min {min(r[3] for r in rows):.3f}"
          f"  below 0.9: {sum(r[3] < 0.9 for r in rows)}")
    print(f"seconds per image: auto mean {np.mean([r[2] for r in rows]):.3f} max {max(r[2] for r in rows):.3f};"
          f" box mean {np.mean([r[4] for r in rows]):.3f} max {max(r[4] for r in rows):.3f}")


def empty(size: tuple[int, int], seeds: int) -> None:
    """Textures with no object on them: the right answer is a refusal, never a made-up object."""
    print("\nno object (texture only): automatic outcome, should be a refusal")
    outcomes = []
    for seed in range(seeds):
        for texture in scenes.TEXTURES:
            _, outcome, seconds = _timed(_picture(scenes.texture_only(texture, size=size, seed=seed + 3)))
            outcomes.append(outcome)
            print(f"{texture:<11} seed {seed + 3}: {outcome:<18} {seconds:.2f} s", flush=True)
    print(f"refused {sum(o != 'found' for o in outcomes)} of {len(outcomes)}")


def photos() -> None:
    from skimage import data

    print("\nscikit-image photos (no ground truth), processed at 512 px")
    print(f"{'photo':<10} {'size':<9} | {'auto':<16} {'frame %':>7} {'s':>6} | {'box':<23} {'in box %':>8}"
          f" {'box cov %':>9} {'s':>6}")
    for name, box in BOXES.items():
        rgb = getattr(data, name)()
        picture = _picture(rgb)
        auto, outcome, t_auto = _timed(picture)
        guided, _, t_box = _timed(picture, box)
        share = f"{100 * auto.mean():.1f}" if auto is not None else "-"
        inside_pct = cover_pct = "-"
        if guided is not None:
            h, w = guided.shape
            inside = np.zeros_like(guided)
            inside[round(box[1] * h):round(box[3] * h), round(box[0] * w):round(box[2] * w)] = True
            inside_pct = f"{100 * (guided & inside).sum() / max(guided.sum(), 1):.1f}"
            cover_pct = f"{100 * guided[inside].mean():.1f}"
        box_text = ",".join(f"{v:g}" for v in box)
        print(f"{name:<10} {rgb.shape[1]}x{rgb.shape[0]:<5} | {outcome:<16} {share:>7} {t_auto:>6.2f} |"
              f" {box_text:<23} {inside_pct:>8} {cover_pct:>9} {t_box:>6.2f}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="640x480", help="generated scene size, WxH (default 640x480)")
    p.add_argument("--seeds", type=int, default=1, help="textures drawn per scene (default 1: 32 scenes)")
    args = p.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    _timed(_picture(scenes.scene("wood", "box", size=(160, 120))[0]))  # OpenCV's first call sets itself up
    start = time.perf_counter()
    generated((width, height), args.seeds)
    empty((width, height), args.seeds)
    photos()
    print(f"\nbenchmark wall time {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
