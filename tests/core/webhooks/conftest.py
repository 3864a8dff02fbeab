"""A real HTTP receiver for deliveries, and the setting that lets webhooks reach 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.utils.webhook_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver().start()
    yield state
    state.stop()


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.config import reset_settings

    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE", "1")
    reset_settings()
