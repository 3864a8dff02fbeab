"""Command line: ``python -m core.generation INPUT [INPUT ...] -o OUT.glb``.

Exit status 0 with the file written; on bad input, status 2 and one line on
stderr, and nothing written (files are written to a temporary name in the
same folder and renamed when complete).

``--batch IN_DIR -o OUT_DIR [--format glb]`` makes one model per image in
IN_DIR (PNG, JPEG, WebP) in one process, ``OUT_DIR/<name>.<format>``, with a
progress bar on stderr and a summary on stdout; an image that fails gets one
``error:`` line and the rest go on. Exit status 0 when every image made a model,
2 when some were refused, 1 when some failed inside the engine.

``--box X0,Y0,X1,Y1`` (fractions of the image's width and height) marks the
object in a photo with a busy background, for inflate; without it such a photo
is segmented automatically or refused with a request for a box.

Imports are lazy: ``--help`` and input errors answer before torch, trimesh and
SciPy are loaded, and an inflate or relief on the CPU loads neither torch nor
trimesh (about 0.6 s for a whole run at 512 px instead of 2.5).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

from core.errors import VormError
from core.generation.options import DEVICES, MODES, GenerationOptions

FORMATS = ("glb", "obj", "stl", "ply", "3mf")
#: What this interface offers where a refusal names a remedy (core.errors.REMEDIES).
REMEDIES = {"box_remedy": "Give --box X0,Y0,X1,Y1 around the object (fractions of the image's width and height)"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> _Parser:
    p = _Parser(prog="python -m core.generation", description="Images in, a watertight 3D model out.")
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="PNG, JPEG or WebP; several for carve")
    p.add_argument("-o", "--output", required=True,
                   help="OUT.glb | .obj | .stl | .ply | .3mf; with --batch, the output folder")
    p.add_argument("--batch", metavar="IN_DIR", default=None,
                   help="one model per image in IN_DIR, written to the -o folder")
    p.add_argument("--format", choices=FORMATS, default="glb", help="with --batch: the output format (glb)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="with --batch: images made at once, in N processes (1; the number of cores is fastest)")
    p.add_argument("--mode", choices=MODES, default="auto")
    p.add_argument("--faces", type=int, default=50_000, help="target triangle count (default 50000)")
    p.add_argument("--resolution", type=int, default=512, help="longest image side processed, px")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--size-mm", type=float, default=None, help="print size of the largest extent, mm")
    p.add_argument("--fov", type=float, default=None, help="carve: camera field of view in degrees")
    p.add_argument("--elevation", type=float, default=0.0,
                   help="carve: camera height above the turntable's plane in degrees, 0 (level) to 60")
    p.add_argument("--lithophane", action="store_true", help="relief: dark is thick")
    p.add_argument("--relief-base-mm", type=float, default=2.0)
    p.add_argument("--relief-height-mm", type=float, default=5.0)
    p.add_argument("--min-thickness", type=float, default=0.01,
                   help="thinnest part as a fraction of the largest extent; thinner parts are thickened (0.01)")
    p.add_argument("--min-thickness-mm", type=float, default=0.8, help="with --size-mm: thinnest part in mm (0.8)")
    p.add_argument("--box", metavar="X0,Y0,X1,Y1", type=_box, default=None,
                   help="inflate: a box around the object as fractions of the image's width and height, "
                        "e.g. 0.2,0.1,0.8,0.95; the object is segmented inside it (for photos with a busy background)")
    p.add_argument("--thumbnails", metavar="DIR", default=None, help="also write PNG thumbnails here")
    p.add_argument("--stats", action="store_true", help="print the run's figures as JSON")
    return p


def _box(text: str) -> list[float]:
    """``X0,Y0,X1,Y1`` as four numbers; their range is checked with the other options."""
    parts = [part.strip() for part in text.split(",")]
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 4:
        raise argparse.ArgumentTypeError(f"expected four numbers X0,Y0,X1,Y1 from 0 to 1, got {text!r}")
    return numbers


def _write_atomically(files: dict[Path, bytes]) -> None:
    """All files complete, or none left behind."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _options(args: argparse.Namespace, thumbnails: bool) -> GenerationOptions:
    options = GenerationOptions(
        mode=args.mode,
        faces=args.faces,
        resolution=args.resolution,
        device=args.device,
        size_mm=args.size_mm,
        fov_deg=args.fov,
        elevation_deg=args.elevation,
        lithophane=args.lithophane,
        relief_base_mm=args.relief_base_mm,
        relief_height_mm=args.relief_height_mm,
        min_thickness=args.min_thickness,
        min_thickness_mm=args.min_thickness_mm,
        thumbnails=thumbnails,
        box=args.box,
    )
    options.validate()
    return options


def _read(name: str | Path) -> bytes:
    try:
        return Path(name).read_bytes()
    except OSError as err:
        raise VormError(f"Cannot read {name}: {err.strerror or err}.") from err


