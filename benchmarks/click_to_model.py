"""Click to model: from "Make my 3D model" to the model drawn in the browser, with the real processes.

    .venv/bin/python -m benchmarks.click_to_model [--repeats 5] [--postgres] [--size 512]

Starts ``streamlit run app.py`` and ``python -m jobs.worker`` as the README does (SQLite in a temp
folder by default; ``--postgres`` makes a fresh database on PostgreSQL at 127.0.0.1:5432, user
postgres), registers in headless Chromium (Playwright, /usr/bin/chromium), and then, ``--repeats``
times: uploads a ``--size``² picture of one object, waits until its preview is shown, presses
"Make my 3D model" and times:

- **click to model**: the click until the viewer's canvas shows the model. Where the result offers
  only "Open the model" (no viewer: no "Drag to turn the model" caption), the link is followed at
  once (as an eager user would), and that time counts too.
- **open to drawn**: "Open the model" pressed (on the result) until the model page's viewer drew;
  and **load to drawn**: a fresh load of the model page's address until its viewer drew.

"Drew" means a screenshot of the deck.gl canvas (``stDeckGlJsonChart canvas``) differs from its
background colour in more than 2% of its pixels; the time is the middle of the first such
screenshot call (a call takes tens of ms; the polls follow each other at once).

The click to model splits into: **enqueue** (the click until the job row's ``created_at``),
**claim wait** (``created_at`` to ``started_at``: the worker's poll), **job** (``started_at`` to
``finished_at``), **page notices** (``finished_at`` until the page shows the result) and **viewer**
(the result shown until the canvas drew). The processes share this machine's clock.

Also printed: the viewer's payload (the deck.gl JSON spec of the model page, bytes) and the
websocket bytes the browser received per phase.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from tests.e2e.test_journey import object_png, register, wait_app  # noqa: E402

ROOT = _HERE.parent
CHROMIUM = "/usr/bin/chromium"
CANVAS = "[data-testid='stDeckGlJsonChart'] canvas"
DRAWN_SHARE = 0.02  # of the canvas's pixels away from its background: the model is there
TIMEOUT_S = 120.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    """The web process and a worker on a fresh database and storage folder."""

    def __init__(self, base: Path, postgres: bool) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = ""
        if postgres:
            import sqlalchemy as sa

            self.database = f"vorm_click_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                                     isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{self.database}"'))
            admin.dispose()
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.database}"
        else:
            url = f"sqlite:///{base / 'data' / 'vorm.db'}"
        (base / "data").mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ, "ENVIRONMENT": "test", "DATA_DIR": str(base / "data"), "DATABASE_URL": url,
            "STORAGE_DIR": str(base / "storage"), "STORAGE_BACKEND": "local", "PUBLIC_URL": self.url,
            "SECRET_KEY": "click-to-model-secret-0123456789abcdef", "VORM_SECRETS_FILE": "/nonexistent/secrets.toml",
            "DEVICE": "cpu", "PYTHONUNBUFFERED": "1", "FREE_DAILY_GENERATIONS": "1000",
        }
        self.logs = base
        subprocess.run([sys.executable, "-m", "core.manage", "migrate"], cwd=ROOT, env=self.env, check=True,
                       capture_output=True)
        bin_dir = Path(sys.executable).parent
        self.web = subprocess.Popen(
            [str(bin_dir / "streamlit"), "run", "app.py", "--server.port", str(self.port), "--server.address",
             "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=self.env, stdout=open(base / "web.log", "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
            start_new_session=True)
        self.worker = subprocess.Popen([sys.executable, "-m", "jobs.worker"], cwd=ROOT, env=self.env,
                                       stdout=open(base / "worker.log", "w"),  # noqa: SIM115
                                       stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            self.stop()
            raise SystemExit(f"the web process did not start; see {base / 'web.log'}")
        for key in ("DATABASE_URL", "DATA_DIR", "STORAGE_DIR", "SECRET_KEY", "PUBLIC_URL"):
            os.environ[key] = self.env[key]

    def job(self, job_id: int) -> Any:
        from core.db import get_session
        from core.models import GenerationJob

        with get_session() as session:
            return session.get(GenerationJob, job_id)

    def last_job_id(self) -> int:
        import sqlalchemy as sa

        from core.db import get_session
        from core.models import GenerationJob

        with get_session() as session:
            return int(session.exec(sa.select(sa.func.max(GenerationJob.id))).one()[0] or 0)  # type: ignore[call-overload]

    def stop(self) -> None:
        for proc in (self.worker, self.web):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in (self.worker, self.web):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if self.database:
            import sqlalchemy as sa

            from core.db import reset_engines

            reset_engines()
            admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                                     isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
            admin.dispose()


def _drawn(page: Any, deadline: float) -> float:
    """The time (time.time) the viewer's canvas first showed the model."""
    canvas = page.locator(CANVAS).last
    while time.time() < deadline:
        before = time.time()
        try:
            png = canvas.screenshot(timeout=2_000, animations="allow")
        except Exception:  # noqa: BLE001 - not there yet, or redrawn by a rerun
            page.wait_for_timeout(20)
            continue
        after = time.time()
        rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)
        if rgb.size and (np.abs(rgb - rgb[2, 2]).sum(axis=2) > 30).mean() > DRAWN_SHARE:
            return (before + after) / 2
    raise TimeoutError("the viewer did not draw the model")


