"""AppTest fixtures: the real frame and pages, in-process, on a fresh SQLite database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import _apply_env, _truncate

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 30


@pytest.fixture
def web_db(_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    _truncate(_sqlite_url)
    _apply_env(monkeypatch, DATABASE_URL=_sqlite_url, DATA_DIR=str(tmp_path / "data"),
               STORAGE_DIR=str(tmp_path / "storage"), STORAGE_BACKEND="local", FREE_MAX_UPLOAD_MB="10")
    yield _sqlite_url
    from core.db import reset_engines

    reset_engines()


@pytest.fixture
def web_session(web_db: str):  # type: ignore[no-untyped-def]
    from core.db import get_session

    with get_session() as s:
        yield s


@pytest.fixture
def login(web_session) -> Callable[..., str]:  # type: ignore[no-untyped-def]
    """A session token for a user, as the login form would create it."""
    from core.accounts import sessions

    def make(user) -> str:  # type: ignore[no-untyped-def]
        return sessions.create_session(web_session, user=user)

    return make


def app(token: str | None = None, *, script: str = "app.py", params: dict[str, str] | None = None,
        lang: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / script), default_timeout=TIMEOUT_SECONDS)
    if token:
        at.session_state["_vorm_token"] = token
        at.session_state["_vorm_no_cookies"] = True  # no browser to hold a cookie
    if lang:
        at.session_state["lang"] = lang
    for key, value in (params or {}).items():
        at.query_params[key] = value
    return at


def texts(at: AppTest) -> str:
    """Everything the page says, for assertions on messages."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts.extend(str(e.value) for e in getattr(at, kind))
    return "\n".join(parts)
