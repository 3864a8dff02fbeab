"""Engine speed: median in-process seconds per stage and end to end, start-up, export and batch.

    python -m benchmarks.engine_speed [--device auto|cpu|cuda] [--repeats N] [--faces N] [--no-process]

Cases: inflate of a 512×512 image, inflate of a 1024×1024 image (at resolution
1024, the premium tier), and carve of 8 views at 512×512. Each case runs once
to warm up (first-call costs: torch kernels, allocator, imports), which is
excluded from the medians, then ``--repeats`` times. "end to end" is the
``generate()`` call from encoded PNG bytes to GLB bytes and thumbnails.

Then: the export stage split into GLB writing and thumbnails; the command line
as whole processes (``--help``, an input error, one inflate at 512², the
medians of a few runs, wall and CPU seconds, the inflate split into generate()
and the start-up around it); and ``--batch`` on 24 images of
512² (images per second, whole process, torch imported once). With a GPU, run
again with ``--device cuda`` for its figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

# A sibling benchmark named like a standard module (queue.py) would shadow it.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import io  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from core.generation import GenerationOptions, generate  # noqa: E402
from core.generation.engine import STAGES  # noqa: E402


def figure(size: int) -> bytes:
    """A shaded figure (body, head, arm) with alpha: a typical single-object upload."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    body = (xx - 0.45) ** 2 / 0.2**2 + (yy - 0.6) ** 2 / 0.28**2 <= 1
    head = (xx - 0.45) ** 2 + (yy - 0.22) ** 2 <= 0.12**2
    arm = (np.abs(yy - 0.5) < 0.05) & (xx > 0.45) & (xx < 0.9)
    mask = body | head | arm
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., 0] = (120 + 100 * xx).astype(np.uint8)
    rgba[..., 1] = (60 + 120 * yy).astype(np.uint8)
    rgba[..., 2] = 90
    rgba[..., 3] = mask * 255
    return _png(rgba)


def turntable(views: int, size: int) -> list[bytes]:
    """Plain-background views of a capsule-and-ball object, orthographic, per the conventions."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    out = []
    for i in range(views):
        a = math.radians(360.0 * i / views)
        right = np.array([math.cos(a), 0.0, -math.sin(a)])
        centre = (size - 1) / 2
        mask = np.zeros((size, size), bool)
        # A vertical capsule on the axis and a ball off to one side.
        mask |= (np.abs(xx - centre) <= 0.18 * size) & (np.abs(yy - centre) <= 0.25 * size)
        mask |= (xx - centre) ** 2 + (yy - (centre - 0.25 * size)) ** 2 <= (0.18 * size) ** 2
        mask |= (xx - centre) ** 2 + (yy - (centre + 0.25 * size)) ** 2 <= (0.18 * size) ** 2
        u = float(np.dot([0.22 * size, 0.0, 0.1 * size], right))
        mask |= (xx - centre - u) ** 2 + (yy - centre) ** 2 <= (0.12 * size) ** 2
        rgb = np.full((size, size, 3), 236, np.uint8)
        rgb[mask] = (60 + 20 * i, 110, 170)
        out.append(_png(rgb))
    return out


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def measure(name: str, images: list[bytes], options: GenerationOptions, repeats: int) -> None:
    generate(images, options)  # warm-up, excluded
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = generate(images, options)
        wall = time.perf_counter() - t0
        runs.append((result.stats["seconds"], wall, result.stats))
    stages = {s: statistics.median(r[0][s] for r in runs) for s in STAGES}
    total = statistics.median(r[1] for r in runs)
    stats = runs[-1][2]
    cells = "  ".join(f"{s} {v * 1000:6.1f}" for s, v in stages.items())
    print(f"{name:<22} {cells}  | end-to-end {total * 1000:7.1f} ms  (min {min(r[1] for r in runs) * 1000:.1f})"
          f"  faces {stats['faces']} watertight {stats['watertight']} device {stats['device']}")


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def export_split(repeats: int, device: str) -> None:
    """The export stage's two parts for inflate 512²: the GLB, and the three thumbnails."""
    from core.generation import render
    from core.generation.export import to_glb

    result = generate([figure(512)], GenerationOptions(mode="inflate", resolution=512, device=device))
    mesh = result.mesh
    glb = _median_ms(lambda: to_glb(mesh), repeats)
    thumbs = _median_ms(lambda: render.thumbnails(mesh), repeats)
    print(f"export of inflate 512x512 ({len(mesh.faces)} faces): GLB {glb:.1f} ms, thumbnails {thumbs:.1f} ms"
          " (the CLI and --batch skip thumbnails unless --thumbnails is given)")


