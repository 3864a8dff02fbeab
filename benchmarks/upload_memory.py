"""The web process's memory while premium users upload maximum-size images at once, and after.

    .venv/bin/python -m benchmarks.upload_memory [--sessions 5] [--settle 10] [--sqlite]

Starts the real web process (``streamlit run app.py``, tests/utils/web_server.py) on a throwaway
PostgreSQL database, seeds ``--sessions`` premium users, and opens one websocket session each
(tests/utils/streamlit_ws.py's ``AsyncStreamlitClient``) on the upload page, after one small upload
has warmed the process (imports, caches). Then all of them at
once upload the same kind of file through the real upload widget (Streamlit's upload endpoint,
then the widget's state in a rerun): a PNG of random noise, which does not compress, just under
premium's upload limit (``PREMIUM_MAX_UPLOAD_MB``). Each waits for its preview. The sessions stay
open ``--hold`` seconds, then close. RSS (/proc VmRSS) is sampled every 50 ms throughout.

It prints the idle RSS before the sessions came, the peak, peak − idle, the RSS while the
sessions held their uploads, and the RSS ``--settle`` seconds after they closed. Goals
(issue 19): at most ``GOAL_PEAK_MB`` added at the peak, and back within ``GOAL_AFTER_MB`` of idle.
The exit status says whether both were met.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from PIL import Image  # noqa: E402

from benchmarks.web_sessions import (  # noqa: E402
    MB,
    RssSampler,
    SeededUser,
    load_average,
    rss_bytes,
    seed_users,
    web_process,
)
from tests.utils.streamlit_ws import AsyncStreamlitClient, uploader_state  # noqa: E402

GOAL_PEAK_MB = 300.0
GOAL_AFTER_MB = 50.0
SAMPLE_SECONDS = 0.05
HEIGHT_PX = 3000  # of the noise image; its width is chosen to land just under the byte limit


def max_size_png(limit_bytes: int, seed: int = 0) -> bytes:
    """An RGB PNG of noise (incompressible), as large as the limit allows, less a little for safety."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    width = (limit_bytes - 64 * 1024) // (3 * HEIGHT_PX)
    while True:
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (HEIGHT_PX, width, 3), np.uint8), "RGB").save(
            buf, "PNG", compress_level=1)
        if buf.tell() <= limit_bytes:
            return buf.getvalue()
        width -= (buf.tell() - limit_bytes) // (3 * HEIGHT_PX) + 1


async def _one(client: AsyncStreamlitClient, widget_id: str, name: str, data: bytes) -> tuple[float, str]:
    start = time.perf_counter()
    value = await client.upload([(name, data, "image/png")])
    run = await client.run(widgets=[uploader_state(widget_id, value)], timeout=300)
    seconds = time.perf_counter() - start
    if run.exceptions:
        return seconds, f"exception: {run.exceptions[0].message}"
    if not run.of("plotly_chart"):
        return seconds, f"no preview; alerts {run.texts('alert')}"
    return seconds, "preview shown"


async def streamlit_caches(url: str) -> dict[str, int]:
    """Bytes in Streamlit's own stores (uploaded files, st.cache_data, media, session state), by name."""
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        text = (await http.get("/_stcore/metrics", params={"families": "cache_memory_bytes"})).text
    sizes: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("cache_memory_bytes{"):
            labels, value = line.rsplit(" ", 1)
            name = ":".join(part.split("=", 1)[1].strip('"') for part in labels[19:-1].split(",") if part)
            sizes[name] = sizes.get(name, 0) + int(float(value))
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1])[:6])


async def _warm_up(url: str, user: SeededUser) -> None:
    """One small upload first, so the idle figure has the upload path's imports (the engine's image code,
    torch) and caches in it, as on a server that has run a while."""
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (230, 232, 236)).save(buf, "PNG")
    client = await AsyncStreamlitClient.open(url, cookies={"vorm_session": user.token})
    try:
        widget = (await client.run(timeout=120)).of("file_uploader")[0].id
        seconds, outcome = await _one(client, widget, "warm-up.png", buf.getvalue())
    finally:
        await client.close()
    if outcome != "preview shown":
        raise SystemExit(f"the warm-up upload failed: {outcome}")


async def main_async(args: argparse.Namespace) -> int:
    from core.config import get_settings

    with tempfile.TemporaryDirectory() as tmp, web_process(Path(tmp), postgres=not args.sqlite) as server:
        pid = server.proc.pid  # type: ignore[attr-defined]
        limit = get_settings().tier("premium")["max_upload_bytes"]
        data = max_size_png(limit)
        users = seed_users(args.sessions + 1, premium_every=1)
        await _warm_up(server.url, users.pop())  # type: ignore[attr-defined]
        clients = [await AsyncStreamlitClient.open(server.url, cookies={"vorm_session": u.token})  # type: ignore[attr-defined]
                   for u in users]
        try:
            pages = [await c.run(timeout=120) for c in clients]
            widgets = [p.of("file_uploader")[0].id for p in pages]
            await asyncio.sleep(2.0)
            idle = rss_bytes(pid)
            print(f"{args.sessions} premium sessions on {'SQLite' if args.sqlite else 'PostgreSQL'}, each uploading "
                  f"a {len(data) / MB:.1f} MB PNG of noise (limit {limit / MB:.0f} MB); load average {load_average()}")
            with RssSampler(pid, SAMPLE_SECONDS) as sampler:
                results = await asyncio.gather(*(_one(c, w, f"noise-{i}.png", data)
                                                 for i, (c, w) in enumerate(zip(clients, widgets, strict=True))))
                await asyncio.sleep(args.hold)
                held = rss_bytes(pid)
                peak = sampler.peak
                caches = await streamlit_caches(server.url)  # type: ignore[attr-defined]
        finally:
            for c in clients:
                await c.close()
        await asyncio.sleep(args.settle)
        after = rss_bytes(pid)
        log = server.log.read_text()  # type: ignore[attr-defined]
    for i, (seconds, outcome) in enumerate(results):
        print(f"  session {i}: {outcome} after {seconds:.1f} s")
    print("  Streamlit's own stores while the sessions held their uploads (/_stcore/metrics): "
          + (", ".join(f"{name} {size / MB:.1f} MB" for name, size in caches.items()) or "nothing"))
    print(f"idle {idle / MB:.0f} MB, peak {peak / MB:.0f} MB (+{(peak - idle) / MB:.0f} MB), "
          f"held by the open sessions {held / MB:.0f} MB (+{(held - idle) / MB:.0f} MB), "
          f"{args.settle:g} s after they closed {after / MB:.0f} MB (+{(after - idle) / MB:.0f} MB); "
          f"load average {load_average()}; web log tracebacks: {log.count('Traceback')}")
    ok = (peak - idle) / MB <= GOAL_PEAK_MB and (after - idle) / MB <= GOAL_AFTER_MB and \
        all(outcome == "preview shown" for _s, outcome in results)
    print(f"goals: peak ≤ +{GOAL_PEAK_MB:.0f} MB, after ≤ +{GOAL_AFTER_MB:.0f} MB, every preview shown: "
          f"{'met' if ok else 'NOT met'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5, help="concurrent premium sessions")
    parser.add_argument("--hold", type=float, default=3.0, help="seconds the sessions stay open after their preview")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds after they close before 'after'")
    parser.add_argument("--sqlite", action="store_true", help="the embedded SQLite database instead of PostgreSQL")
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
