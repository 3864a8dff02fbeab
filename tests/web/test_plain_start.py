"""``streamlit run app.py --server.headless true --server.port N``: the plain start (issue 17 §0).

No ``--server.address`` and no ``PUBLIC_URL``: how Streamlit's docs, most hosts and most people
start an app. The web process must come up, answer ``/healthz`` and hand out file links that work.
"""

from __future__ import annotations

import urllib.request

import pytest

from tests.conftest import _apply_env


def test_the_plain_start_serves_health_and_working_file_links(web_server, monkeypatch: pytest.MonkeyPatch):
    server = web_server()
    assert "--server.address" not in server.proc.args and "PUBLIC_URL" not in server.env
    with urllib.request.urlopen(server.url + "/healthz", timeout=10) as resp:
        assert resp.status == 200
    # This process on the server's database, data folder and key (the one it made itself at start).
    _apply_env(monkeypatch, DATABASE_URL=server.env["DATABASE_URL"], DATA_DIR=server.env["DATA_DIR"],
               STORAGE_DIR=server.env["STORAGE_DIR"])
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    from core.config import public_url
    from core.storage import get_storage

    # Links follow the address the process listens on: every interface, so this machine's own name.
    assert public_url() == f"http://localhost:{server.port}"
    storage = get_storage()
    storage.put("users/1/models/plain.glb", b"glTF-plain-start")
    link = storage.url("users/1/models/plain.glb", filename="plain.glb")
    assert link.startswith(f"http://localhost:{server.port}/files/")
    with urllib.request.urlopen(link, timeout=10) as resp:
        assert resp.status == 200 and resp.read() == b"glTF-plain-start"
    assert "Traceback" not in server.log.read_text()
