"""The FastAPI application behind ``/api/v1`` (mounted among the ``st.App`` routes in app.py).

Handlers are thin: they authenticate the key, count it against the shared rate limit, and call
the same domain functions as the pages (``core.jobs.queue``, ``core.content``, ``core.webhooks``).
Every error leaves as ``application/problem+json`` (RFC 9457) with our code and a message in the
language of ``Accept-Language``: VormErrors, FastAPI's own validation errors, unknown paths and
anything unexpected (logged here, never shown).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Header, Path, Query, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.api import errors as api_errors
from core.api import keys, ratelimit, schemas
from core.api.docs import DOCS_HTML
from core.config import get_settings
from core.db import get_session
from core.errors import NotFound, QuotaExceeded, ValidationError, VormError
from core.i18n import N_, normalise_lang
from core.ids import MAX_ID
from core.models import GenerationJob, JobStatus, Model3D, User, WebhookDelivery, WebhookEndpoint, pk

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
SSE_POLL_SECONDS = 1.0
SSE_KEEPALIVE_SECONDS = 15.0
SSE_MAX_SECONDS = 3600.0  # a stream ends after an hour; the client reconnects
ACTIVE_JOB_RETRY_AFTER_SECONDS = 10
PUBLIC_STATUS = {"queued": JobStatus.QUEUED, "running": JobStatus.RUNNING, "succeeded": JobStatus.SUCCEEDED,
                 "failed": JobStatus.FAILED, "canceled": JobStatus.CANCELLED}
TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


# --- errors -----------------------------------------------------------------


def request_lang(request: Request) -> str:
    """en or nl, from Accept-Language (its q-values honoured); English when neither is asked for."""
    offers: list[tuple[float, int, str]] = []
    for i, part in enumerate((request.headers.get("accept-language") or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and tag.strip()[:2].lower() in ("en", "nl") and q > 0:
            offers.append((-q, i, tag.strip()))
    return normalise_lang(sorted(offers)[0][2]) if offers else "en"


def problem(request: Request, exc: VormError, *, status: int | None = None,
            headers: dict[str, str] | None = None, errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    from http import HTTPStatus

    status = status or api_errors.status_for(exc)
    lang = request_lang(request)
    body: dict[str, Any] = {"type": f"urn:vorm:problem:{exc.code}", "title": HTTPStatus(status).phrase,
                            "status": status, "detail": exc.render(lang), "code": exc.code,
                            "instance": request.url.path}
    if errors is not None:
        body["errors"] = errors
    all_headers = {"Content-Language": lang, "Cache-Control": "no-store"}
    if status == 401:
        all_headers["WWW-Authenticate"] = 'Bearer realm="vorm"'
    rate = getattr(request.state, "rate", None)
    if rate is not None:
        all_headers.update(rate.headers())
    all_headers.update(headers or {})
    return JSONResponse(body, status_code=status, headers=all_headers, media_type=PROBLEM_TYPE)


def _retry_after(exc: VormError) -> dict[str, str]:
    if not isinstance(exc, QuotaExceeded):
        return {}
    if exc.code == "daily_quota":
        now = datetime.now(UTC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return {"Retry-After": str(max(1, int((midnight - now).total_seconds())))}
    if isinstance(exc, api_errors.RateLimited):
        return {"Retry-After": str(exc.context.get("retry_after", 1))}
    return {"Retry-After": str(ACTIVE_JOB_RETRY_AFTER_SECONDS)}


async def _vorm_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, VormError)
    return problem(request, exc, headers=_retry_after(exc))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
               for e in exc.errors()]
    fields = ", ".join(sorted({".".join(d["loc"][1:] or d["loc"]) for d in details})) or "?"  # type: ignore[arg-type]
    err = ValidationError(N_("Some fields of the request are missing or not valid: {fields}."), fields=fields)
    return problem(request, err, status=422, errors=details)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        err: VormError = api_errors.RouteNotFound()
    elif exc.status_code == 405:
        err = api_errors.MethodNotAllowed()
        # Starlette's Allow names only the first route of the path; a path can have several (GET and DELETE).
        from starlette.routing import Match

        allowed = sorted({m for route in request.app.router.routes if route.matches(request.scope)[0] == Match.PARTIAL
                          for m in getattr(route, "methods", None) or ()})
        if allowed:
            return problem(request, err, status=405, headers={"Allow": ", ".join(allowed)})
    elif exc.status_code == 413:
        err = api_errors.RequestTooLarge()
    else:
        err = api_errors.InvalidRequest(detail=str(exc.detail))
    return problem(request, err, status=exc.status_code, headers=dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("API request %s %s failed", request.method, request.url.path)
    return problem(request, api_errors.InternalError(), status=500)


# --- the caller ---------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    user: User
    key_id: int


bearer = HTTPBearer(auto_error=False, description="An API key from the Account page: vorm_...")


def requests_per_minute(plan: str) -> int:
    settings = get_settings()
    return int(settings.premium_api_requests_per_minute if plan == "premium" else settings.free_api_requests_per_minute)


def _session() -> Iterator[Session]:
    # One session per request, shared by the key check and the handler (FastAPI caches the dependency).
    with get_session() as session:
        yield session


SessionDep = Annotated[Session, Depends(_session)]


def caller(request: Request, response: Response, session: SessionDep,
           _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
    key, user = keys.authenticate(session, request.headers.get("authorization"))
    state = ratelimit.hit(session, key_id=pk(key), limit=requests_per_minute(user.plan))
    who = Caller(user=user, key_id=pk(key))
    request.state.rate = state
    if not state.allowed:
        raise api_errors.RateLimited(limit=state.limit, retry_after=state.reset_seconds)
    for name, value in state.headers().items():
        response.headers[name] = value
    return who


CallerDep = Annotated[Caller, Depends(caller)]
JobId = Annotated[int, Path(ge=1, le=MAX_ID)]
Cursor = Annotated[str | None, Query(max_length=10, pattern=r"^[1-9][0-9]{0,9}$",
                                      description="next_cursor of the page before")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


def _cursor(value: str | None) -> int | None:
    from core.ids import parse_id

    if value is None:
        return None
    cursor = parse_id(value)
    if cursor is None:
        raise ValidationError(N_("The cursor is not valid: use next_cursor from the page before."))
    return cursor



# --- views --------------------------------------------------------------------


def job_view(session: Session, job: GenerationJob, lang: str) -> schemas.Job:
    from core.errors import render_code
    from core.jobs import queue
    from core.jobs.errors import JobFailed
    from core.webhooks.outbox import public_status

    error = None
    if job.status == JobStatus.FAILED:
        message = render_code(job.error_code, job.error_params, lang, default=JobFailed) or ""
        error = schemas.JobError(code=job.error_code or JobFailed.code, message=message)
    return schemas.Job(id=pk(job), status=public_status(job.status), mode=job.mode, name=job.name,  # type: ignore[arg-type]
                       progress=int(job.progress_pct or 0), stage=job.progress_stage,
                       queue_position=queue.queue_position(session, job=job),
                       model_id=job.model_id if job.status == JobStatus.SUCCEEDED else None, error=error,
                       created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at)


def download_links(model: Model3D, user: User) -> dict[str, str]:
    """Format -> signed URL. GLB straight from storage; other formats through a signed link that converts on
    first use (``/api/v1/downloads/<token>``), so listing a model costs no conversion."""
    from core.config import public_url
    from core.content import library
    from core.signing import sign
    from core.storage import get_storage

    settings = get_settings()
    links: dict[str, str] = {}
    for fmt in library.allowed_formats(user):
        if fmt == "glb":
            links[fmt] = get_storage().url(model.glb_key, filename=library.download_name(model, "glb"))
        else:
            token = sign({"m": pk(model), "u": model.user_id, "t": fmt}, purpose="api_download",
                         ttl_seconds=settings.presign_seconds)
            links[fmt] = f"{public_url().rstrip('/')}/api/v1/downloads/{token}"
    return links


def model_view(model: Model3D, user: User) -> schemas.Model:
    size = model.stats.get("glb_bytes") if isinstance(model.stats, dict) else None
    return schemas.Model(id=pk(model), name=model.name, mode=model.mode, job_id=model.job_id, faces=model.faces,
                         size_bytes=int(size) if isinstance(size, int | float) else None,
                         extents=[float(x) for x in model.extents or []], watertight=bool(model.watertight),
                         created_at=model.created_at, downloads=download_links(model, user))


def webhook_view(row: WebhookEndpoint) -> schemas.Webhook:
    return schemas.Webhook(id=pk(row), url=row.url, event_types=list(row.event_types), enabled=row.enabled,
                           disabled_reason=row.disabled_reason, created_at=row.created_at)


def delivery_view(row: WebhookDelivery) -> schemas.Delivery:
    return schemas.Delivery(id=pk(row), endpoint_id=row.endpoint_id, event_type=row.event_type,
                            message_id=row.message_id, status=row.status, attempts=row.attempts,  # type: ignore[arg-type]
                            last_status_code=row.last_status_code, last_error=row.last_error,
                            created_at=row.created_at, delivered_at=row.delivered_at,
                            next_attempt_at=row.next_attempt_at if row.status == "pending" else None)


# --- the application ------------------------------------------------------------


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "model": schemas.Problem,
            "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


#: One server-sent event as clients parse it: ``data`` is the job as JSON.
SSE_EVENT = {"type": "object", "properties": {"event": {"type": "string", "enum": ["progress", "end"]},
                                              "data": {"type": "string"}, "id": {"type": "string"}}}
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_response("The request could not be read (a malformed body)"),
    401: _problem_response("Missing, unknown or revoked API key"),
    404: _problem_response("Not found (also another user's object)"),
    422: _problem_response("The request or its options are not valid"),
    429: _problem_response("Rate limit or plan quota reached; see Retry-After"),
}
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: _problem_response("An image is larger than the plan accepts"),
    415: _problem_response("A file is not an image we can read"),
}


def create_app() -> FastAPI:
    app = FastAPI(
        title="Vorm API", version="1.0.0",
        description="Make 3D models from photos. Authenticate with `Authorization: Bearer vorm_...` "
                    "(keys are made on the Account page). Errors are RFC 9457 problem details.",
        docs_url=None, redoc_url=None, openapi_url="/openapi.json", responses=COMMON_RESPONSES,
    )
    app.add_exception_handler(VormError, _vorm_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    _add_routes(app)
    return app


def _add_routes(app: FastAPI) -> None:  # noqa: C901 - one place that lists every endpoint
    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_HTML)

    # --- jobs -------------------------------------------------------------------

    @app.post("/jobs", status_code=202, response_model=schemas.Job,
              responses={**UPLOAD_RESPONSES, 409: _problem_response("A request with this Idempotency-Key is still "
                                                                    "being processed")},
              summary="Queue a generation from 1 to 64 images")
    async def create_job(
        request: Request, who: CallerDep,
        images: Annotated[list[UploadFile], File(description="1 to 64 images (PNG, JPEG, WebP)")],
        mode: Annotated[str, Form(description="auto | inflate | relief | carve")] = "auto",
        name: Annotated[str, Form(max_length=255)] = "",
        faces: Annotated[int | None, Form(description="target triangle count")] = None,
        size_mm: Annotated[float | None, Form(description="print size of the longest side in mm")] = None,
        fov_deg: Annotated[float | None, Form(description="carve: camera field of view")] = None,
        elevation_deg: Annotated[float | None, Form(description="carve: camera height, 0 to 60 degrees")] = None,
        lithophane: Annotated[bool, Form(description="relief: dark is thick")] = False,
        relief_base_mm: Annotated[float | None, Form()] = None,
        relief_height_mm: Annotated[float | None, Form()] = None,
        box: Annotated[str | None, Form(description="inflate, one image: x0,y0,x1,y1, fractions")] = None,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
    ) -> Any:
        from core.accounts.access import Client
        from core.api import jobs as api_jobs

        options: dict[str, Any] = {}
        for option, value in (("faces", faces), ("size_mm", size_mm), ("fov_deg", fov_deg),
                              ("elevation_deg", elevation_deg), ("relief_base_mm", relief_base_mm),
                              ("relief_height_mm", relief_height_mm)):
            if value is not None:
                options[option] = value
        if lithophane:
            options["lithophane"] = True
        if box:
            try:
                options["box"] = [float(x) for x in box.replace(";", ",").strip("[] ").split(",")]
            except ValueError as exc:
                raise ValidationError(N_("The box must be four numbers x0, y0, x1, y1 from 0 to 1.")) from exc
        if len(images) > api_jobs.MAX_IMAGES:
            raise api_jobs.TooManyImages(limit=api_jobs.MAX_IMAGES)
        limit = get_settings().tier(who.user.plan)["max_upload_bytes"]
        files: list[tuple[str, bytes]] = []
        for upload in images:
            data = await upload.read(limit + 1)  # a byte more than the plan accepts: enough to refuse it
            files.append((upload.filename or "image", data))
        client = Client(ip=request.client.host if request.client else None,
                        user_agent=request.headers.get("user-agent"))
        lang = request_lang(request)

        def run() -> tuple[schemas.Job, bool]:
            with get_session() as session:
                job, replay = api_jobs.create_job(session, user=who.user, files=files, mode=mode, options=options,
                                                  name=name, idempotency_key=idempotency_key, client=client)
                return job_view(session, job, lang), replay

        view, replay = await run_in_threadpool(run)
        headers = {"Location": f"/api/v1/jobs/{view.id}"}
        if replay:
            headers["Idempotent-Replayed"] = "true"
        rate = getattr(request.state, "rate", None)
        if rate is not None:
            headers.update(rate.headers())
        return JSONResponse(view.model_dump(mode="json"), status_code=202, headers=headers)

    @app.get("/jobs/{job_id}", response_model=schemas.Job, summary="A job's status and progress")
    def get_job(request: Request, job_id: JobId, who: CallerDep, session: SessionDep) -> schemas.Job:
        from core.jobs import queue

        return job_view(session, queue.get_job(session, job_id=job_id, user_id=pk(who.user)), request_lang(request))

    @app.get("/jobs", response_model=schemas.JobList, summary="Your jobs, newest first")
    def list_jobs(request: Request, who: CallerDep, session: SessionDep,
                  status: Annotated[schemas.JobStatusName | None, Query()] = None,
                  cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_SIZE) -> schemas.JobList:
        from core.jobs import queue

        rows = queue.list_jobs(session, user_id=pk(who.user), status=PUBLIC_STATUS[status] if status else None,
                               limit=limit + 1, before_id=_cursor(cursor))
        lang = request_lang(request)
        page = rows[:limit]
        return schemas.JobList(data=[job_view(session, j, lang) for j in page],
                               next_cursor=str(page[-1].id) if len(rows) > limit else None)

    @app.delete("/jobs/{job_id}", response_model=schemas.Job, summary="Cancel a queued or running job",
                responses={409: _problem_response("The job has already ended")})
    def cancel_job(request: Request, job_id: JobId, who: CallerDep, session: SessionDep) -> Any:
        from core.jobs import queue

        job = queue.get_job(session, job_id=job_id, user_id=pk(who.user))
        if job.status in TERMINAL:
            from core.webhooks.outbox import public_status

            return problem(request, api_errors.JobNotCancelable(status=public_status(job.status)), status=409)
        job = queue.cancel_job(session, job_id=job_id, user_id=pk(who.user))
        return job_view(session, job, request_lang(request))

    @app.get("/jobs/{job_id}/events", summary="Server-sent events with progress until the job ends",
             response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {"schema": SSE_EVENT}},
                              "description": "event: progress (data: the job as JSON) until event: end"}})
    async def job_events(request: Request, job_id: JobId, who: CallerDep) -> StreamingResponse:
        from core.jobs import queue

        lang = request_lang(request)

        def snapshot() -> schemas.Job:
            with get_session() as session:
                return job_view(session, queue.get_job(session, job_id=job_id, user_id=pk(who.user)), lang)

        first = await run_in_threadpool(snapshot)  # a 404 is a problem, before the stream starts

        async def stream() -> AsyncIterator[str]:
            view, last, started, quiet = first, "", time.monotonic(), time.monotonic()
            while True:
                data = view.model_dump_json()
                if data != last:
                    yield f"event: progress\nid: {view.id}-{view.progress}\ndata: {data}\n\n"
                    last, quiet = data, time.monotonic()
                if view.status in ("succeeded", "failed", "canceled"):
                    yield f"event: end\ndata: {data}\n\n"
                    return
                if time.monotonic() - started > SSE_MAX_SECONDS or await request.is_disconnected():
                    return
                if time.monotonic() - quiet > SSE_KEEPALIVE_SECONDS:
                    yield ": keep-alive\n\n"
                    quiet = time.monotonic()
                await asyncio.sleep(SSE_POLL_SECONDS)
                try:
                    view = await run_in_threadpool(snapshot)
                except NotFound:  # deleted meanwhile (an erasure)
                    return

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        rate = getattr(request.state, "rate", None)
        if rate is not None:
            headers.update(rate.headers())
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    # --- models -----------------------------------------------------------------

    @app.get("/models/{model_id}", response_model=schemas.Model, summary="A model with signed download links")
    def get_model(model_id: JobId, who: CallerDep, session: SessionDep) -> schemas.Model:
        from core.content import library

        return model_view(library.get_model(session, user_id=pk(who.user), model_id=model_id), who.user)

    @app.get("/models", response_model=schemas.ModelList, summary="Your models, newest first")
    def list_models(who: CallerDep, session: SessionDep, cursor: Cursor = None,
                    limit: Limit = DEFAULT_PAGE_SIZE) -> schemas.ModelList:
        from core.content import library

        rows = library.models_before(session, user_id=pk(who.user), before_id=_cursor(cursor), limit=limit + 1)
        page = rows[:limit]
        return schemas.ModelList(data=[model_view(m, who.user) for m in page],
                                 next_cursor=str(page[-1].id) if len(rows) > limit else None)

    @app.patch("/models/{model_id}", response_model=schemas.Model, summary="Rename a model")
    def rename_model(model_id: JobId, body: schemas.ModelRename, who: CallerDep,
                     session: SessionDep) -> schemas.Model:
        from core.content import library

        model = library.rename_model(session, user_id=pk(who.user), model_id=model_id, name=body.name)
        return model_view(model, who.user)

    @app.delete("/models/{model_id}", status_code=204, summary="Delete a model and its files")
    def delete_model(model_id: JobId, who: CallerDep, session: SessionDep) -> Response:
        from core.content import library

        library.delete_model(session, user_id=pk(who.user), model_id=model_id)
        return Response(status_code=204)

    @app.get("/downloads/{token}", include_in_schema=False)
    def download(request: Request, token: str) -> Response:
        from core.content import library
        from core.errors import TokenInvalid
        from core.signing import unsign
        from core.storage import get_storage

        try:
            payload = unsign(token, purpose="api_download", max_lifetime_seconds=get_settings().presign_seconds)
        except TokenInvalid:
            return problem(request, NotFound(N_("This download link is invalid or has expired.")), status=404)
        with get_session() as session:
            user = session.get(User, payload["u"])
            if user is None:
                raise NotFound(N_("This download link is invalid or has expired."))
            model = library.get_model(session, user_id=pk(user), model_id=payload["m"])
            key = library.ensure_export(session, user=user, model_id=pk(model), fmt=payload["t"])
            url = get_storage().url(key, filename=library.download_name(model, payload["t"]))
        return RedirectResponse(url, status_code=303)

    # --- account ----------------------------------------------------------------

    @app.get("/account", response_model=schemas.Account, summary="Your plan and today's quota")
    def account(who: CallerDep, session: SessionDep) -> schemas.Account:
        from core.content import library
        from core.jobs import queue

        user = session.get(User, pk(who.user)) or who.user
        limit = int(get_settings().tier(user.plan)["daily_generations"])
        used = queue.generations_used_today(session, user=user)
        return schemas.Account(email=user.email, name=user.name, plan=user.plan,
                               quota=schemas.Quota(daily_limit=limit, used_today=used, left_today=max(0, limit - used)),
                               requests_per_minute=requests_per_minute(user.plan),
                               formats=library.allowed_formats(user))

    # --- webhooks ---------------------------------------------------------------

    @app.post("/webhooks", status_code=201, response_model=schemas.WebhookWithSecret,
              summary="Register an endpoint; the answer carries its signing secret, shown once")
    def create_webhook(body: schemas.WebhookIn, who: CallerDep, session: SessionDep) -> schemas.WebhookWithSecret:
        from core.webhooks import endpoints

        row = endpoints.create_endpoint(session, user=who.user, url=body.url, event_types=list(body.event_types))
        return schemas.WebhookWithSecret(**webhook_view(row).model_dump(), secret=row.secret)

    @app.get("/webhooks", response_model=schemas.WebhookList, summary="Your webhook endpoints")
    def list_webhooks(who: CallerDep, session: SessionDep) -> schemas.WebhookList:
        from core.webhooks import endpoints

        return schemas.WebhookList(data=[webhook_view(r) for r in endpoints.list_endpoints(session,
                                                                                            user_id=pk(who.user))])

    @app.delete("/webhooks/{endpoint_id}", status_code=204, summary="Delete an endpoint and its delivery log")
    def delete_webhook(endpoint_id: JobId, who: CallerDep, session: SessionDep) -> Response:
        from core.webhooks import endpoints

        endpoints.delete_endpoint(session, user_id=pk(who.user), endpoint_id=endpoint_id)
        return Response(status_code=204)

    @app.post("/webhooks/{endpoint_id}/rotate-secret", response_model=schemas.WebhookWithSecret,
              summary="A new signing secret; the old one also signs for 24 hours")
    def rotate_webhook_secret(endpoint_id: JobId, who: CallerDep, session: SessionDep) -> schemas.WebhookWithSecret:
        from core.webhooks import endpoints

        row = endpoints.rotate_secret(session, user_id=pk(who.user), endpoint_id=endpoint_id)
        return schemas.WebhookWithSecret(**webhook_view(row).model_dump(), secret=row.secret)

    @app.post("/webhooks/{endpoint_id}/enable", response_model=schemas.Webhook,
              summary="Turn an endpoint back on after it was disabled")
    def enable_webhook(endpoint_id: JobId, who: CallerDep, session: SessionDep) -> schemas.Webhook:
        from core.webhooks import endpoints

        return webhook_view(endpoints.enable_endpoint(session, user_id=pk(who.user), endpoint_id=endpoint_id))

    @app.post("/webhooks/{endpoint_id}/test", status_code=202, response_model=schemas.Delivery,
              summary="Send a webhook.test event")
    def test_webhook(endpoint_id: JobId, who: CallerDep, session: SessionDep) -> schemas.Delivery:
        from core.webhooks import outbox

        return delivery_view(outbox.send_test(session, user_id=pk(who.user), endpoint_id=endpoint_id))

    @app.get("/webhooks/{endpoint_id}/deliveries", response_model=schemas.DeliveryList,
             summary="The endpoint's delivery log, newest first")
    def list_deliveries(endpoint_id: JobId, who: CallerDep, session: SessionDep) -> schemas.DeliveryList:
        from core.webhooks import endpoints, outbox

        endpoints.get_endpoint(session, user_id=pk(who.user), endpoint_id=endpoint_id)
        rows = outbox.list_deliveries(session, user_id=pk(who.user), endpoint_id=endpoint_id)
        return schemas.DeliveryList(data=[delivery_view(r) for r in rows])

    @app.post("/webhooks/deliveries/{delivery_id}/resend", status_code=202, response_model=schemas.Delivery,
              summary="Send a delivery's message again")
    def resend_delivery(delivery_id: JobId, who: CallerDep, session: SessionDep) -> schemas.Delivery:
        from core.webhooks import outbox

        return delivery_view(outbox.resend(session, user_id=pk(who.user), delivery_id=delivery_id))


_APP: FastAPI | None = None


def get_app() -> FastAPI:
    """The one FastAPI app of this process (built on first use)."""
    global _APP
    if _APP is None:
        _APP = create_app()
    return _APP


async def asgi(scope: Any, receive: Any, send: Any) -> None:
    """The ASGI entry mounted at /api/v1: the app is built on the first request, not when app.py is read."""
    await get_app()(scope, receive, send)

