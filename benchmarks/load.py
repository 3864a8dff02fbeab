"""Many logged-in browser tabs on one web process: page-run times, errors and memory, at 10, 50 and 100.

    .venv/bin/python -m benchmarks.load [--levels 10 50 100] [--duration 40] [--think 3 10] [--sqlite]

Starts the real web process (``streamlit run app.py``, tests/utils/web_server.py) on a throwaway
PostgreSQL database (``--sqlite`` for the embedded default), seeds as many users as the largest
level (each logged in, each with one model whose viewer has a 5,120-triangle preview), and runs
each level in turn on that one process. Every session is one websocket speaking Streamlit's
protocol (tests/utils/streamlit_ws.py's ``AsyncStreamlitClient``), all in this one asyncio
process, shaped like a Locust user: it opens the app (the upload page), then, until the level's
time is up, waits a think time and does one weighted task: open "New model", "My models", its
model's page or "My data", or (one session in ``UPLOAD_EVERY``) upload a photo through the real
upload widget (Streamlit's upload endpoint, then the widget's state) and see its preview.

Per level it prints the page-run times (rerun sent → the run's script_finished; a run that calls
``st.rerun`` counts until the run after it ends): p50, p95 and max, for all runs and per task;
errors (exceptions drawn by a run, page-not-found, timeouts over ``RUN_TIMEOUT_SECONDS``,
dropped websockets, failed uploads); and the web process's RSS idle before the sessions came,
at the peak of the load (sampled every 100 ms), and after the sessions closed (``--settle`` seconds
later). Streamlit keeps a closed tab's session two minutes for a reconnect, so "after" still holds
them. Before the levels, on the freshly warmed process, as many tabs as the largest level open and
sit idle: "MB per idle session" is the RSS they add, divided by their number.
The load average is printed with each level: figures from a busy machine are not comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from benchmarks.web_sessions import MB, RssSampler, SeededUser, load_average, rss_bytes, seed_users, web_process  # noqa: E402
from tests.utils.streamlit_ws import AsyncStreamlitClient, Run, uploader_state  # noqa: E402

LEVELS = (10, 50, 100)
RUN_TIMEOUT_SECONDS = 30.0  # a run that takes longer counts as an error, not a time
UPLOAD_EVERY = 5  # one session in five uploads photos
#: Locust-style weighted tasks: what a person does next on the site.
TASKS = {"upload": 3, "library": 3, "model": 2, "my_data": 1}
UPLOAD_TASK_WEIGHT = 2  # added for the sessions that upload
PAGES = {"upload": ("", ""),  # the default page: its url is the root
          "library": ("library", ""), "my_data": ("my-data", "")}
GOAL_P95_SECONDS = 1.0
GOAL_IDLE_SESSION_MB = 5.0
SAMPLE_SECONDS = 0.1


@dataclass
class Level:
    n: int
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    examples: list[str] = field(default_factory=list)

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if len(self.examples) < 5:
            self.examples.append(f"{kind}: {detail[:300]}")


def photo_jpeg(seed: int) -> bytes:
    """A 1600 × 1200 photo of one object on a plain background (about 300 KB), as people upload."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (1600, 1200), (232, 234, 238))
    ImageDraw.Draw(image).ellipse((450, 250, 1150, 950), fill=(180, 70, 40))
    grain = Image.fromarray(rng.integers(0, 40, (1200, 1600, 3), np.uint8), "RGB").filter(ImageFilter.BLUR)
    image = Image.blend(image, grain, 0.15)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=88)
    return buf.getvalue()


def _check(level: Level, task: str, run: Run) -> None:
    if run.exceptions:
        e = run.exceptions[0]
        level.error("exception", f"{task}: {e.type}: {e.message}")
    elif run.page_not_found:
        level.error("page not found", task)
    else:
        level.times[task].append(run.seconds)