def _process(args: list[str], repeats: int) -> tuple[float, float, float | None]:
    """Median wall and CPU (user + system) seconds of ``python -m core.generation ARGS``, and with ``--stats``
    among ARGS the median of the run's own ``total_seconds`` (the engine's work, after the imports)."""
    import json
    import resource
    import subprocess

    walls, cpus, engine = [], [], []
    root = str(_HERE.parent)
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "core.generation", *args], cwd=root, capture_output=True,
                              text=True, check=False)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if "--stats" in args and done.returncode == 0:
            engine.append(json.loads(done.stdout.strip().splitlines()[-1])["total_seconds"])
    return statistics.median(walls), statistics.median(cpus), statistics.median(engine) if engine else None


def command_line(repeats: int, device: str) -> None:
    import json
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "figure.png").write_bytes(figure(512))
        (d / "empty.png").write_bytes(b"")
        cases = [
            ("--help", ["--help"]),
            ("input error (empty file)", [str(d / "empty.png"), "-o", str(d / "x.glb")]),
            ("one inflate 512x512", [str(d / "figure.png"), "-o", str(d / "out.glb"), "--device", device, "--stats"]),
        ]
        for name, args in cases:
            wall, cpu, engine = _process(args, repeats)
            # The split: the engine's own figure (generate(), first call in the process, its lazy imports
            # included) and the rest (interpreter, imports before generate(), reading and writing files).
            split = "" if engine is None else f"  (generate {engine:.2f} s, start-up and files {wall - engine:.2f} s)"
            print(f"process: {name:<26} wall {wall:6.2f} s  cpu {cpu:6.2f} s{split}")
        src = d / "batch"
        src.mkdir()
        for i in range(24):
            (src / f"img{i:02d}.png").write_bytes(figure(512) if i % 2 == 0 else turntable(1, 512)[0])
        jobs_options = (1, os.cpu_count() or 1) if device == "cpu" and (os.cpu_count() or 1) > 1 else (1,)
        for jobs in jobs_options:
            t0 = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "core.generation", "--batch", str(src), "-o", str(d / f"out{jobs}"), "--stats",
                 "--mode", "inflate", "--device", device, "--jobs", str(jobs)],
                cwd=str(_HERE.parent), capture_output=True, text=True, check=False,
            )
            wall = time.perf_counter() - t0
            summary = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"process: --batch 24 inflate 512x512 --jobs {jobs}   {summary['images_per_second']:.2f} images/s "
                  f"in the loop, {24 / wall:.2f} images/s for the whole process ({wall:.1f} s), "
                  f"{summary['written']} written")


def main() -> None:
    p = argparse.ArgumentParser(description="Median engine timings per stage (ms).")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--faces", type=int, default=50_000)
    p.add_argument("--no-process", action="store_true", help="skip the whole-process and batch figures")
    args = p.parse_args()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    threads = os.environ.get("VORM_TORCH_THREADS", "default")
    cpu = platform.processor() or platform.machine()
    print(f"engine speed: torch {torch.__version__}, {os.cpu_count()} CPUs ({cpu}), GPU {gpu},"
          f" VORM_TORCH_THREADS={threads}, medians of {args.repeats} after one warm-up run")
    base = {"faces": args.faces, "device": args.device}
    cases = [
        ("inflate 512x512", [figure(512)], GenerationOptions(mode="inflate", resolution=512, **base)),
        ("inflate 1024x1024", [figure(1024)], GenerationOptions(mode="inflate", resolution=1024, **base)),
        ("carve 8x512x512", turntable(8, 512), GenerationOptions(mode="carve", resolution=512, **base)),
    ]
    for name, images, options in cases:
        measure(name, images, options, args.repeats)
    export_split(args.repeats, args.device)
    if not args.no_process:
        command_line(min(args.repeats, 5), args.device)


if __name__ == "__main__":
    main()
