"""A user's models: listing, search, rename, delete, previews and downloads. No Streamlit here.

Every function takes the caller's ``user_id`` and finds rows through it, so another
user's model is indistinguishable from a missing one (NotFound), whatever id is guessed.
Listing pages in the database (LIMIT/OFFSET on an indexed order), so a library of
thousands of models costs the same per page as one of ten.
"""

from __future__ import annotations

import io
import json
import logging
import math
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import select

from core.audit import audit, user_actor
from core.config import get_settings
from core.errors import NotFound, PermissionDenied, ValidationError
from core.i18n import N_
from core.ids import parse_id
from core.models import GenerationJob, JobStatus, Model3D, User, pk, utcnow
from core.storage import get_storage
from core.text import single_line

if TYPE_CHECKING:
    from sqlmodel import Session

log = logging.getLogger(__name__)

PAGE_SIZE = 24  # models per library page: a 4-column grid of 6 rows
MAX_NAME_CHARS = 255
#: Every model's longest side when printed, unless its owner chose another: slicers read millimetres,
#: and a mesh of largest extent 1 came out as a 1 mm speck.
DEFAULT_PRINT_SIZE_MM = 100.0
PRINT_SIZE_MM = (1.0, 2000.0)  # a bead to a 2 m print, as the engine's size_mm
MM_PER_METRE = 1000.0  # GLB downloads are in metres, glTF's unit
EXPORT_DIR = "exports"  # converted downloads are cached beside the GLB, under the model's prefix
ALL_FORMATS = ("glb", "obj", "stl", "ply", "3mf")
MIME = {
    "glb": "model/gltf-binary",
    "obj": "application/zip",
    "stl": "model/stl",
    "ply": "application/octet-stream",
    "3mf": "model/3mf",
}


class FormatNotInPlan(PermissionDenied):
    """The {fmt} format is not part of your plan. Your plan includes: {allowed}. Upgrade to premium for every format."""  # noqa: E501

    code = "format_not_in_plan"


@dataclass(frozen=True)
class ModelPage:
    items: list[Model3D]
    total: int  #: models matching the search, over all pages
    page: int  #: 1-based, clamped to the pages that exist
    pages: int
    per_page: int


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _owned(user_id: int, search: str = "") -> Any:
    query = select(Model3D).where(Model3D.user_id == user_id)
    search = (search or "").strip()
    if search:
        query = query.where(sa.func.lower(Model3D.name).like(f"%{_escape_like(search.lower())}%", escape="\\"))
    return query


def list_models(session: Session, *, user_id: int, search: str = "", page: int = 1,
                per_page: int = PAGE_SIZE) -> ModelPage:
    """One page of the user's models, newest first, optionally filtered by a name fragment."""
    base = _owned(user_id, search)
    total = int(session.exec(select(sa.func.count()).select_from(base.subquery())).one())
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, int(page)), pages)
    rows = session.exec(
        base.order_by(Model3D.created_at.desc(), Model3D.id.desc())  # type: ignore[attr-defined, union-attr]
        .offset((page - 1) * per_page).limit(per_page)
    ).all()
    return ModelPage(items=list(rows), total=total, page=page, pages=pages, per_page=per_page)  # type: ignore[arg-type]


def models_before(session: Session, *, user_id: int, before_id: int | None = None,
                  limit: int = PAGE_SIZE) -> list[Model3D]:
    """The user's models newest first (by id), older than ``before_id``: a cursor that stays stable while
    models are added or deleted, for clients that page through everything (the API)."""
    query = select(Model3D).where(Model3D.user_id == user_id)
    if before_id is not None:
        query = query.where(Model3D.id < before_id)  # type: ignore[operator]
    return list(session.exec(query.order_by(Model3D.id.desc()).limit(limit)).all())  # type: ignore[union-attr]


def count_models(session: Session, *, user_id: int) -> int:
    return int(session.exec(select(sa.func.count()).select_from(Model3D).where(Model3D.user_id == user_id)).one())


