"""HTTP routes served beside Streamlit by ``st.App`` (see app.py): health, signed files, webhooks.

Handlers are plain Starlette endpoints; they never import Streamlit.
"""

from __future__ import annotations

import logging
import mimetypes

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from core.accounts.signing import unsign
from core.billing.webhooks import stripe_webhook
from core.errors import NotFound, TokenInvalid, TransientError

log = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    from core.db import check_connection

    try:
        await run_in_threadpool(check_connection)
    except TransientError as exc:
        return JSONResponse({"status": "error", "database": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


async def signed_file(request: Request) -> Response:
    """Serve a private object named by a signed, expiring token (the local backend's presigned URL)."""
    from core.storage import get_storage

    token = request.path_params["token"]
    try:
        payload = unsign(token, purpose="file")
        data = await run_in_threadpool(get_storage().get, payload["k"])
    except (TokenInvalid, KeyError):
        return PlainTextResponse("This link is invalid or has expired.", status_code=403)
    except NotFound:
        return PlainTextResponse("The file does not exist (any more).", status_code=404)
    key = payload["k"]
    headers = {"Cache-Control": "private, max-age=60", "X-Content-Type-Options": "nosniff"}
    if payload.get("f"):
        headers["Content-Disposition"] = f'attachment; filename="{payload["f"]}"'
    media = mimetypes.guess_type(key)[0] or "application/octet-stream"
    if key.endswith(".glb"):
        media = "model/gltf-binary"
    return Response(data, media_type=media, headers=headers)


async def prometheus_metrics(request: Request) -> Response:
    """Prometheus scrape endpoint; 404 without METRICS_TOKEN configured, 401 without the right bearer token."""
    from prometheus_client import CONTENT_TYPE_LATEST
    from sqlalchemy.exc import OperationalError

    from core.admin import prometheus
    from core.config import get_settings

    token = get_settings().metrics_token
    if not token:
        return PlainTextResponse("Not found.", status_code=404)
    if not prometheus.authorised(request.headers.get("authorization"), token):
        log.warning("/metrics refused: missing or wrong bearer token from %s",
                    request.client.host if request.client else "?")
        return PlainTextResponse("A valid bearer token is required.", status_code=401,
                                 headers={"WWW-Authenticate": "Bearer"})
    try:
        body = await run_in_threadpool(prometheus.render)
    except (TransientError, OperationalError) as exc:
        log.error("/metrics: the database is not reachable: %s", exc)
        return PlainTextResponse("The database is not reachable.", status_code=503)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/files/{token}", signed_file, methods=["GET"]),
    Route("/webhooks/stripe", stripe_webhook, methods=["POST"]),
    Route("/metrics", prometheus_metrics, methods=["GET"]),
]
