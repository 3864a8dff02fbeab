"""The worker process: ``python -m jobs.worker [--concurrency N] [--modes KINDS] [--device DEVICE] [--once]``.

Must be importable without Streamlit, and without torch: the engine loads once,
when the process starts (``core.jobs.runner.warm_up``), not at import.

One APScheduler ``BlockingScheduler`` per process, with its default in-memory job
store: the schedule is never shared, so any number of workers can run side by side.
Its jobs, each small and delegating to core:

- ``dispatch`` (every ``worker_poll_seconds``, and at once when PostgreSQL NOTIFYs a queued job,
  core.jobs.wakeup): fills free slots; a slot claims a job of a kind this worker takes
  (``--modes``, core.jobs.kinds), runs it, and claims the next until none is due;
- ``beat`` (a third of the lease): the heartbeat row and lease renewal for the jobs
  held; a job whose lease was lost (cancelled, taken over) is told to stop;
- ``recover`` (every few seconds): jobs whose worker died go back to the queue;
- ``maintenance`` (every minute): the daily and hourly slots, each run once per fleet;
- ``tick`` (every FREQUENT_TICK_SECONDS): privacy exports and erasures, outbox delivery;
- ``webhooks`` (every WEBHOOK_INTERVAL_SECONDS): ended jobs become webhook deliveries, due ones are posted
  (each delivery is claimed in the database, so any number of workers can run it side by side).

Shutdown order on SIGTERM/SIGINT: stop claiming, stop the scheduler, give running
jobs SHUTDOWN_GRACE_SECONDS to finish, release the rest back to the queue (their
attempt not counted), remove the heartbeat, exit 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core.config import get_settings
from core.db import get_engine, get_session, migrate
from core.errors import TransientError
from core.jobs import claims, fleet
from core.jobs import kinds as job_kinds
from core.jobs.wakeup import Listener
from core.models import GenerationJob
from jobs import maintenance as maintenance_jobs

log = logging.getLogger("jobs.worker")

RECOVERY_INTERVAL_SECONDS = 5.0  # how often expired leases are looked for (at most half the lease)
MAINTENANCE_CHECK_SECONDS = 60.0  # daily/hourly slots are checked this often, and at start
FREQUENT_TICK_SECONDS = 10.0  # privacy exports and erasures should not wait long
OUTBOX_INTERVAL_SECONDS = 30.0  # mail should feel prompt
WEBHOOK_INTERVAL_SECONDS = 1.0  # a job's webhook should follow its end within a second or two
API_HOUSEKEEPING_SECONDS = 60.0  # rate-limit windows last a minute
SHUTDOWN_GRACE_SECONDS = 30.0  # running jobs get this long to finish after SIGTERM
STARTUP_RETRY_MAX_SECONDS = 30.0  # waiting for the database at start backs off to this
EXIT_WAIT_SECONDS = 5.0  # after releasing jobs, how long threads get to notice before the process exits

Runner = Callable[..., str]


def _default_runner(job: GenerationJob, *, lost: threading.Event) -> str:
    from core.jobs.runner import process

    return process(job, lost=lost)


class Worker:
    """One worker process's state: its slots, the jobs it holds, and the scheduler's job functions."""

    def __init__(self, *, concurrency: int = 1, once: bool = False, grace_seconds: float = SHUTDOWN_GRACE_SECONDS,
                 runner: Runner | None = None, maintenance: bool = True, warm: bool = True,
                 modes: frozenset[str] | None = None, device: str | None = None,
                 poll_seconds: float | None = None, listen: bool | None = None) -> None:
        settings = get_settings()
        self.concurrency = max(1, int(concurrency))
        #: The kinds of job this worker takes (core.jobs.kinds); all by default.
        self.modes = frozenset(modes) if modes else frozenset(job_kinds.KINDS)
        self.poll_seconds = float(poll_seconds if poll_seconds is not None else settings.worker_poll_seconds)
        self.listen = settings.worker_listen if listen is None else listen
        self.once = once
        self.grace_seconds = grace_seconds
        self.runner: Runner = runner or _default_runner
        self.maintenance_enabled = maintenance
        self.warm = warm
        self.lease_seconds = float(settings.job_lease_seconds)
        self.hostname = socket.gethostname()
        self.worker_id = f"{self.hostname}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.wanted_device = device or settings.device
        self.device = "cpu" if self.wanted_device == "auto" else self.wanted_device  # until warm_up decides
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._held: dict[int, tuple[GenerationJob, threading.Event]] = {}
        self._active_slots = 0
        self._idle = False  # the last claim found nothing due
        self._wakes = 0  # notifications heard; a slot that saw one arrive while it drained claims once more
        self._listener: Listener | None = None
        self._db_down = False
        self._last_outbox = 0.0
        self._last_api_housekeeping = 0.0
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="slot")
        self._scheduler: Any = None

    # --- life cycle -----------------------------------------------------

    def run(self) -> int:
        from apscheduler.executors.pool import ThreadPoolExecutor as APSPool
        from apscheduler.schedulers.blocking import BlockingScheduler

        self._install_signals()
        if not self._start_up():
            return 0
        scheduler = BlockingScheduler(
            executors={"default": APSPool(4), "beat": APSPool(1), "webhooks": APSPool(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
            timezone=UTC,
        )
        now = datetime.now(UTC)
        scheduler.add_job(self.dispatch, "interval", seconds=self.poll_seconds, next_run_time=now, id="dispatch")
        scheduler.add_job(self.beat, "interval", seconds=max(0.5, self.lease_seconds / 3), next_run_time=now,
                          id="beat", executor="beat")
        scheduler.add_job(self.recover, "interval", seconds=min(RECOVERY_INTERVAL_SECONDS, self.lease_seconds / 2),
                          next_run_time=now, id="recover")
        if self.maintenance_enabled:
            scheduler.add_job(self.maintenance, "interval", seconds=MAINTENANCE_CHECK_SECONDS, next_run_time=now,
                              id="maintenance")
            scheduler.add_job(self.tick, "interval", seconds=FREQUENT_TICK_SECONDS, next_run_time=now, id="tick")
            scheduler.add_job(self.webhooks, "interval", seconds=WEBHOOK_INTERVAL_SECONDS, next_run_time=now,
                              id="webhooks", executor="webhooks")
        self._scheduler = scheduler
        self._start_listener()
        if not self.stop.is_set():
            scheduler.start()  # blocks until _shutdown_scheduler
        self._finish()
        return 0

    def _start_up(self) -> bool:
        delay = 1.0
        while not self.stop.is_set():
            try:
                migrate()
                break
            except TransientError as exc:
                log.warning("Waiting for the database: %s (retrying in %.0f s)", exc, delay)
                self.stop.wait(delay)
                delay = min(STARTUP_RETRY_MAX_SECONDS, delay * 2)
        if self.stop.is_set():
            return False
        if self.warm:
            from core.jobs.runner import warm_up

            self.device = warm_up(self.wanted_device)
        log.info("Worker %s started: device %s%s, takes %s, concurrency %d, lease %.0f s", self.worker_id,
                 self.device, _device_detail(self.device), job_kinds.format_kinds(self.modes), self.concurrency,
                 self.lease_seconds)
        self.beat()
        return True

    def _start_listener(self) -> None:
        engine = get_engine()
        if self.once or not self.listen or engine.dialect.name != "postgresql":
            return
        self._listener = Listener(engine.url, self.wake, name=f"vorm-worker {self.worker_id}").start()
        log.info("Listening for queued jobs (polling every %.1f s as well)", self.poll_seconds)

    def wake(self) -> None:
        """A job was queued (a NOTIFY): fill free slots now."""
        with self._lock:
            self._wakes += 1
        self.dispatch()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        log.info("Received %s: no new jobs; finishing the running ones (at most %.0f s)",
                 signal.Signals(signum).name, self.grace_seconds)
        self.request_stop()

    def request_stop(self) -> None:
        self.stop.set()
        # Never shut the scheduler down from inside a signal handler: it takes locks the interrupted
        # main thread may hold. A short thread does it instead.
        threading.Thread(target=self._shutdown_scheduler, name="shutdown", daemon=True).start()

    def _shutdown_scheduler(self) -> None:
        scheduler = self._scheduler
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)

    def _finish(self) -> None:
        if self._listener is not None:
            self._listener.stop()
        deadline = time.monotonic() + self.grace_seconds
        while time.monotonic() < deadline and self._busy():
            time.sleep(0.1)
        with self._lock:
            left = list(self._held.values())
        for job, lost in left:
            lost.set()
            try:
                with get_session() as session:
                    released = claims.release_job(session, job=job)
                log.warning("Job %s did not finish within %.0f s; %s", job.id, self.grace_seconds,
                            "released back to the queue" if released else "it was no longer ours")
            except sa.exc.SQLAlchemyError as exc:
                log.error("Could not release job %s (%s); its lease will expire and recovery will requeue it",
                          job.id, exc)
        self._pool.shutdown(wait=False, cancel_futures=True)
        try:
            with get_session() as session:
                fleet.remove_heartbeat(session, worker_id=self.worker_id)
        except sa.exc.SQLAlchemyError:
            pass
        if left:
            # Engine threads cannot be interrupted; once their jobs are released the process may exit under them.
            deadline = time.monotonic() + EXIT_WAIT_SECONDS
            while time.monotonic() < deadline and self._busy():
                time.sleep(0.1)
            if self._busy():
                log.info("Worker %s stopped (jobs released)", self.worker_id)
                logging.shutdown()
                os._exit(0)
        log.info("Worker %s stopped", self.worker_id)

    def _busy(self) -> bool:
        with self._lock:
            return self._active_slots > 0

    # --- jobs -------------------------------------------------------------

    def dispatch(self) -> None:
        if self.stop.is_set():
            return
        with self._lock:
            free = self.concurrency - self._active_slots
            if self.once and self._idle and self._active_slots == 0:
                free = 0
            self._active_slots += max(0, free)
        if self.once and free == 0 and self._idle and not self._busy():
            log.info("No job is due; exiting (--once)")
            self.request_stop()
            return
        for n in range(max(0, free)):
            try:
                self._pool.submit(self._slot)
            except RuntimeError:  # the pool shut down under a late wake-up
                with self._lock:
                    self._active_slots -= free - n
                return

    def _slot(self) -> None:
        while True:
            with self._lock:
                wakes = self._wakes
            try:
                drain(self.worker_id, self.runner, stop=self.stop, lease_seconds=self.lease_seconds,
                      kinds=self.modes, on_claim=self._hold, on_done=self._release, on_idle=self._on_idle)
                self._db_up()
            except sa.exc.OperationalError as exc:
                self._on_db_error("claiming jobs", exc)
            except Exception:
                log.exception("Slot failed")
            with self._lock:
                # A NOTIFY heard after this drain's last claim began found this slot still counted as busy,
                # so its dispatch started nothing: claim once more rather than leave that job to the poll.
                if self._wakes != wakes and not self.stop.is_set() and not self._db_down:
                    continue
                self._active_slots -= 1
                return

    def _hold(self, job: GenerationJob, lost: threading.Event) -> None:
        with self._lock:
            self._held[int(job.id or 0)] = (job, lost)
            self._idle = False

    def _release(self, job: GenerationJob) -> None:
        with self._lock:
            self._held.pop(int(job.id or 0), None)

    def _on_idle(self) -> None:
        with self._lock:
            self._idle = True

    def beat(self) -> None:
        with self._lock:
            held = dict(self._held)
        try:
            with get_session() as session:
                fleet.heartbeat(session, worker_id=self.worker_id, hostname=self.hostname, pid=os.getpid(),
                                device=self.device, segmenter=_segmenter(), concurrency=self.concurrency,
                                modes=job_kinds.format_kinds(self.modes))
                still = claims.renew_leases(session, worker_id=self.worker_id, job_ids=list(held),
                                           lease_seconds=self.lease_seconds)
        except sa.exc.OperationalError as exc:
            self._on_db_error("renewing leases", exc)
            return
        self._db_up()
        for job_id in set(held) - still:
            job, lost = held[job_id]
            if job_id in self._held:
                log.warning("Job %s: lease lost (cancelled or taken over); stopping it", job_id)
                lost.set()

    def recover(self) -> None:
        try:
            with get_session() as session:
                claims.recover_stalled(session)
        except sa.exc.OperationalError as exc:
            self._on_db_error("recovering stalled jobs", exc)

    def maintenance(self) -> None:
        slots = fleet.Slots.at(datetime.now(UTC))
        self._run_once_per_fleet("daily", slots.daily, maintenance_jobs.daily)
        self._run_once_per_fleet("hourly", slots.hourly, maintenance_jobs.hourly)

    def _run_once_per_fleet(self, name: str, slot: str, fn: Callable[[], dict[str, Any]]) -> None:
        try:
            with get_session() as session:
                run = fleet.claim_maintenance(session, name=name, slot=slot, worker_id=self.worker_id)
        except sa.exc.OperationalError as exc:
            self._on_db_error(f"claiming the {name} maintenance", exc)
            return
        if run is None:
            return
        log.info("Running %s maintenance for %s", name, slot)
        try:
            result = fn()
        except Exception as exc:
            log.exception("The %s maintenance for %s failed", name, slot)
            result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        try:
            with get_session() as session:
                fleet.finish_maintenance(session, run=run, result=_jsonable(result))
        except sa.exc.SQLAlchemyError:
            log.exception("Could not record the end of the %s maintenance", name)

    def webhooks(self) -> None:
        try:
            maintenance_jobs.webhooks()
            if time.monotonic() - self._last_api_housekeeping >= API_HOUSEKEEPING_SECONDS:
                self._last_api_housekeeping = time.monotonic()
                maintenance_jobs.api_housekeeping()
        except (sa.exc.OperationalError, TransientError) as exc:
            self._on_db_error("delivering webhooks", exc)

    def tick(self) -> None:
        maintenance_jobs.privacy_tick()
        if time.monotonic() - self._last_outbox >= OUTBOX_INTERVAL_SECONDS:
            self._last_outbox = time.monotonic()
            maintenance_jobs.deliver_outbox()

    # --- database outages -------------------------------------------------

    def _on_db_error(self, doing: str, exc: BaseException) -> None:
        if not self._db_down:
            log.warning("The database is unreachable while %s (%s); retrying", doing, _first_line(exc))
        self._db_down = True

    def _db_up(self) -> None:
        if self._db_down:
            log.info("The database is reachable again")
        self._db_down = False


def drain(worker_id: str, runner: Runner, *, stop: threading.Event, lease_seconds: float | None = None,
          kinds: frozenset[str] | None = None,
          on_claim: Callable[[GenerationJob, threading.Event], None] | None = None,
          on_done: Callable[[GenerationJob], None] | None = None,
          on_idle: Callable[[], None] | None = None) -> int:
    """Claim and run jobs (of ``kinds``; None: any) one at a time until none is due or ``stop`` is set.

    Returns how many ran.
    This is one slot of the worker; the benchmark runs it with an empty runner.
    """
    done = 0
    # One connection for the slot's claims: a checkout per claim would cost a ping and a reset each.
    # If the database goes away, the claim raises, the slot ends and the next one connects afresh.
    # On PostgreSQL, finishing a job claims the next in the same statement (claims.claim_next_on_finish):
    # the separate claim below only runs for the slot's first job, and after a finish that found none.
    with get_engine().connect() as conn, claims.claim_next_on_finish(
            worker_id=worker_id, kinds=kinds, lease_seconds=lease_seconds, stop=stop) as following:
        autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            while not stop.is_set():
                job, following.job = following.job, None
                if job is None:
                    with Session(bind=autocommit, expire_on_commit=False) as session:
                        jobs = claims.claim_jobs(session, worker_id=worker_id, limit=1, lease_seconds=lease_seconds,
                                                 kinds=kinds)
                    if not jobs:
                        if on_idle:
                            on_idle()
                        break
                    job = jobs[0]
                _run_claimed(job, runner, on_claim, on_done)
                done += 1
        finally:
            if following.job is not None:  # claimed as the worker was told to stop: back to the queue
                try:
                    with Session(bind=autocommit, expire_on_commit=False) as session:
                        claims.release_job(session, job=following.job)
                except sa.exc.SQLAlchemyError as exc:
                    log.warning("Could not release job %s (%s); its lease will expire and recovery will requeue "
                                "it", following.job.id, _first_line(exc))
    return done


def _run_claimed(job: GenerationJob, runner: Runner,
                 on_claim: Callable[[GenerationJob, threading.Event], None] | None,
                 on_done: Callable[[GenerationJob], None] | None) -> None:
    lost = threading.Event()
    if on_claim:
        on_claim(job, lost)
    try:
        outcome = runner(job, lost=lost)
        log.debug("Job %s: %s", job.id, outcome)
    except Exception:
        # Only a database outage while recording the outcome gets here; the lease will expire.
        log.exception("Job %s: could not record its outcome", job.id)
    finally:
        if on_done:
            on_done(job)


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc)).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _segmenter() -> str:
    from core.generation.learned import active_name

    return active_name()


def _device_detail(device: str) -> str:
    if device != "cuda":
        return ""
    try:
        import torch

        return f" ({torch.cuda.get_device_name(0)})"
    except Exception:
        return ""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jobs.worker", description="Vorm's background worker")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="jobs one process runs at once (default: WORKER_CONCURRENCY, 1)")
    parser.add_argument("--once", "--burst", dest="once", action="store_true",
                        help="run the jobs that are due, then exit")
    parser.add_argument("--grace-seconds", type=float, default=SHUTDOWN_GRACE_SECONDS,
                        help="on SIGTERM, how long running jobs may take before they are released")
    parser.add_argument("--no-maintenance", action="store_true", help="run generation jobs only")
    parser.add_argument("--modes", default=None, metavar="KINDS",
                        help="the kinds of job this worker takes, comma-separated: " + ", ".join(job_kinds.KINDS)
                             + " (large: any mode above LARGE_JOB_MEGAPIXELS); default: WORKER_MODES, else all")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None,
                        help="where the engine runs (default: DEVICE, auto)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        modes = job_kinds.parse_kinds(args.modes if args.modes is not None else settings.worker_modes)
    except job_kinds.UnknownKind as exc:
        parser.error(str(exc))
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    worker = Worker(concurrency=args.concurrency or settings.worker_concurrency, once=args.once,
                    grace_seconds=args.grace_seconds, maintenance=not args.no_maintenance, modes=modes,
                    device=args.device)
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
