"""A trivial, fast engine for queue and worker tests (``VORM_ENGINE_PLUGINS=tests.jobs.fast_engine``).

The concurrency, crash and shutdown tests are about the queue, not about geometry, so
they use this engine to keep 200 jobs within seconds. It does not decode images: the
"image" bytes are instructions.

- ``b"crash"``: raises RuntimeError (an engine crash, every time);
- ``b"sleep:S"``: takes S seconds, reporting progress along the way;
- anything else: a small box at once.
"""

from __future__ import annotations

import io
import time

import trimesh
from PIL import Image

from core.generation import GenerationOptions, GenerationResult, register_engine


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 120, 40)).save(buf, format="PNG")
    return buf.getvalue()


class FastEngine:
    def run(self, images: list[bytes], options: GenerationOptions, progress) -> GenerationResult:  # type: ignore[no-untyped-def]
        first = images[0]
        if first == b"crash":
            raise RuntimeError("the fast engine was told to crash")
        if first.startswith(b"sleep:"):
            seconds = float(first.split(b":", 1)[1])
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                time.sleep(0.05)
                progress("solve", min(0.99, 1 - (end - time.monotonic()) / seconds))
        mesh = trimesh.creation.box(extents=(1.0, 0.5, 0.25))
        progress("export", 1.0)
        return GenerationResult(mesh=mesh, glb=mesh.export(file_type="glb"), thumbnails={"front": _png()},
                                stats={"engine": "fast", "device": "cpu", "seconds": {"export": 0.0},
                                       "faces": len(mesh.faces), "watertight": True,
                                       "extents": [1.0, 0.5, 0.25]})


register_engine("fast", FastEngine())
