"""The real web process for HTTP and websocket tests: ``streamlit run app.py``, started the plain way.

Plain means as Streamlit's docs, most hosts and most people start an app: a port and headless,
no ``--server.address`` and no ``PUBLIC_URL``. ``make run`` passes an address, so a start that
only works with one (issue 17 §0) never showed in its tests. The fixture ``web_server``
(tests/conftest.py) wraps ``start_web_server``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from functools import cache
from pathlib import Path

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 60.0


class WebServer:
    def __init__(self, url: str, env: dict[str, str], proc: subprocess.Popen, log: Path) -> None:
        self.url = url  # how the tests reach it: the loopback address, on the port it listens on
        self.env = env
        self.proc = proc
        self.log = log

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def rss_bytes(self) -> int:
        """The web process's resident memory now (Linux /proc)."""
        with open(f"/proc/{self.proc.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")


def _without_vorm_settings(environ: os._Environ[str] | dict[str, str]) -> dict[str, str]:
    """The test process's environment less Vorm's settings: earlier tests (the e2e product's database
    sessions) may have set SECRET_KEY, PUBLIC_URL and the like there, and a server started here must
    see only what its test asks for."""
    from core.config import Settings

    names = {name.upper() for name in Settings.model_fields}
    return {k: v for k, v in environ.items() if k.upper() not in names}


@cache
def _migrated_sqlite_template() -> Path:
    """One SQLite database migrated to head, made once per test process (removed at its exit)."""
    from core.db import migrate

    folder = Path(tempfile.mkdtemp(prefix="vorm-migrated-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    migrate(f"sqlite:///{folder / 'vorm.db'}")
    return folder / "vorm.db"


def migrated_database(url: str) -> None:
    """What ``python -m core.manage migrate`` does to ``url``, without a Python process per start.

    A fresh SQLite file is a copy of one migrated database; any other database is migrated in this
    process. The subprocess took two thirds of each web process's start (seconds on a busy machine).
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_migrated_sqlite_template(), parsed.database)
    else:
        from core.db import migrate

        migrate(url)


def start_web_server(root: Path, *, launcher: list[str] | None = None, **overrides: str) -> WebServer:
    """Start ``streamlit run app.py --server.headless true --server.port N`` with its data under ``root``.

    No ``--server.address`` and, unless the caller passes one, no ``PUBLIC_URL``. The caller stops
    it (``stop_web_server``). ``launcher`` replaces the ``streamlit`` command (benchmarks/profiled_web.py).
    """
    port = free_port()
    data = root / f"web-{port}"
    data.mkdir()
    env = {
        **_without_vorm_settings(os.environ),
        "ENVIRONMENT": "test",
        "DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'vorm.db'}",
        "STORAGE_BACKEND": "local",
        "STORAGE_DIR": str(data / "storage"),
        "VORM_SECRETS_FILE": "/nonexistent/secrets.toml",
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }
    log = data / "web.log"
    migrated_database(env["DATABASE_URL"])
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [*(launcher or [str(Path(sys.executable).with_name("streamlit"))]), "run", "app.py",
             "--server.headless", "true", "--server.port", str(port), "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = WebServer(f"http://127.0.0.1:{port}", env, proc, log)
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the web process exited at start; see {log}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    stop_web_server(server)
    raise RuntimeError(f"/healthz did not answer within {STARTUP_TIMEOUT_SECONDS}s; see {log}")


def stop_web_server(server: WebServer) -> None:
    if server.proc.poll() is None:
        os.killpg(server.proc.pid, signal.SIGTERM)
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.proc.pid, signal.SIGKILL)
