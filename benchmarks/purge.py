"""Benchmark the retention purge: N expired models (rows plus local objects), purged in one run.

    .venv/bin/python benchmarks/purge.py [--models 100000] [--files-per-model 2] [--database-url URL]

Prints models/s, objects/s and memory: the peak RSS growth during the purge (sampled) and,
with --tracemalloc, the peak of Python allocations. Run it with two sizes to see that memory
does not grow with the count. The default database is a fresh SQLite file in a temp folder;
pass a PostgreSQL URL (an empty database) to measure that instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

# Run as a script, this folder would come first on sys.path, and a sibling named like a stdlib module
# (benchmarks/queue.py) would shadow it; the repository root goes there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

INSERT_CHUNK = 10_000
USERS = 50


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = rss_bytes()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--files-per-model", type=int, default=2, help="objects per model (model.glb, thumb, ...)")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vorm-purge-bench-"))
    os.environ["VORM_SECRETS_FILE"] = "/nonexistent"
    os.environ["DATA_DIR"] = str(tmp)
    os.environ["STORAGE_BACKEND"] = "local"
    os.environ["STORAGE_DIR"] = str(tmp / "storage")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{tmp / 'bench.db'}"

    from core.db import get_engine, get_session, migrate
    from core.models import Model3D, User, utcnow
    from core.privacy import retention
    from core.storage import get_storage

    migrate()
    engine = get_engine()
    now = utcnow()
    old = now - timedelta(days=45)
    storage_root = tmp / "storage"
    names = ["model.glb", "thumb_front.png", "model.stl", "model.obj", "preview.json"][: max(1, args.files_per_model)]

    t0 = time.perf_counter()
    users = User.__table__  # type: ignore[attr-defined]
    models = Model3D.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(users.insert(), [
            {"email": f"bench{i}@example.org", "name": "", "locale": "en", "password_hash": "!", "role": "user",
             "plan": "free", "failed_logins": 0, "created_at": old, "updated_at": old} for i in range(USERS)])
        user_ids = [r.id for r in conn.execute(users.select().order_by(users.c.id))]
    made = 0
    while made < args.models:
        batch = []
        for i in range(made, min(made + INSERT_CHUNK, args.models)):
            uid = user_ids[i % USERS]
            prefix = f"users/{uid}/models/b{i}/"
            batch.append({"user_id": uid, "name": f"m{i}", "mode": "inflate", "storage_prefix": prefix,
                          "glb_key": prefix + "model.glb", "preview_key": None, "faces": 0, "watertight": True,
                          "thumbnail_keys": {"front": prefix + "thumb_front.png"} if len(names) > 1 else {},
                          "extents": [], "stats": {}, "created_at": old})
            folder = storage_root / prefix
            folder.mkdir(parents=True, exist_ok=True)
            for name in names:
                (folder / name).write_bytes(b"x")
        with engine.begin() as conn:
            conn.execute(models.insert(), batch)
        made += len(batch)
    setup_s = time.perf_counter() - t0
    objects_before = sum(len(files) for _d, _s, files in os.walk(storage_root))
    print(f"setup: {args.models} expired models, {objects_before} objects, {USERS} users, "
          f"{engine.dialect.name}, {setup_s:.1f}s")

    sampler = PeakRSS()
    rss_before = rss_bytes()
    sampler.start()
    if args.tracemalloc:
        tracemalloc.start()
    t0 = time.perf_counter()
    with get_session() as session:
        result = retention.purge_expired(session, now=now, storage=get_storage())
    elapsed = time.perf_counter() - t0
    traced_peak = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
    sampler.stop.set()
    sampler.join()

    left_rows = engine.connect().execute(models.select().with_only_columns(models.c.id).limit(1)).first()
    left_objects = sum(len(files) for _d, _s, files in os.walk(storage_root))
    print(f"purged: {result.models} models, {result.objects} objects in {elapsed:.2f}s")
    print(f"rate: {result.models / elapsed:,.0f} models/s, {result.objects / elapsed:,.0f} objects/s")
    print(f"memory: RSS before {rss_before / 2**20:.1f} MiB, peak {sampler.peak / 2**20:.1f} MiB "
          f"(+{(sampler.peak - rss_before) / 2**20:.1f} MiB)"
          + (f"; tracemalloc peak {traced_peak / 2**20:.1f} MiB" if traced_peak is not None else ""))
    print(f"left behind: {0 if left_rows is None else 'rows!'} rows, {left_objects} objects")
    return 0 if left_rows is None and left_objects == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
