"""An upload through the real widget of the real web process leaves no copy of its bytes in the process's
memory stores (issue 19), and the page still works from what waits on disk: the preview on later runs,
and the stored image when the model is made. Uploads go as the browser sends them: Streamlit's upload
endpoint, then the widget's state (tests/utils/streamlit_ws.py's ``AsyncStreamlitClient``).
"""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from PIL import Image
from sqlmodel import col, select

from tests.conftest import _apply_env
from tests.utils.streamlit_ws import AsyncStreamlitClient, Run, trigger, uploader_state


@pytest.fixture
def served(web_server, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The plain-started web process; this process on its database, storage and key."""
    server = web_server()
    _apply_env(monkeypatch, DATABASE_URL=server.env["DATABASE_URL"], DATA_DIR=server.env["DATA_DIR"],
               STORAGE_DIR=server.env["STORAGE_DIR"])
    monkeypatch.delenv("SECRET_KEY", raising=False)
    yield server
    from core.db import reset_engines

    reset_engines()


def _photo() -> bytes:
    """A 1600 × 1200 PNG of a disc on a plain background, with grain: about 1.6 MB."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:1200, 0:1600]
    pixels = np.full((1200, 1600, 3), 236, np.uint8)
    pixels[(x - 800) ** 2 + (y - 600) ** 2 < 380 ** 2] = (190, 70, 40)
    pixels = np.clip(pixels.astype(np.int16) + rng.integers(-6, 7, pixels.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, "PNG")
    return buf.getvalue()


def _uploaded_file_bytes(url: str) -> dict[str, float]:
    """What Streamlit's own stores hold, by name (its /_stcore/metrics, cache_memory_bytes)."""
    text = httpx.get(url + "/_stcore/metrics", params={"families": "cache_memory_bytes"}, timeout=30).text
    sizes: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("cache_memory_bytes{"):
            labels, value = line.rsplit(" ", 1)
            sizes[labels] = sizes.get(labels, 0.0) + float(value)
    return sizes


async def _journey(url: str, token: str, data: bytes) -> tuple[Run, Run, dict[str, float], Run]:
    client = await AsyncStreamlitClient.open(url, cookies={"vorm_session": token})
    try:
        page = await client.run()
        uploader = page.widget("file_uploader", "Your image, or several views of one object")
        value = await client.upload([("disc.png", data, "image/png")])
        state = uploader_state(uploader.id, value)
        first = await client.run(widgets=[state])
        again = await client.run(widgets=[state])  # a widget change elsewhere: the page runs again
        stores = await asyncio.to_thread(_uploaded_file_bytes, url)
        make = again.widget("button", "Make my 3D model")
        made = await client.run(widgets=[state, trigger(make.id)])
        return first, again, stores, made
    finally:
        await client.close()


def test_an_accepted_upload_leaves_no_bytes_in_streamlit_and_is_stored_whole(served):
    from core.accounts import sessions
    from core.db import get_session
    from core.models import GenerationJob, Upload
    from core.storage import get_storage
    from tests.utils.builders import create_random_user

    data = _photo()
    with get_session() as session:
        user = create_random_user(session)
        token = sessions.create_session(session, user=user)
    # In a thread of its own: Playwright's sync API (the e2e tests' browser) may hold a running loop here.
    with ThreadPoolExecutor(max_workers=1) as pool:
        first, again, stores, made = pool.submit(asyncio.run, _journey(served.url, token, data)).result()

    for run in (first, again):  # the box picker and the preview, the second time from what waits on disk
        captions = [image.caption for images in run.of("imgs") for image in images.imgs]
        assert not run.exceptions and run.of("plotly_chart"), run.texts("alert")
        assert any("Detected object" in c for c in captions), (captions, run.texts("alert"))
    uploaded = {k: v for k, v in stores.items() if "UploadedFileManager" in k}
    assert uploaded and sum(uploaded.values()) == 0, stores  # the file is listed, its bytes are gone
    assert sum(stores.values()) < len(data), stores  # nor kept in a cache: only small pictures are
    assert not made.exceptions, made.exceptions

    with get_session() as session:
        job = session.exec(select(GenerationJob).where(col(GenerationJob.user_id) == user.id)).one()
        row = session.get(Upload, job.upload_ids[0])
    assert row is not None and row.filename == "disc.png" and (row.width, row.height) == (1600, 1200)
    stored = get_storage().get(row.storage_key)
    assert len(stored) == row.size_bytes
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(stored))), np.asarray(Image.open(io.BytesIO(data))))
