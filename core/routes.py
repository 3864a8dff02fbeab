"""HTTP routes served beside Streamlit by ``st.App`` (see app.py): health, signed files, webhooks, login cookie.

Handlers are plain Starlette endpoints; they never import Streamlit.
"""

from __future__ import annotations

import logging
import mimetypes

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from core.accounts import web_routes
from core.accounts.signing import unsign
from core.billing.webhooks import stripe_webhook
from core.errors import NotFound, TokenInvalid, TransientError

log = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    from core.db import check_connection

    try:
        await run_in_threadpool(check_connection)
    except TransientError as exc:
        log.error("healthz: the database is unreachable: %s", exc)  # the detail stays in the operator's log
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


async def signed_file(request: Request) -> Response:
    """Serve a private object named by a signed, expiring token (the local backend's presigned URL)."""
    from core.storage import get_storage

    token = request.path_params["token"]
    if not token.isascii():  # never one of ours; the MAC check below only takes ASCII
        return PlainTextResponse("This link is invalid or has expired.", status_code=403)
    try:
        payload = unsign(token, purpose="file")
        data = await run_in_threadpool(get_storage().get, payload["k"])
    except (TokenInvalid, KeyError):
        return PlainTextResponse("This link is invalid or has expired.", status_code=403)
    except NotFound:
        return PlainTextResponse("The file does not exist (any more).", status_code=404)
    except TransientError as exc:
        # The detail (it can name the storage folder) goes to the log, never to the client.
        log.warning("Signed file %s: storage unavailable (%s)", payload.get("k"), getattr(exc, "detail", exc))
        return PlainTextResponse("The file storage is temporarily unavailable. Please try again in a few minutes.",
                                 status_code=503, headers={"Retry-After": "60"})
    key = payload["k"]
    headers = {"Cache-Control": "private, max-age=60", "X-Content-Type-Options": "nosniff"}
    if payload.get("f"):
        headers["Content-Disposition"] = f'attachment; filename="{payload["f"]}"'
    media = mimetypes.guess_type(key)[0] or "application/octet-stream"
    if key.endswith(".glb"):
        media = "model/gltf-binary"
    return Response(data, media_type=media, headers=headers)


ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/files/{token}", signed_file, methods=["GET"]),
    Route("/webhooks/stripe", stripe_webhook, methods=["POST"]),
    *web_routes.ROUTES,
]
