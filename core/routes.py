"""HTTP routes served beside Streamlit by ``st.App`` (see app.py): health, signed files, webhooks, login cookie,
and the public API under ``/api/v1``.

Handlers are plain Starlette endpoints; they never import Streamlit.
"""

from __future__ import annotations

import logging
import mimetypes
import urllib.parse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from core.accounts import web_routes
from core.api.app import asgi as api_asgi
from core.billing.webhooks import stripe_webhook
from core.config import get_settings
from core.errors import NotFound, TokenInvalid, TransientError
from core.signing import unsign

log = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    from core.db import check_connection

    try:
        await run_in_threadpool(check_connection)
    except TransientError as exc:
        log.error("healthz: the database is unreachable: %s", exc)  # the detail stays in the operator's log
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


#: Characters kept in the ASCII fallback ``filename=`` of Content-Disposition; the rest become "_".
_FALLBACK_FILENAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+()")
MAX_FILENAME_CHARS = 150


def content_disposition(filename: str) -> str:
    """An attachment header for ``filename`` (RFC 6266): an ASCII fallback and the UTF-8 original.

    The name comes from a signed payload, but it was typed by a user once (a model's name): a CR/LF
    in it would split the header, a quote would end the fallback early, and a non-Latin-1 character
    would make the server fail to encode the header at all.
    """
    name = filename[:MAX_FILENAME_CHARS]
    fallback = "".join(ch if ch in _FALLBACK_FILENAME_CHARS else "_" for ch in name).lstrip(".") or "download"
    encoded = urllib.parse.quote(name.encode("utf-8", "replace"), safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _refused(reason: str, token: str) -> Response:
    # The reason goes to the log (the token's start only: a valid one is a credential).
    log.info("refused /files/ link: %s (token %.12s...)", reason, token)
    return PlainTextResponse("This link is invalid or has expired.", status_code=403)


def _storage_unavailable() -> Response:
    return PlainTextResponse("The file storage is temporarily unavailable. Please try again in a few minutes.",
                             status_code=503, headers={"Retry-After": "60"})


def file_link_max_seconds() -> float:
    """The longest lifetime a /files/ link is ever signed with: a presigned URL's, or the data export's."""
    from core.privacy.exports import EXPORT_VALID_DAYS

    return max(get_settings().presign_seconds, EXPORT_VALID_DAYS * 86400)


async def signed_file(request: Request) -> Response:
    """Serve a private object named by a signed, expiring token (the local backend's presigned URL)."""
    from core.storage import get_storage

    token = request.path_params["token"]
    if not token.isascii():  # never one of ours; the MAC check below only takes ASCII
        return PlainTextResponse("This link is invalid or has expired.", status_code=403)
    try:
        payload = unsign(token, purpose="file", max_lifetime_seconds=file_link_max_seconds())
    except TokenInvalid:
        return _refused("bad signature, payload or expiry", token)
    key = payload["k"]
    try:
        data = await run_in_threadpool(get_storage().get, key)
    except ValueError:  # storage refuses keys outside its layout ("../", absolute, NUL)
        return _refused("not a storage key", token)
    except NotFound:
        return PlainTextResponse("The file does not exist (any more).", status_code=404)
    except TransientError as exc:
        # The detail (it can name the storage folder) goes to the log, never to the client.
        log.warning("Signed file %s: storage unavailable (%s)", key, getattr(exc, "detail", exc))
        return _storage_unavailable()
    headers = {"Cache-Control": "private, max-age=60", "X-Content-Type-Options": "nosniff"}
    if payload.get("f"):
        headers["Content-Disposition"] = content_disposition(payload["f"])
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
    *web_routes.ROUTES,
    Route("/metrics", prometheus_metrics, methods=["GET"]),
    # The public API (core.api.app); every path below /api/v1 is FastAPI's, unknown ones answer a problem+json 404.
    Mount("/api/v1", app=api_asgi),
]