async def _do(client: AsyncStreamlitClient, level: Level, task: str, user: SeededUser, photo: bytes) -> None:
    if task == "model":
        run = await client.run(page_name="model", query_string=f"id={user.model_id}", timeout=RUN_TIMEOUT_SECONDS)
    elif task == "upload_photo":
        page = await client.run(page_name="", timeout=RUN_TIMEOUT_SECONDS)
        _check(level, "upload", page)
        widget = page.of("file_uploader")[0]
        value = await client.upload([(f"object-{user.id}.jpg", photo, "image/jpeg")])
        run = await client.run(page_name="", widgets=[uploader_state(widget.id, value)],
                               timeout=RUN_TIMEOUT_SECONDS)
        if not run.exceptions and not any(k == "plotly_chart" for k, _e in run.elements):
            level.error("no preview", f"{[k for k, _e in run.elements]}")
            return
    else:
        name, query = PAGES[task]
        run = await client.run(page_name=name, query_string=query, timeout=RUN_TIMEOUT_SECONDS)
    _check(level, task, run)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def run_level(url: str, pid: int, users: list[SeededUser], *, duration: float, think: tuple[float, float],
                    ramp: float, settle: float, photos: list[bytes], seed: int) -> dict[str, object]:
    level = Level(len(users))
    rng = random.Random(seed)
    idle_before = rss_bytes(pid)
    connected, all_idle = asyncio.Event(), asyncio.Event()
    ready: list[int] = []
    now = time.monotonic()
    # The load runs for `duration` after every tab has opened; the stop time is set once they have.
    stop_box = [float("inf")]

    async def tab(i: int, user: SeededUser) -> None:
        await session(url, user, level, i, now, ramp, think, connected, all_idle, ready,
                      photos[i % len(photos)], random.Random(rng.random()), stop_box)

    with RssSampler(pid, SAMPLE_SECONDS) as sampler:
        tasks = [asyncio.create_task(tab(i, u)) for i, u in enumerate(users)]
        await connected.wait()
        await asyncio.sleep(2.0)  # every tab open and idle: what an idle session costs
        idle_with = rss_bytes(pid)
        sampler.reset()
        load_started = time.monotonic()
        stop_box[0] = load_started + duration
        all_idle.set()
        await asyncio.gather(*tasks)
        load_seconds = time.monotonic() - load_started
        peak = sampler.peak
    await asyncio.sleep(settle)
    after = rss_bytes(pid)
    every = [t for task, ts in level.times.items() if task != "open" for t in ts]
    return {"level": level, "idle_before": idle_before, "idle_with": idle_with, "peak": peak, "after": after,
            "runs": every, "load_seconds": load_seconds, "loadavg": load_average()}


async def session(url: str, user: SeededUser, level: Level, i: int, now: float, ramp: float,
                  think: tuple[float, float], connected: asyncio.Event, all_idle: asyncio.Event,
                  ready: list[int], photo: bytes, rng: random.Random, stop_box: list[float]) -> None:
    """One browser tab: open the app, wait until every tab is open, then tasks with think times until
    ``stop_box[0]`` (set once all tabs are open)."""
    await asyncio.sleep(max(0.0, now + ramp * i / level.n - time.monotonic()))
    tasks = dict(TASKS, **({"upload_photo": UPLOAD_TASK_WEIGHT} if i % UPLOAD_EVERY == 0 else {}))
    client = None
    try:
        client = await AsyncStreamlitClient.open(url, cookies={"vorm_session": user.token})
        _check(level, "open", await client.run(timeout=RUN_TIMEOUT_SECONDS))
    except Exception as exc:
        level.error("open failed", repr(exc))
    ready.append(1)
    if len(ready) == level.n:
        connected.set()
    if client is None:
        return
    try:
        await all_idle.wait()
        while time.monotonic() < stop_box[0]:
            await asyncio.sleep(rng.uniform(*think))
            if time.monotonic() >= stop_box[0]:
                break
            task = rng.choices(list(tasks), weights=list(tasks.values()))[0]
            try:
                await _do(client, level, task, user, photo)
            except TimeoutError:
                # The late run's messages would answer the next one: reload the tab, as a person would.
                level.error("timeout", f"{task} (user {user.id})")
                await client.close()
                client = await AsyncStreamlitClient.open(url, cookies={"vorm_session": user.token})
                await client.run(timeout=RUN_TIMEOUT_SECONDS)
    except Exception as exc:  # a dropped websocket, a refused upload: counted, and this tab stops
        from websockets.exceptions import ConnectionClosed

        level.error("disconnect" if isinstance(exc, ConnectionClosed) else type(exc).__name__, repr(exc))
    finally:
        await client.close()


def _print_level(r: dict[str, object]) -> None:
    level = r["level"]
    assert isinstance(level, Level)
    runs = r["runs"]
    assert isinstance(runs, list)
    mb = {k: int(r[k]) / MB for k in ("idle_before", "idle_with", "peak", "after")}  # type: ignore[call-overload]
    errors = sum(level.errors.values())
    print(f"\nN={level.n}: {len(runs)} page runs in {r['load_seconds']:.0f} s "
          f"({len(runs) / max(1e-9, float(r['load_seconds'])):.1f}/s); load average {r['loadavg']}")  # type: ignore[arg-type]
    print(f"  page run: p50 {_pct(runs, 0.5) * 1000:.0f} ms, p95 {_pct(runs, 0.95) * 1000:.0f} ms, "
          f"max {max(runs, default=float('nan')) * 1000:.0f} ms; errors {errors} {dict(level.errors) or ''}")
    for task, ts in sorted(level.times.items()):
        print(f"    {task:<13} n={len(ts):<5} p50 {_pct(ts, 0.5) * 1000:6.0f} ms  p95 {_pct(ts, 0.95) * 1000:6.0f} ms  "
              f"max {max(ts) * 1000:6.0f} ms")
    for example in level.examples:
        print(f"    ! {example}")
    per_idle = (mb["idle_with"] - mb["idle_before"]) / level.n
    print(f"  RSS: idle before {mb['idle_before']:.0f} MB, {level.n} idle sessions {mb['idle_with']:.0f} MB "
          f"({per_idle:.2f} MB per idle session), peak {mb['peak']:.0f} MB, after {mb['after']:.0f} MB")