def open_jobs(session: Session, *, user_id: int, limit: int = 10) -> list[GenerationJob]:
    """The user's jobs still waiting or running, and recent failures, newest first."""
    rows = session.exec(
        select(GenerationJob).where(GenerationJob.user_id == user_id)
        .where(GenerationJob.status.in_([JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED]))  # type: ignore[attr-defined]
        .where(GenerationJob.created_at >= utcnow() - timedelta(days=2))
        .order_by(GenerationJob.id.desc()).limit(limit)  # type: ignore[union-attr]
    ).all()
    return list(rows)


def get_model(session: Session, *, user_id: int, model_id: int | str) -> Model3D:
    """The model if it belongs to the user; NotFound otherwise (also for ids that are not numbers,
    or numbers no row can have: the database would fail on them instead of finding nothing)."""
    mid = parse_id(model_id)
    if mid is None:
        raise NotFound(N_("That model does not exist, or it is not yours."))
    model = session.exec(select(Model3D).where(Model3D.id == mid).where(Model3D.user_id == user_id)).first()
    if model is None:
        raise NotFound(N_("That model does not exist, or it is not yours."))
    return model


def rename_model(session: Session, *, user_id: int, model_id: int, name: str) -> Model3D:
    name = " ".join(single_line(name).split())
    if not name:
        raise ValidationError(N_("The name cannot be empty."))
    if len(name) > MAX_NAME_CHARS:
        raise ValidationError(N_("The name is too long (at most {limit} characters)."), limit=MAX_NAME_CHARS)
    model = get_model(session, user_id=user_id, model_id=model_id)
    model.name = name
    session.add(model)
    audit(session, "model.renamed", user_id=user_id, actor=user_actor(user_id), model_id=model.id)
    session.commit()
    return model


def check_print_size(size_mm: object) -> float:
    """``size_mm`` as a float within PRINT_SIZE_MM, rounded to 0.1 mm; else ValidationError."""
    ok = isinstance(size_mm, int | float) and not isinstance(size_mm, bool) and math.isfinite(size_mm)
    if not ok or not PRINT_SIZE_MM[0] <= size_mm <= PRINT_SIZE_MM[1]:  # type: ignore[operator]
        raise ValidationError(N_("The print size must be a number of millimetres from {low} to {high}."),
                              low=int(PRINT_SIZE_MM[0]), high=int(PRINT_SIZE_MM[1]))
    return round(float(size_mm), 1)  # type: ignore[arg-type]


def set_print_size(session: Session, *, user_id: int, model_id: int, size_mm: float) -> Model3D:
    """The longest side of the printed model in mm; the downloads follow it from now on."""
    size = check_print_size(size_mm)
    model = get_model(session, user_id=user_id, model_id=model_id)
    if model.print_size_mm == size:
        return model
    model.print_size_mm = size
    session.add(model)
    audit(session, "model.print_size_changed", user_id=user_id, model_id=model.id, size_mm=size)
    session.commit()
    _drop_exports(model)
    return model


def print_extents(model: Model3D) -> list[float]:
    """The model's width, height and depth in mm at its print size ([] when its extents are unknown)."""
    extents = [float(e) for e in model.extents or []]
    largest = max(extents, default=0.0)
    if largest <= 0:
        return []
    return [e * model.print_size_mm / largest for e in extents]


def model_keys(model: Model3D) -> list[str]:
    """Every stored object of the model: under its prefix, plus any key recorded outside it."""
    storage = get_storage()
    keys = set(storage.list(model.storage_prefix.rstrip("/") + "/")) if model.storage_prefix else set()
    keys.update(k for k in [model.glb_key, model.preview_key, *model.thumbnail_keys.values()] if k)
    return sorted(keys)


def delete_model(session: Session, *, user_id: int, model_id: int) -> None:
    """Delete the model's files and row. The job that made it stays, without its model link."""
    model = get_model(session, user_id=user_id, model_id=model_id)
    get_storage().delete_many(model_keys(model))
    for job in session.exec(select(GenerationJob).where(GenerationJob.model_id == model.id)
                            .where(GenerationJob.user_id == user_id)).all():
        job.model_id = None
        session.add(job)
    session.delete(model)
    audit(session, "model.deleted", user_id=user_id, actor=user_actor(user_id), model_id=model_id)
    from core.webhooks import outbox

    # In the same transaction: the event goes out if and only if the model is gone.
    outbox.emit(session, user_id=user_id, event_type="model.deleted", event_key=f"model.{model.id}.deleted",
                data={"id": model.id, "name": model.name, "job_id": model.job_id})
    session.commit()


