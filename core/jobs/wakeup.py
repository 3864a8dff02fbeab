"""Waking idle workers when a job is queued: PostgreSQL LISTEN/NOTIFY, with polling as the fallback.

Migration 0013's trigger sends ``NOTIFY vorm_job_queued`` in the transaction that queues a job (a
new job, a requeue, a recovered or released one), so the notification arrives once it commits.
Each worker process keeps one dedicated connection that LISTENs, in a thread, and calls its wake
function on every notification: the worker fills its free slots at once instead of at the next poll.

The connection can drop (a database restart, ``pg_terminate_backend``): the listener reconnects with
backoff, and wakes the worker once after each (re)connect, since jobs queued while it was deaf were
never heard. Polling goes on meanwhile, and is all there is on SQLite.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import sqlalchemy as sa

log = logging.getLogger(__name__)

CHANNEL = "vorm_job_queued"  # the name migration 0013's trigger notifies
RECONNECT_MIN_SECONDS = 0.5  # first retry after the connection dropped; doubles per failure
RECONNECT_MAX_SECONDS = 30.0
STOP_CHECK_SECONDS = 0.5  # how long one wait for notifications lasts before the stop flag is looked at
CONNECT_TIMEOUT_SECONDS = 5


def conninfo(url: sa.URL | str) -> str:
    """A libpq connection string for psycopg from an SQLAlchemy URL (``postgresql+psycopg://...``)."""
    parsed = sa.make_url(url) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """A thread holding one LISTEN connection; calls ``on_wake()`` for each notification and each (re)connect."""

    def __init__(self, url: sa.URL | str, on_wake: Callable[[], None], *, name: str = "vorm-worker") -> None:
        self._conninfo = conninfo(url)
        self._on_wake = on_wake
        self._name = name[:63]  # application_name: pg_stat_activity shows which worker listens
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="listen", daemon=True)
        #: Set while the connection is listening (tests and the log).
        self.listening = threading.Event()
        self.connects = 0  # successful connects, the first one included

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = RECONNECT_MIN_SECONDS
        while not self._stop.is_set():
            try:
                self._listen()
                delay = RECONNECT_MIN_SECONDS
            except Exception as exc:  # never let the thread die: polling covers the gap
                if self.listening.is_set() or self.connects == 0:
                    log.warning("Not listening for queued jobs (%s); polling, reconnecting in %.1f s",
                                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                                delay)
                self.listening.clear()
                self._stop.wait(delay)
                delay = min(RECONNECT_MAX_SECONDS, delay * 2)

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS,
                             application_name=self._name) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.connects += 1
            self.listening.set()
            if self.connects > 1:
                log.info("Listening for queued jobs again")
            self._wake()  # anything queued before LISTEN took effect was not heard
            while not self._stop.is_set():
                for _ in conn.notifies(timeout=STOP_CHECK_SECONDS):
                    self._wake()
        self.listening.clear()

    def _wake(self) -> None:
        try:
            self._on_wake()
        except Exception:
            log.exception("Waking the worker failed")