async def _warm_up(url: str, user: SeededUser, photo: bytes) -> None:
    """One tab through every task first: imports and caches warm, as on a server that has run a while."""
    level = Level(1)
    client = await AsyncStreamlitClient.open(url, cookies={"vorm_session": user.token})
    try:
        await client.run(timeout=120)
        for task in (*TASKS, "upload_photo"):
            await _do(client, level, task, user, photo)
    finally:
        await client.close()
    if level.errors:
        raise SystemExit(f"the warm-up failed: {level.examples}")


async def idle_cost(url: str, pid: int, users: list[SeededUser]) -> tuple[float, float, float]:
    """Open a tab per user on the warmed process (its first page run only), let them sit, close them:
    RSS before, RSS with all of them idle, and the difference per tab (MB)."""
    before = rss_bytes(pid)
    gate = asyncio.Semaphore(10)  # tabs opening at once

    async def one(user: SeededUser) -> AsyncStreamlitClient:
        async with gate:
            client = await AsyncStreamlitClient.open(url, cookies={"vorm_session": user.token})
            await client.run(timeout=120)
            return client

    clients = await asyncio.gather(*(one(u) for u in users))
    await asyncio.sleep(3.0)
    with_idle = rss_bytes(pid)
    for client in clients:
        await client.close()
    return before / MB, with_idle / MB, (with_idle - before) / MB / len(users)


async def main_async(args: argparse.Namespace) -> int:
    levels = sorted(set(args.levels))
    photos = [photo_jpeg(i) for i in range(4)]
    with tempfile.TemporaryDirectory() as tmp, web_process(Path(tmp), postgres=not args.sqlite,
                                                                     profile=args.profile) as server:
        database = "SQLite" if args.sqlite else "PostgreSQL"
        started = time.monotonic()
        users = seed_users(max(levels) + 1)
        print(f"web process pid {server.proc.pid} on {database}; {len(users)} users seeded in "  # type: ignore[attr-defined]
              f"{time.monotonic() - started:.0f} s; think time {args.think[0]:g}-{args.think[1]:g} s, "
              f"{args.duration:g} s of load per level; load average {load_average()}")
        await _warm_up(server.url, users[-1], photos[0])  # type: ignore[attr-defined]
        idle = await idle_cost(server.url, server.proc.pid, users[:max(levels)])  # type: ignore[attr-defined]
        print(f"{max(levels)} idle sessions (each its first page run, then nothing): RSS {idle[0]:.0f} → "
              f"{idle[1]:.0f} MB, {idle[2]:.2f} MB per idle session")
        await asyncio.sleep(args.settle)
        results = []
        for n in levels:
            r = await run_level(server.url, server.proc.pid, users[:n], duration=args.duration,  # type: ignore[attr-defined]
                                think=tuple(args.think), ramp=args.ramp * n / 100, settle=args.settle,
                                photos=photos, seed=n)
            _print_level(r)
            results.append(r)
        log = server.log.read_text()  # type: ignore[attr-defined]
    print(f"\nweb log: {log.count('Traceback')} tracebacks")
    print(f"\n{'N':>4} {'runs':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'errors':>6} {'idle MB':>8} "
          f"{'peak MB':>8} {'after MB':>8}  load avg")
    ok = idle[2] <= GOAL_IDLE_SESSION_MB
    for r in results:
        level = r["level"]
        assert isinstance(level, Level)
        runs = r["runs"]
        assert isinstance(runs, list)
        errors = sum(level.errors.values())
        p95 = _pct(runs, 0.95)
        ok = ok and errors == 0 and p95 <= GOAL_P95_SECONDS
        print(f"{level.n:>4} {len(runs):>6} {_pct(runs, 0.5) * 1000:>7.0f} {p95 * 1000:>7.0f} "
              f"{max(runs, default=float('nan')) * 1000:>7.0f} {errors:>6} {int(r['idle_before']) / MB:>8.0f} "  # type: ignore[call-overload]
              f"{int(r['peak']) / MB:>8.0f} {int(r['after']) / MB:>8.0f}  {r['loadavg']}")  # type: ignore[call-overload]
    print(f"{max(levels)} idle sessions: {idle[2]:.2f} MB each")
    print(f"goals: p95 ≤ {GOAL_P95_SECONDS * 1000:.0f} ms, no errors, ≤ {GOAL_IDLE_SESSION_MB:g} MB per idle session: "
          f"{'met' if ok else 'NOT met'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS), help="concurrent sessions per level")
    parser.add_argument("--duration", type=float, default=40.0, help="seconds of load per level")
    parser.add_argument("--think", type=float, nargs=2, default=[3.0, 10.0], metavar=("MIN", "MAX"),
                        help="think time between a session's tasks, uniform (seconds)")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds over which 100 sessions open")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after the sessions close before 'after'")
    parser.add_argument("--sqlite", action="store_true", help="the embedded SQLite database instead of PostgreSQL")
    parser.add_argument("--profile", type=Path, help="profile every script run into this pstats file")
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