# --- what the pages show ------------------------------------------------


def thumbnail_url(model: Model3D, *, view: str | None = None) -> str | None:
    """A short-lived signed URL of one thumbnail (the first, or the named view)."""
    keys = model.thumbnail_keys or {}
    key = keys.get(view) if view else next(iter(keys.values()), None)
    return get_storage().url(key) if key else None


def thumbnail_urls(model: Model3D) -> dict[str, str]:
    storage = get_storage()
    return {name: storage.url(key) for name, key in (model.thumbnail_keys or {}).items()}


def preview_polygons(model: Model3D) -> list[dict[str, Any]]:
    """The viewer's data: [{"polygon": [[x, y, z] x 3], "color": [r, g, b]}, ...]; [] when there is none."""
    if not model.preview_key:
        return []
    try:
        data = json.loads(get_storage().get(model.preview_key))
    except (NotFound, ValueError):
        return []
    if isinstance(data, dict):
        data = data.get("faces", [])
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


#: deck.gl's OrbitView (the viewer) puts its camera this many viewport heights from the target
#: (its default 50° field of view: 0.5 / tan 25°), and draws 2**zoom pixels per unit there.
ORBIT_CAMERA_DISTANCE = 0.5 / math.tan(math.radians(50) / 2)
VIEWER_FILL = 0.6  # the model's largest side spans this share of the viewer's height at first
CAMERA_CLEARANCE = 1.2  # zoomed in fully, the camera stays this many bounding radii from the centre
ZOOM_OUT_LIMIT = 3.0  # halvings: zoomed out fully, the model is an eighth of its first size


@dataclass(frozen=True)
class ViewerCamera:
    target: list[float]  #: the centre of the model's bounding box
    zoom: float  #: the first view
    min_zoom: float
    max_zoom: float  #: the closest the wheel gets: the camera never enters the model


def viewer_camera(polygons: list[dict[str, Any]], height_px: int) -> ViewerCamera:
    """Where the viewer looks from, and how far the wheel may zoom, from the model's own size."""
    points = [p for poly in polygons for p in poly.get("polygon", [])]
    if not points:
        return camera_for_bounds([-0.5, -0.5, -0.5], [0.5, 0.5, 0.5], height_px)
    return camera_for_bounds([min(p[i] for p in points) for i in range(3)],
                             [max(p[i] for p in points) for i in range(3)], height_px)


def camera_for_bounds(lo: list[float], hi: list[float], height_px: int) -> ViewerCamera:
    """The viewer's camera for a model whose bounding box runs from ``lo`` to ``hi``.

    The camera sits ORBIT_CAMERA_DISTANCE·height_px/2**zoom model units from the target; it is
    kept CAMERA_CLEARANCE times the bounding sphere's radius away, so that however the model is
    turned, no part of it comes closer than a fifth of that radius.
    """
    lo, hi = [float(v) for v in lo], [float(v) for v in hi]
    target = [(a + b) / 2 for a, b in zip(lo, hi, strict=True)]
    extent = max(max(b - a for a, b in zip(lo, hi, strict=True)), 1e-6)
    radius = max(math.dist(lo, hi) / 2, 1e-6)
    zoom = math.log2(height_px * VIEWER_FILL / extent)
    max_zoom = math.log2(ORBIT_CAMERA_DISTANCE * height_px / (CAMERA_CLEARANCE * radius))
    return ViewerCamera(target=target, zoom=min(zoom, max_zoom), min_zoom=zoom - ZOOM_OUT_LIMIT, max_zoom=max_zoom)


def purge_date(session: Session, *, user: User, model: Model3D) -> datetime | None:
    """When a free user's model will be purged; None when it is kept (premium)."""
    from core.privacy import retention

    return retention.purge_date(session, user=user, created_at=model.created_at)


