"""What the web-process benchmarks share: the real ``streamlit run app.py`` on a throwaway database,
logged-in users seeded through core, and the process's resident memory sampled in the background.

benchmarks/load.py and benchmarks/upload_memory.py drive it with ``tests.utils.streamlit_ws``'s
``AsyncStreamlitClient``, one websocket per browser tab, as the frontend speaks to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024
SECRET_KEY = "benchmark-secret-key-0123456789abcdef"
PASSWORD = "benchmark-password-123"
PREVIEW_SUBDIVISIONS = 4  # an icosphere of 5,120 triangles: a model preview near the engine's 6,000 cap


@dataclass(frozen=True)
class SeededUser:
    id: int
    plan: str
    token: str  #: the login cookie's value
    model_id: int


def rss_bytes(pid: int) -> int:
    """A process's resident memory now (Linux /proc)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class RssSampler:
    """Samples a process's RSS every ``interval`` seconds on a thread; ``peak`` since the last ``reset``."""

    def __init__(self, pid: int, interval: float) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, RuntimeError):
                self.peak = max(self.peak, rss_bytes(self.pid))
            self._stop.wait(self.interval)

    def reset(self) -> None:
        self.peak = rss_bytes(self.pid)

    def __enter__(self) -> RssSampler:
        self.reset()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def web_process(root: Path, *, postgres: bool, profile: Path | None = None, **env: str) -> Iterator[object]:
    """The real web process (tests/utils/web_server.py), on a fresh PostgreSQL database or SQLite;
    this process points core at the same database, storage and key, so it can seed. ``profile``:
    every script run is profiled into that pstats file (benchmarks/profiled_web.py)."""
    from tests.conftest import create_pg_database, drop_pg_database
    from tests.utils.web_server import start_web_server, stop_web_server

    url = create_pg_database("vorm_bench") if postgres else None
    server = None
    try:
        launcher = [sys.executable, "-m", "benchmarks.profiled_web", str(profile)] if profile else None
        server = start_web_server(root, launcher=launcher, SECRET_KEY=SECRET_KEY,
                                  **({"DATABASE_URL": url} if url else {}), **env)
        for key in ("DATABASE_URL", "DATA_DIR", "STORAGE_BACKEND", "STORAGE_DIR", "SECRET_KEY", "ENVIRONMENT",
                    "VORM_SECRETS_FILE"):
            os.environ[key] = server.env[key]
        from core.config import reset_settings
        from core.db import reset_engines
        from core.storage import reset_storage

        reset_settings()
        reset_engines()
        reset_storage()
        yield server
    finally:
        if server is not None:
            stop_web_server(server)
        from core.db import reset_engines

        reset_engines()
        if url:
            drop_pg_database(url)


def _preview_json() -> bytes:
    import trimesh

    mesh = trimesh.creation.icosphere(subdivisions=PREVIEW_SUBDIVISIONS)
    faces = [{"polygon": [[round(float(c), 4) for c in mesh.vertices[i]] for i in face], "color": [200, 120, 60]}
             for face in mesh.faces]
    return json.dumps(faces).encode()


def _seed_one(n: int, plan: str, preview: bytes) -> SeededUser:
    from core.accounts import auth, sessions
    from core.db import get_session
    from core.models import Model3D
    from core.privacy import policy
    from core.storage import get_storage

    with get_session() as session:
        user = auth.create_user(session, email=f"load-{n}-{time.time_ns()}@example.org", password=PASSWORD,
                                name=f"Load {n}", plan=plan, accepted_policy=policy.current().version)
        session.commit()
        prefix = f"users/{user.id}/models/m1"
        model = Model3D(user_id=user.id, name=f"teapot {n}", mode="inflate", storage_prefix=prefix,
                        glb_key=f"{prefix}/model.glb", preview_key=f"{prefix}/preview.json", faces=5120,
                        watertight=True, extents=[1.0, 1.0, 1.0])
        session.add(model)
        session.commit()
        get_storage().put(f"{prefix}/preview.json", preview, content_type="application/json")
        token = sessions.create_session(session, user=user)
        return SeededUser(id=int(user.id or 0), plan=plan, token=token, model_id=int(model.id or 0))


def seed_users(count: int, *, premium_every: int = 0) -> list[SeededUser]:
    """``count`` users, each logged in (a session token) and owning one model with a viewer preview.
    Every ``premium_every``-th is premium (0: none; 1: all). They log in by session token, never by
    password: all share one bcrypt hash, made once (a hash each took a minute for a hundred users)."""
    from unittest import mock

    from core.accounts import auth

    preview = _preview_json()
    password_hash = auth.hash_password(PASSWORD)
    plans = ["premium" if premium_every and n % premium_every == 0 else "free" for n in range(count)]
    with mock.patch.object(auth, "hash_password", lambda _password: password_hash), \
            ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda a: _seed_one(a[0], a[1], preview), enumerate(plans)))
