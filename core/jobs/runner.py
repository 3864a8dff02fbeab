"""Running one claimed generation job: uploads from storage → engine → outputs in storage → Model3D row.

Must be importable without Streamlit and without torch: the engine is imported
inside the functions that need it, once per process (Python caches the module).

How a failure ends (the worker only claims and calls :func:`process`):

- engine input errors (``core.errors.ValidationError``, e.g. no foreground) fail the
  job at once with the engine's code and message, which the user sees;
- transient errors (storage unreachable or refusing writes, database restart; classified where
  they arise: ``core.storage.StorageUnavailable``, ``core.db``) put it back in the queue with
  exponential backoff, without using up an attempt, until they have lasted
  ``job_transient_deadline_seconds`` since the first one (an outage, however many retries);
- anything else is an engine crash: retried with backoff until ``max_attempts``, then failed.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.config import get_settings
from core.db import get_session
from core.errors import NotFound, TransientError, ValidationError, stored_params
from core.jobs import claims, queue
from core.jobs.errors import JobCrashed, TemporaryProblem
from core.models import GenerationJob, Model3D, Upload, utcnow
from core.storage import Storage, get_storage, user_prefix

log = logging.getLogger(__name__)

PROGRESS_MIN_INTERVAL_SECONDS = 1.0  # progress writes are throttled; stage changes always go through
#: Transient failures further apart than this are separate spells; the deadline counts per spell, so
#: a hiccup this morning does not shorten the patience for an outage this afternoon.
TRANSIENT_STREAK_GAP_SECONDS = 900.0
ENGINE_PLUGINS_ENV = "VORM_ENGINE_PLUGINS"  # comma-separated modules that register extra engines

ProgressFn = Callable[[str, float], None]
ENGINE_MODES = ("inflate", "relief", "carve")  # what an engine reports having made
#: The thumbnail the library's card shows is rendered with the job; the model page's other views
#: (core.generation.render.THUMBNAIL_VIEWS) once the job is recorded, so the user sees the model sooner.
VIEWS_AT_JOB_TIME = ("front",)


class JobLost(Exception):
    """The job was cancelled or taken over by another worker while it ran; its result is discarded."""


class MissingUpload(ValidationError):
    """An input image of this job no longer exists; upload it again and start a new generation."""

    code = "upload_missing"


# --- the engine, once per process ----------------------------------------

_warm_lock = threading.Lock()
_device: str | None = None


def load_plugins() -> list[str]:
    """Import the modules named in VORM_ENGINE_PLUGINS (each registers its engines on import)."""
    names = [n.strip() for n in os.environ.get(ENGINE_PLUGINS_ENV, "").split(",") if n.strip()]
    for name in names:
        importlib.import_module(name)
    return names


def warm_up(wanted: str | None = None) -> str:
    """Load the engine and choose the device once per process; returns the device name ("cuda" or "cpu").

    ``wanted``: "auto", "cpu" or "cuda" (the worker's ``--device``); default: the DEVICE setting.
    """
    global _device
    with _warm_lock:
        if _device is None:
            wanted = wanted or get_settings().device
            try:
                from core.generation.device import resolve_device
            except ModuleNotFoundError:  # an engine without the device helper, or none yet
                _device = "cpu" if wanted == "auto" else wanted
            else:
                _device = str(resolve_device(wanted).type)
            try:
                importlib.import_module("core.generation.engine")  # torch and the built-in engines, once
            except ImportError as exc:
                log.warning("The engine cannot be imported (%s); generation jobs will fail.", exc)
            load_plugins()
        return _device


# --- uploads --------------------------------------------------------------


def load_inputs(session: Session, job: GenerationJob, storage: Storage) -> list[bytes]:
    """The job's images in the order given; MissingUpload when one is gone."""
    rows = session.exec(select(Upload).where(col(Upload.id).in_(job.upload_ids),
                                             col(Upload.user_id) == job.user_id)).all()
    by_id = {row.id: row for row in rows}
    images = []
    for upload_id in job.upload_ids:
        row = by_id.get(upload_id)
        if row is None:
            raise MissingUpload()
        try:
            images.append(storage.get(row.storage_key))
        except NotFound:
            raise MissingUpload() from None
    return images


# --- progress -------------------------------------------------------------


class Progress:
    """The engine's progress callback: writes stage and percent, throttled; raises JobLost when the claim is gone."""

    def __init__(self, job: GenerationJob, lost: threading.Event | None = None) -> None:
        self.job = job
        self.lost = lost or threading.Event()
        self._last_stage: str | None = None
        self._last_write = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        if self.lost.is_set():
            raise JobLost()
        # The engine reports 0..1; tolerate 0..100 as well.
        pct = int(round(fraction * 100 if fraction <= 1.0 else fraction))
        now = time.monotonic()
        if stage == self._last_stage and pct < 100 and now - self._last_write < PROGRESS_MIN_INTERVAL_SECONDS:
            return
        self._last_stage, self._last_write = stage, now
        try:
            with get_session() as session:
                held = claims.update_progress(session, job=self.job, stage=stage, pct=pct)
        except sa.exc.OperationalError:
            log.warning("Job %s: could not record progress (database unreachable)", self.job.id)
            return
        if not held:
            self.lost.set()
            raise JobLost()


# --- one job --------------------------------------------------------------


def _engine_options(job: GenerationJob, device: str) -> Any:
    from core.generation import GenerationOptions  # type: ignore[attr-defined]

    known = {f.name for f in dataclasses.fields(GenerationOptions)}
    values = {k: v for k, v in (job.options or {}).items()
              if k in known and k not in ("mode", "device", "thumbnail_views")}
    return GenerationOptions(mode=job.mode, device=device, thumbnail_views=list(VIEWS_AT_JOB_TIME), **values)


def store_outputs(storage: Storage, *, job: GenerationJob, result: Any) -> Model3D:
    """Write GLB, thumbnails and the preview under a fresh prefix; returns the unsaved Model3D row."""
    prefix = f"{user_prefix(job.user_id)}models/{uuid.uuid4().hex}/"
    glb_key = prefix + "model.glb"
    storage.put(glb_key, result.glb, "model/gltf-binary")
    thumbs: dict[str, str] = {}
    for name, png in (result.thumbnails or {}).items():
        key = f"{prefix}thumb_{name}.png"
        storage.put(key, png, "image/png")
        thumbs[name] = key
    preview_key = None
    preview = _preview(result)
    if preview is not None:
        preview_key = prefix + "preview.json"
        storage.put(preview_key, json.dumps(preview, separators=(",", ":")).encode(), "application/json")
    stats = dict(result.stats or {})
    stats.setdefault("glb_bytes", len(result.glb))  # the API's size_bytes
    mesh = getattr(result, "mesh", None)
    faces = int(stats.get("faces") or (len(mesh.faces) if mesh is not None else 0))
    watertight = bool(stats.get("watertight", getattr(mesh, "is_watertight", False)))
    extents = stats.get("extents")
    if extents is None and mesh is not None:
        extents = [float(x) for x in mesh.extents]
    # "auto" is a request, not a mode: the library and the model page say what the engine made.
    mode = str(stats["mode"]) if stats.get("mode") in ENGINE_MODES else job.mode
    return Model3D(user_id=job.user_id, job_id=job.id, name=job.name or f"Model {job.id}", mode=mode,
                   storage_prefix=prefix, glb_key=glb_key, preview_key=preview_key, thumbnail_keys=thumbs,
                   faces=faces, watertight=watertight, extents=list(extents or []), stats=_jsonable(stats),
                   print_size_mm=_print_size(job))


def add_later_views(storage: Storage, *, model: Model3D, result: Any, device: str) -> None:
    """Render the thumbnails the engine left for later (``deferred_thumbnails``) and add them to the model.

    Never fails the job: a model without them shows the views it has. When the model was deleted
    meanwhile, the new files are deleted too.
    """
    views = list(getattr(result, "deferred_thumbnails", None) or [])
    mesh = getattr(result, "mesh", None)
    if not views or mesh is None or model.id is None:
        return  # the engine left none for later (a plugin engine renders what it renders)
    try:
        from core.generation import render
        from core.generation.device import resolve_device

        pngs = render.thumbnails(mesh, device=resolve_device(device), views=views)
        keys = {}
        for name, png in pngs.items():
            keys[name] = f"{model.storage_prefix}thumb_{name}.png"
            storage.put(keys[name], png, "image/png")
        if not keys:
            return
        with get_session() as session:
            row = session.get(Model3D, model.id, with_for_update=True)
            if row is not None:
                row.thumbnail_keys = {**(row.thumbnail_keys or {}), **keys}
                session.add(row)
                session.commit()
                return
        storage.delete_many(list(keys.values()))  # the model was deleted while they were drawn
    except Exception:
        log.warning("Model %s: could not add the later thumbnails", model.id, exc_info=True)


def _print_size(job: GenerationJob) -> float:
    """The print size asked for with the job, else the default: every model has one."""
    from core.content.library import DEFAULT_PRINT_SIZE_MM, check_print_size

    try:
        return check_print_size((job.options or {}).get("size_mm"))
    except ValidationError:
        return DEFAULT_PRINT_SIZE_MM


def _preview(result: Any) -> Any:
    mesh = getattr(result, "mesh", None)
    if mesh is None:
        return None
    try:
        from core.generation import preview_faces  # type: ignore[attr-defined]
    except ImportError:
        return None
    return preview_faces(mesh, max_faces=6000)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TransientError | sa.exc.OperationalError | sa.exc.InterfaceError | ConnectionError)


