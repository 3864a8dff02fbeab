"""Command line: ``python -m core.generation INPUT [INPUT ...] -o OUT.glb``.

Exit status 0 with the file written; on bad input, status 2 and one line on
stderr, and nothing written (files are written to a temporary name in the
same folder and renamed when complete).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

from core.errors import VormError
from core.generation.options import DEVICES, MODES, GenerationOptions

FORMATS = ("glb", "obj", "stl", "ply", "3mf")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m core.generation", description="Images in, a watertight 3D model out.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="PNG, JPEG or WebP; several for carve")
    p.add_argument("-o", "--output", required=True, help="OUT.glb | .obj | .stl | .ply | .3mf")
    p.add_argument("--mode", choices=MODES, default="auto")
    p.add_argument("--faces", type=int, default=50_000, help="target triangle count (default 50000)")
    p.add_argument("--resolution", type=int, default=512, help="longest image side processed, px")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--size-mm", type=float, default=None, help="print size of the largest extent, mm")
    p.add_argument("--fov", type=float, default=None, help="carve: camera field of view in degrees")
    p.add_argument("--lithophane", action="store_true", help="relief: dark is thick")
    p.add_argument("--relief-base-mm", type=float, default=2.0)
    p.add_argument("--relief-height-mm", type=float, default=5.0)
    p.add_argument("--min-thickness", type=float, default=0.01,
                   help="thinnest part as a fraction of the largest extent; thinner parts are thickened (0.01)")
    p.add_argument("--min-thickness-mm", type=float, default=0.8, help="with --size-mm: thinnest part in mm (0.8)")
    p.add_argument("--thumbnails", metavar="DIR", default=None, help="also write PNG thumbnails here")
    p.add_argument("--stats", action="store_true", help="print the run's figures as JSON")
    return p


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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out = Path(args.output)
    fmt = out.suffix.lower().lstrip(".")
    try:
        if fmt not in FORMATS:
            from core.generation.errors import UnsupportedFormat

            raise UnsupportedFormat()
        images = []
        for name in args.inputs:
            try:
                images.append(Path(name).read_bytes())
            except OSError as err:
                raise VormError(f"Cannot read {name}: {err.strerror or err}.") from err
        options = GenerationOptions(
            mode=args.mode,
            faces=args.faces,
            resolution=args.resolution,
            device=args.device,
            size_mm=args.size_mm,
            fov_deg=args.fov,
            lithophane=args.lithophane,
            relief_base_mm=args.relief_base_mm,
            relief_height_mm=args.relief_height_mm,
            min_thickness=args.min_thickness,
            min_thickness_mm=args.min_thickness_mm,
        )
        from core.generation.engine import generate
        from core.generation.export import export_mesh

        result = generate(images, options)
        files: dict[Path, bytes] = {}
        if fmt == "glb":
            files[out] = result.glb
        else:
            for name, data in export_mesh(result.mesh, fmt, name=out.stem).items():
                files[out.with_name(name)] = data
        if args.thumbnails:
            for view, png in result.thumbnails.items():
                files[Path(args.thumbnails) / f"{view}.png"] = png
        _write_atomically(files)
    except VormError as err:
        print(f"error: {err}", file=sys.stderr)
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


if __name__ == "__main__":
    raise SystemExit(main())