def days_left(when: datetime | None, *, now: datetime | None = None) -> int | None:
    if when is None:
        return None
    now = now or datetime.now(when.tzinfo)
    return max(0, math.ceil((when - now).total_seconds() / 86400))


# --- downloads ----------------------------------------------------------


def allowed_formats(user: User) -> list[str]:
    return [f for f in get_settings().tier(user.plan)["formats"] if f in ALL_FORMATS]


def download_name(model: Model3D, fmt: str) -> str:
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in (model.name or f"model-{model.id}"))[:80]
    return f"{stem or 'model'}.{'zip' if fmt == 'obj' else fmt}"


def _exports_prefix(model: Model3D) -> str:
    prefix = model.storage_prefix.rstrip("/") if model.storage_prefix else model.glb_key.rsplit("/", 1)[0]
    return f"{prefix}/{EXPORT_DIR}/"


def export_key(model: Model3D, fmt: str) -> str:
    """Where the download in ``fmt`` at the model's current print size is cached."""
    size = f"{model.print_size_mm:g}"
    return f"{_exports_prefix(model)}model-{size}mm.{'obj.zip' if fmt == 'obj' else fmt}"


def _drop_exports(model: Model3D) -> None:
    """Forget the downloads made at an earlier print size. Their keys name their size, so one that
    storage fails to delete is never handed out; it goes with the model's folder."""
    storage = get_storage()
    try:
        stale = [k for k in storage.list(_exports_prefix(model)) if k != export_key(model, k.rsplit(".", 1)[-1])]
        if stale:
            storage.delete_many(stale)
    except Exception:
        log.warning("Could not delete the old downloads of model %s", model.id, exc_info=True)


def _convert(glb: bytes, fmt: str, size_mm: float) -> bytes:
    """The stored GLB in ``fmt``, scaled so that its longest side is ``size_mm``: millimetres for the
    printable formats (what slicers read), metres for GLB (glTF's unit: a 100 mm model is 0.1)."""
    from core.generation.export import glb_extent, scaled_glb

    extent = glb_extent(glb)
    factor = size_mm / extent if extent > 0 else 1.0
    if fmt == "glb":
        return scaled_glb(glb, factor / MM_PER_METRE)
    from core.generation import export_mesh, load_glb  # heavy: trimesh

    mesh = load_glb(glb)
    mesh.vertices = mesh.vertices * factor
    files = export_mesh(mesh, fmt)
    if len(files) == 1 and fmt != "obj":
        return next(iter(files.values()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def ensure_export(session: Session, *, user: User, model_id: int, fmt: str) -> str:
    """The storage key of the model in ``fmt``, converted from the GLB on first request and cached."""
    fmt = (fmt or "").lower()
    model = get_model(session, user_id=pk(user), model_id=model_id)
    if fmt not in ALL_FORMATS:
        raise ValidationError(N_("Unknown format {fmt}: use one of {formats}."), fmt=fmt,
                              formats=", ".join(ALL_FORMATS))
    allowed = allowed_formats(user)
    if fmt not in allowed:
        raise FormatNotInPlan(fmt=fmt.upper(), allowed=", ".join(f.upper() for f in allowed))
    key = export_key(model, fmt)
    storage = get_storage()
    if not storage.exists(key):
        storage.put(key, _convert(storage.get(model.glb_key), fmt, model.print_size_mm), content_type=MIME[fmt])
    return key


def export_bytes(session: Session, *, user: User, model_id: int, fmt: str) -> bytes:
    return get_storage().get(ensure_export(session, user=user, model_id=model_id, fmt=fmt))


def download_url(session: Session, *, user: User, model_id: int, fmt: str) -> str:
    """A short-lived signed URL for the download (S3 presigned, or /files/<token> locally)."""
    model = get_model(session, user_id=pk(user), model_id=model_id)
    key = ensure_export(session, user=user, model_id=pk(model), fmt=fmt)
    return get_storage().url(key, filename=download_name(model, fmt))