def process(job: GenerationJob, *, lost: threading.Event | None = None, storage: Storage | None = None) -> str:
    """Run one claimed job to its end; returns "succeeded", "failed", "retry" or "lost".

    Exceptions only escape when the database cannot record the outcome; the lease then
    expires and stalled-job recovery puts the job back.
    """
    storage = storage or get_storage()
    device = warm_up()
    started = time.monotonic()
    model: Model3D | None = None
    try:
        from core.generation import generate  # type: ignore[attr-defined]

        with get_session() as session:
            t0 = time.monotonic()
            images = load_inputs(session, job, storage)
            load_seconds = time.monotonic() - t0
        options = _engine_options(job, device)
        result = generate(images, options, Progress(job, lost))
        if lost is not None and lost.is_set():
            raise JobLost()
        t0 = time.monotonic()
        model = store_outputs(storage, job=job, result=result)
        stats = dict(model.stats)
        stats.setdefault("device", device)
        stats.update(seconds_load=round(load_seconds, 3), seconds_store=round(time.monotonic() - t0, 3),
                     seconds_total=round(time.monotonic() - started, 3), attempt=job.attempts,
                     worker_id=job.worker_id, faces=model.faces)
        model.stats = stats
        with get_session() as session:
            if claims.complete_job(session, job=job, stats=stats, model=model):
                log.info("Job %s succeeded in %.1f s on %s (%s faces)", job.id, stats["seconds_total"], device,
                         model.faces)
                add_later_views(storage, model=model, result=result, device=device)
                return "succeeded"
        raise JobLost()
    except JobLost:
        log.warning("Job %s was cancelled, taken over or released at shutdown; its result is discarded", job.id)
        _discard(storage, model)
        return "lost"
    except ValidationError as exc:
        _discard(storage, model)
        log.info("Job %s failed on its input: %s (%s)", job.id, exc, exc.code)
        with get_session() as session:
            claims.fail_job(session, job=job, code=exc.code, message=str(exc), params=stored_params(exc))
        return "failed"
    except Exception as exc:
        _discard(storage, model)
        return _retry_or_fail(job, exc)