def _model_files(result: Any, fmt: str, out: Path) -> dict[Path, bytes]:
    if fmt == "glb":
        return {out: result.glb}
    from core.generation.export import export_mesh

    return {out.with_name(name): data for name, data in export_mesh(result.mesh, fmt, name=out.stem).items()}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.batch is not None:
        if args.inputs:
            parser.error("give either INPUT files or --batch IN_DIR, not both")
        return batch(args)
    if not args.inputs:
        parser.error("give at least one INPUT image (or --batch IN_DIR)")
    out = Path(args.output)
    fmt = out.suffix.lower().lstrip(".")
    try:
        if fmt not in FORMATS:
            from core.generation.errors import UnsupportedFormat

            raise UnsupportedFormat()
        images = [_read(name) for name in args.inputs]
        options = _options(args, thumbnails=bool(args.thumbnails))
        # Input errors before the heavy imports: mode and view count, then each image's header and pixels.
        from core.generation.images import load_image
        from core.generation.modes import resolve_mode

        resolve_mode(options.mode, len(images), options.max_views)
        for data in images:
            load_image(data, options.max_pixels)
        from core.generation.engine import generate

        result = generate(images, options)
        files = _model_files(result, fmt, out)
        if args.thumbnails:
            for view, png in result.thumbnails.items():
                files[Path(args.thumbnails) / f"{view}.png"] = png
        _write_atomically(files)
    except VormError as err:
        print(f"error: {err.render('en', remedies=REMEDIES)}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: cannot write {out}: {err.strerror or err}", file=sys.stderr)
        return 1
    except Exception as err:  # a crash, not bad input: still one line, and nothing written
        print(f"error: internal failure ({type(err).__name__}: {err})", file=sys.stderr)
        return 1
    if args.stats:
        print(json.dumps(result.stats))
    else:
        s = result.stats
        print(f"wrote {out} ({s['faces']} faces, watertight={s['watertight']}, {s['total_seconds']:.2f} s)")
    return 0


class _Progress:
    """A one-line bar on a terminal; one line per image otherwise (logs, pipes)."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.start = total, 0, time.perf_counter()
        self.tty = sys.stderr.isatty()

    def step(self, name: str, outcome: str) -> None:
        self.done += 1
        rate = self.done / max(time.perf_counter() - self.start, 1e-9)
        width = 30
        filled = round(width * self.done / max(self.total, 1))
        bar = f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {rate:.1f} images/s"
        if self.tty:
            end = "\n" if self.done == self.total else ""
            print(f"\r{bar} {name[:30]:<30}", end=end, file=sys.stderr, flush=True)
        else:
            print(f"{bar} {name}: {outcome}", file=sys.stderr, flush=True)

    def note(self, line: str) -> None:
        print(("\r\033[K" if self.tty else "") + line, file=sys.stderr, flush=True)


def _batch_worker() -> None:
    """A batch worker process: one core each, so two processes use two cores without contention."""
    # torch is loaded only if a job needs it (CUDA, thumbnails); then with one thread.
    os.environ["VORM_TORCH_THREADS"] = "1"
    import core.generation.engine  # noqa: F401 - imported once per worker, not per image


def _batch_one(path: Path, out_dir: Path, fmt: str, options: GenerationOptions,
               thumbnails: str | None) -> tuple[str, str, str]:
    """Make one image's model and write it; ``(name, "ok" | "refused" | "failed", message)``."""
    from core.generation.engine import generate

    out = out_dir / f"{path.stem}.{fmt}"
    try:
        result = generate([_read(path)], options)
        files = _model_files(result, fmt, out)
        if thumbnails:
            for view, png in result.thumbnails.items():
                files[Path(thumbnails) / path.stem / f"{view}.png"] = png
        _write_atomically(files)
    except VormError as err:
        return path.name, "refused", err.render("en", remedies=REMEDIES)
    except Exception as err:  # one image's crash does not stop the batch
        return path.name, "failed", f"internal failure ({type(err).__name__}: {err})"
    return path.name, "ok", ""


def batch(args: argparse.Namespace) -> int:
    """One model per image of a folder, in this process (the engine is imported once)."""
    in_dir, out_dir = Path(args.batch), Path(args.output)
    fmt = args.format
    try:
        if not in_dir.is_dir():
            raise VormError(f"{in_dir} is not a folder.")
        names = sorted(p for p in in_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not names:
            raise VormError(f"No PNG, JPEG or WebP images in {in_dir}.")
        if args.mode == "carve":
            raise VormError("Batch mode makes one model per image: use inflate, relief or auto, not carve.")
        if args.jobs < 1:
            raise VormError("--jobs must be 1 or more.")
        options = _options(args, thumbnails=bool(args.thumbnails))
    except VormError as err:
        print(f"error: {err.render('en', remedies=REMEDIES)}", file=sys.stderr)
        return 2
    progress = _Progress(len(names))
    written = refused = failed = 0
    start = time.perf_counter()
    jobs = max(1, min(args.jobs, len(names)))
    if jobs == 1:
        outcomes: Any = (_batch_one(path, out_dir, fmt, options, args.thumbnails) for path in names)
        pool = None
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # Forked before torch could be imported here (it is not safe to fork after its thread
        # pools start); each worker imports the engine once and uses one core.
        pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"), initializer=_batch_worker)
        outcomes = pool.map(_batch_one, names, [out_dir] * len(names), [fmt] * len(names),
                            [options] * len(names), [args.thumbnails] * len(names))
    try:
        for name, outcome, message in outcomes:
            if outcome == "ok":
                written += 1
            else:
                refused += outcome == "refused"
                failed += outcome == "failed"
                progress.note(f"error: {name}: {message}")
            progress.step(name, outcome)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    seconds = time.perf_counter() - start
    summary = {"images": len(names), "written": written, "refused": refused, "failed": failed,
               "seconds": round(seconds, 3), "images_per_second": round(len(names) / max(seconds, 1e-9), 2)}
    if args.stats:
        print(json.dumps(summary))
    else:
        print(f"batch: {written} written, {refused} refused, {failed} failed in {seconds:.1f} s"
              f" ({summary['images_per_second']} images/s) to {out_dir}")
    return 1 if failed else (2 if refused else 0)


if __name__ == "__main__":
    raise SystemExit(main())