def _epoch(value: datetime | None) -> float:
    return value.timestamp() if value is not None else float("nan")


class Bytes:
    """Websocket bytes the page received, per phase."""

    def __init__(self, page: Any) -> None:
        self.received = 0
        self.largest = 0
        page.on("websocket", self._socket)

    def _socket(self, ws: Any) -> None:
        def frame(payload: Any) -> None:
            size = len(payload)
            self.received += size
            self.largest = max(self.largest, size)
        ws.on("framereceived", frame)

    def take(self) -> tuple[int, int]:
        out = (self.received, self.largest)
        self.received = self.largest = 0
        return out


def _register(page: Any, url: str) -> None:
    register(page, url, f"click-{uuid.uuid4().hex[:8]}@example.org")  # the e2e tests' registration


def one(page: Any, stack: Stack, picture: Path, traffic: Bytes) -> dict[str, float]:
    page.goto(stack.url + "/")
    page.get_by_role("heading", name="New model").wait_for()
    wait_app(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(picture))
    page.get_by_text(re.compile(r"Detected object \(\d+% of the image\)")).wait_for(timeout=60_000)
    wait_app(page)
    page.wait_for_timeout(500)
    wait_app(page)
    previous = stack.last_job_id()
    traffic.take()
    deadline = time.time() + TIMEOUT_S
    clicked = time.time()
    page.get_by_role("button", name="Make my 3D model").click()
    # The result: "… is ready." and a viewer on the page, or a link to the model page.
    page.get_by_text(re.compile(r"” is ready\.")).wait_for(timeout=TIMEOUT_S * 1000)
    noticed = time.time()
    # The link comes last in the result's run; a viewer before it leaves its caption there at once
    # (its canvas only once deck.gl has loaded).
    page.get_by_role("link", name="Open the model").wait_for(timeout=TIMEOUT_S * 1000)
    followed = False
    if not page.get_by_text("Drag to turn the model").count():
        page.get_by_role("link", name="Open the model").click()
        followed = True
    drawn = _drawn(page, deadline)
    click_bytes = traffic.take()
    job_id = stack.last_job_id()
    if job_id == previous:
        raise RuntimeError("no job was made")
    job = stack.job(job_id)
    out = {
        "click_to_model": drawn - clicked,
        "enqueue": _epoch(job.created_at) - clicked,
        "claim_wait": _epoch(job.started_at) - _epoch(job.created_at),
        "job": _epoch(job.finished_at) - _epoch(job.started_at),
        "job_export": float((job.stats or {}).get("seconds", {}).get("export", float("nan"))),
        "job_engine_total": float((job.stats or {}).get("total_seconds", float("nan"))),
        "page_notices": noticed - _epoch(job.finished_at),
        "viewer": drawn - noticed,
        "followed_link": float(followed),
        "click_bytes": float(click_bytes[0]),
        "click_largest_frame": float(click_bytes[1]),
    }
    # "Open the model" from the result, when the result is on the upload page.
    if not followed:
        page.get_by_role("link", name="Open the model").wait_for()
        traffic.take()
        opened = time.time()
        page.get_by_role("link", name="Open the model").click()
        page.wait_for_url(re.compile(r"/model\?id="), timeout=30_000)
        out["open_to_drawn"] = _drawn(page, time.time() + TIMEOUT_S) - opened
        out["open_bytes"], out["open_largest_frame"] = map(float, traffic.take())
    else:
        out["open_to_drawn"] = drawn - noticed
        out["open_bytes"], out["open_largest_frame"] = click_bytes[0], click_bytes[1]
    model_url = page.url if "/model?id=" in page.url else f"{stack.url}/model?id={job.model_id}"
    wait_app(page)
    page.goto(stack.url + "/library")
    wait_app(page)
    traffic.take()
    loaded = time.time()
    page.goto(model_url)
    out["load_to_drawn"] = _drawn(page, time.time() + TIMEOUT_S) - loaded
    out["load_bytes"], out["load_largest_frame"] = map(float, traffic.take())
    wait_app(page)
    return out