def _transient_detail(exc: BaseException) -> str:
    """What the operator needs (it may name server paths); never shown to users."""
    detail = getattr(exc, "detail", "") or str(exc)
    return f"{type(exc).__name__}: {detail}"[:300]


def _retry_or_fail(job: GenerationJob, exc: Exception) -> str:
    stats = dict(job.stats or {})
    if _is_transient(exc):
        settings = get_settings()
        retries = int(stats.get("transient_retries", 0)) + 1
        stats["transient_retries"] = retries
        now = utcnow()
        since = _parse_time(stats.get("transient_since"))
        last = _parse_time(stats.get("transient_last"))
        gap = max(TRANSIENT_STREAK_GAP_SECONDS, 3 * settings.job_transient_retry_max_seconds)
        if since is None or last is None or (now - last).total_seconds() > gap:
            since = now  # a new spell of trouble: the deadline counts from here
        stats.update(transient_since=since.isoformat(), transient_last=now.isoformat())
        detail = _transient_detail(exc)
        lasted = (now - since).total_seconds()
        log.warning("Job %s: transient error for %.0f s (retry %d): %s", job.id, lasted, retries, detail)
        with get_session() as session:
            if lasted >= settings.job_transient_deadline_seconds:
                claims.fail_job(session, job=job, code=TemporaryProblem.code, stats=stats,
                                message=f"Transient errors for {lasted:.0f} s, {retries} retries; gave up ({detail})")
                return "failed"
            delay = min(queue.backoff_seconds(retries), settings.job_transient_retry_max_seconds)
            claims.retry_job(session, job=job, delay_seconds=delay, code="transient",
                             message=f"A temporary problem occurred; it will be retried ({detail})",
                             count_attempt=False, stats=stats)
        return "retry"
    log.exception("Job %s crashed on attempt %d of %d", job.id, job.attempts, job.max_attempts)
    detail = f"{type(exc).__name__}: {exc}"[:300]
    with get_session() as session:
        if job.attempts >= job.max_attempts:
            # The detail (it can name server paths) is for the operator; the user gets JobCrashed's message.
            claims.fail_job(session, job=job, code=JobCrashed.code, params={"attempts": job.attempts},
                            message=f"The generation failed {job.attempts} times with an internal error ({detail})")
            return "failed"
        claims.retry_job(session, job=job, delay_seconds=queue.backoff_seconds(job.attempts), code="crashed",
                        message=f"The generation failed with an internal error; it will be retried. ({detail})")
    return "retry"


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _discard(storage: Storage, model: Model3D | None) -> None:
    if model is None:
        return
    try:
        storage.delete_many(list(storage.list(model.storage_prefix)))
    except Exception:
        log.warning("Could not delete the discarded outputs under %s", model.storage_prefix, exc_info=True)
