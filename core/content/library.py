"""A user's models: listing, search, rename, delete, previews and downloads. No Streamlit here.

Every function takes the caller's ``user_id`` and finds rows through it, so another
user's model is indistinguishable from a missing one (NotFound), whatever id is guessed.
Listing pages in the database (LIMIT/OFFSET on an indexed order), so a library of
thousands of models costs the same per page as one of ten.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import select

from core.audit import audit
from core.config import get_settings
from core.errors import NotFound, PermissionDenied, ValidationError
from core.i18n import N_
from core.ids import parse_id
from core.models import GenerationJob, JobStatus, Model3D, User, pk, utcnow
from core.storage import get_storage

if TYPE_CHECKING:
    from sqlmodel import Session

PAGE_SIZE = 24  # models per library page: a 4-column grid of 6 rows
MAX_NAME_CHARS = 255
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
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError(N_("The name cannot be empty."))
    if len(name) > MAX_NAME_CHARS:
        raise ValidationError(N_("The name is too long (at most {limit} characters)."), limit=MAX_NAME_CHARS)
    model = get_model(session, user_id=user_id, model_id=model_id)
    model.name = name
    session.add(model)
    audit(session, "model.renamed", user_id=user_id, model_id=model.id)
    session.commit()
    return model


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
    audit(session, "model.deleted", user_id=user_id, model_id=model_id)
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
    return data if isinstance(data, list) else list(data.get("faces", []))


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


def export_key(model: Model3D, fmt: str) -> str:
    if fmt == "glb":
        return model.glb_key
    prefix = model.storage_prefix.rstrip("/") if model.storage_prefix else model.glb_key.rsplit("/", 1)[0]
    return f"{prefix}/{EXPORT_DIR}/model.{'obj.zip' if fmt == 'obj' else fmt}"


def _convert(glb: bytes, fmt: str) -> bytes:
    from core.generation import export_mesh, load_glb  # heavy: torch and trimesh

    files = export_mesh(load_glb(glb), fmt)
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
        storage.put(key, _convert(storage.get(model.glb_key), fmt), content_type=MIME[fmt])
    return key


def export_bytes(session: Session, *, user: User, model_id: int, fmt: str) -> bytes:
    return get_storage().get(ensure_export(session, user=user, model_id=model_id, fmt=fmt))


def download_url(session: Session, *, user: User, model_id: int, fmt: str) -> str:
    """A short-lived signed URL for the download (S3 presigned, or /files/<token> locally)."""
    model = get_model(session, user_id=pk(user), model_id=model_id)
    key = ensure_export(session, user=user, model_id=pk(model), fmt=fmt)
    return get_storage().url(key, filename=download_name(model, fmt))