def viewer_payload(stack: Stack, model_id: int) -> int:
    """Bytes of the deck.gl JSON spec the model page sends for this model (read from the running page's code)."""
    import importlib

    try:
        viewer = importlib.import_module("core.content.viewer")
        page = importlib.import_module("pages.viewer")
    except ImportError:  # before the viewer module: the page built the spec with pydeck
        return -1
    from core.db import get_session
    from core.models import Model3D

    with get_session() as session:
        model = session.get(Model3D, model_id)
        spec, _faces = viewer.viewer_spec(model, height_px=page.VIEWER_HEIGHT_PX, background=page.BACKGROUND)
        return len(spec.encode())


def _load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=512, help="the picture's side in pixels")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL at 127.0.0.1:5432 instead of SQLite")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    base = Path(tempfile.mkdtemp(prefix="vorm-click-"))
    picture = object_png(base / "vase.png", size=(args.size, args.size))  # the e2e tests' vase
    print(f"load average before start: {_load()}  ({os.cpu_count()} CPUs)")  # noqa: T201
    stack = Stack(base, args.postgres)
    rows: list[dict[str, float]] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--enable-unsafe-swiftshader", "--use-angle=swiftshader", "--ignore-gpu-blocklist"])
            context = browser.new_context(viewport={"width": 1360, "height": 1000}, locale="en-GB")
            page = context.new_page()
            page.set_default_timeout(60_000)
            traffic = Bytes(page)
            _register(page, stack.url)
            one(page, stack, picture, traffic)  # warm-up: first imports, deck.gl's chunk; not counted
            for i in range(args.repeats):
                row = one(page, stack, picture, traffic)
                row["load"] = float(_load().split()[0])
                rows.append(row)
                print(f"run {i + 1}: click→model {row['click_to_model']:.2f} s (enqueue {row['enqueue']:.2f}, "  # noqa: T201
                      f"claim wait {row['claim_wait']:.2f}, job {row['job']:.2f}, page notices "
                      f"{row['page_notices']:.2f}, viewer {row['viewer']:.2f}); open→drawn "
                      f"{row['open_to_drawn']:.2f} s; load→drawn {row['load_to_drawn']:.2f} s; load avg {row['load']}")
            browser.close()
        payload = viewer_payload(stack, int(stack.job(stack.last_job_id()).model_id))
    finally:
        stack.stop()

    def fmt(key: str, unit: str = "s", scale: float = 1.0) -> str:
        values = [r[key] * scale for r in rows]
        return f"p50 {statistics.median(values):8.2f} {unit}   max {max(values):8.2f} {unit}"

    db = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\nclick to model, {args.size}² inflate, {args.repeats} runs, {db}, Chromium")  # noqa: T201
    for key in ("click_to_model", "enqueue", "claim_wait", "job", "job_engine_total", "job_export", "page_notices",
                "viewer", "open_to_drawn", "load_to_drawn"):
        print(f"  {key:<16} {fmt(key)}")  # noqa: T201
    for key in ("click_bytes", "click_largest_frame", "open_bytes", "open_largest_frame", "load_bytes",
                "load_largest_frame"):
        print(f"  {key:<20} {fmt(key, 'kB', 1 / 1000)}")  # noqa: T201
    if payload >= 0:
        print(f"  viewer spec (JSON) {payload / 1000:.1f} kB")  # noqa: T201
    print(f"  load average during runs: {[r['load'] for r in rows]}; now {_load()}")  # noqa: T201
    print(f"  logs: {base}")  # noqa: T201


if __name__ == "__main__":
    main()
