"""The API app in process (starlette's TestClient: real HTTP semantics, real database on both engines)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image, ImageDraw
from starlette.testclient import TestClient

from core.api import keys
from tests.utils.builders import create_random_user


def photo(size: int = 160, colour: str = "red") -> bytes:
    """A plain-background photo of a ball: the engine finds its object."""
    image = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(image).ellipse((size // 4, size // 4, 3 * size // 4, 3 * size // 4), fill=colour)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


class ApiClient(TestClient):
    """Paths are the API's own ("/jobs"); requests go to /api/v1/..., mounted as in core.routes."""

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        return super().request(method, "/api/v1" + str(url), *args, **kwargs)

    def stream(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        return super().stream(method, "/api/v1" + str(url), *args, **kwargs)


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from core.api.app import create_app

    with ApiClient(Starlette(routes=[Mount("/api/v1", app=create_app())])) as c:
        yield c


class Account:
    def __init__(self, session, plan: str = "free") -> None:  # type: ignore[no-untyped-def]
        self.user = create_random_user(session, plan=plan)
        self.key = keys.create_key(session, user=self.user, name="tests").secret
        self.headers = {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def alice(session) -> Account:  # type: ignore[no-untyped-def]
    return Account(session)


@pytest.fixture
def bob(session) -> Account:  # type: ignore[no-untyped-def]
    return Account(session)
