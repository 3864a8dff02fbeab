"""Benchmark decode amplification: memory and time of validating and previewing one upload.

    .venv/bin/python -m benchmarks.upload_bomb [--case NAME ...]

Each case runs in a fresh subprocess: it imports what the upload page imports and reads the
file, records its resident memory (the baseline), resets the kernel's peak-RSS mark
(``/proc/self/clear_refs``, so the imports' own transient peak does not hide the upload's),
then runs ``validate_upload`` and ``mask_preview``. The peak is the child's
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` afterwards; "added" is peak minus baseline,
what one upload costs the web process. Cases:

- ``1bit-23mp``: a 1-bit PNG of 23 megapixels, about 8 KB on disk (the review's bomb);
- ``rgb-free-max``: the free plan's largest accepted image, an RGB PNG of noise just under 24 MP;
- ``jpeg-wide``: a JPEG of extreme dimensions that the free plan still accepts (24,000 × 990);
- ``jpeg-huge``: a JPEG whose header declares 60,000 × 60,000 (refused from the header);
- ``rgba-premium-max``: premium's largest, an RGBA PNG just under 36 MP with a transparent border,
  EXIF-rotated (the decoded image is copied once to turn it upright).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

CASES = ("1bit-23mp", "rgb-free-max", "jpeg-wide", "jpeg-huge", "rgba-premium-max")


def make_case(name: str) -> tuple[bytes, str]:
    """The file's bytes and the plan it is uploaded under."""
    import numpy as np
    from PIL import Image, ImageDraw

    buf = io.BytesIO()
    if name == "1bit-23mp":
        image = Image.new("1", (5600, 4100), 1)
        ImageDraw.Draw(image).ellipse((1500, 1000, 4100, 3100), fill=0)
        image.save(buf, "PNG", optimize=True)
        return buf.getvalue(), "free"
    if name == "rgb-free-max":
        rng = np.random.default_rng(1)
        # Compressible enough for the 10 MB free upload limit: a flat background with a noisy object.
        h, w = 4000, 5990
        pixels = np.full((h, w, 3), 236, np.uint8)
        pixels[1000:3000, 1500:4500] = rng.integers(0, 256, (2000, 3000, 3), np.uint8) // 64 * 64
        Image.fromarray(pixels).save(buf, "PNG", compress_level=9)
        return buf.getvalue(), "free"
    if name == "jpeg-wide":
        image = Image.new("RGB", (24000, 990), (235, 238, 242))
        ImageDraw.Draw(image).ellipse((9000, 100, 15000, 890), fill=(200, 60, 30))
        image.save(buf, "JPEG", quality=80)
        return buf.getvalue(), "free"
    if name == "jpeg-huge":
        image = Image.new("RGB", (64, 64), (235, 238, 242))
        image.save(buf, "JPEG", quality=80)
        data = bytearray(buf.getvalue())
        sof = data.index(b"\xff\xc0")  # baseline SOF0: height and width follow the precision byte
        data[sof + 5:sof + 9] = (60000).to_bytes(2, "big") + (60000).to_bytes(2, "big")
        return bytes(data), "premium"
    if name == "rgba-premium-max":
        h, w = 5100, 7050  # just under premium's 36 MP
        image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        ImageDraw.Draw(image).ellipse((1000, 800, 6000, 4400), fill=(40, 120, 220, 255))
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate to display: the upright copy is made once
        image.save(buf, "PNG", exif=exif)
        return buf.getvalue(), "premium"
    raise SystemExit(f"unknown case {name}")


def child(path: str, plan: str) -> None:
    """Run in the subprocess: one validation and preview, figures as JSON on stdout."""
    import resource

    from core.content import uploads
    from core.errors import VormError
    from core.generation import images  # noqa: F401  (the page imports it before the first upload)

    data = Path(path).read_bytes()
    with open("/proc/self/statm") as fh:
        base_kb = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset the peak-RSS mark (VmHWM, which ru_maxrss reports) to the current RSS
    except OSError:
        pass  # without it the peak may be the imports' own; "added" is then a lower bound
    start = time.perf_counter()
    outcome = "accepted"
    try:
        v = uploads.validate_upload(data, filename=Path(path).name, plan=plan)
        validated_s = time.perf_counter() - start
        uploads.mask_preview(v.image)
    except VormError as exc:
        outcome = f"refused ({type(exc).__name__})"
        validated_s = time.perf_counter() - start
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"outcome": outcome, "base_mb": base_kb / 1024, "peak_mb": peak_kb / 1024,
                      "validate_s": validated_s, "total_s": seconds}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=CASES, help="run only these (repeatable)")
    parser.add_argument("--child", nargs=2, metavar=("FILE", "PLAN"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    import tempfile

    print(f"{'case':<18} {'file':>9} {'plan':<8} {'outcome':<26} {'baseline':>9} {'peak':>9} {'added':>9} "
          f"{'validate':>9} {'total':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.case or CASES:
            data, plan = make_case(name)
            path = Path(tmp) / f"{name}.img"
            path.write_bytes(data)
            proc = subprocess.run([sys.executable, "-m", "benchmarks.upload_bomb", "--child", str(path), plan],
                                  capture_output=True, text=True, cwd=_HERE.parent)
            if proc.returncode != 0:
                print(f"{name:<18} failed: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{name:<18} {len(data) / 1024:>7.0f}KB {plan:<8} {r['outcome']:<26} {r['base_mb']:>7.0f}MB "
                  f"{r['peak_mb']:>7.0f}MB {r['peak_mb'] - r['base_mb']:>7.0f}MB {r['validate_s']:>8.2f}s "
                  f"{r['total_s']:>7.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
