"""The HTTP routes that set and clear the login cookie, served beside Streamlit (see core.routes).

The cookie is HttpOnly, so page scripts can neither read nor write it: right after a login the
page asks the browser to open ``/account/session?t=<session link>`` (a one-time token that names the
new session and dies within a minute), whose response sets the cookie; logging out posts to
``/account/logout``, which revokes the session and deletes the cookie. Both answer 303 to the app,
so a browser that navigates there, rather than fetching, lands back on the app.
Not under ``/auth/``: Streamlit serves its own ``st.login`` routes there. No Streamlit here.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from core.accounts import sessions
from core.errors import TokenInvalid, TransientError

log = logging.getLogger(__name__)

# What a browser says about who started a request (Fetch Metadata). Missing: an older browser or a
# plain HTTP client. A cross-site page must not be able to log a visitor in as someone else.
_OWN_SITE = {None, "same-origin", "none"}


def _cookie_options() -> dict[str, object]:
    from core.config import public_url

    return {"path": "/", "httponly": True, "samesite": "lax", "secure": public_url().startswith("https://")}


def _redeem(link: str) -> tuple[str, int]:
    from core.db import get_session

    with get_session() as session:
        return sessions.redeem_session_link(session, link=link)


async def session_cookie(request: Request) -> Response:
    """Exchange a one-time session link for the HttpOnly login cookie, then back to the app."""
    if request.headers.get("sec-fetch-site") not in _OWN_SITE:
        log.warning("Refused a session link opened from another site (%s)", request.headers.get("sec-fetch-site"))
        return PlainTextResponse("This link is invalid or has expired.", status_code=403)
    try:
        value, seconds = await run_in_threadpool(_redeem, request.query_params.get("t", ""))
    except TokenInvalid:
        log.info("Refused a session link: forged, expired, used before, or its session has ended")
        return PlainTextResponse("This link is invalid or has expired.", status_code=403)
    except TransientError as exc:
        return PlainTextResponse(str(exc), status_code=503)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(sessions.SESSION_COOKIE, value, max_age=seconds, **_cookie_options())  # type: ignore[arg-type]
    response.headers["Cache-Control"] = "no-store"
    return response


def _revoke(token: str | None) -> None:
    from core.db import get_session

    with get_session() as session:
        sessions.revoke_session(session, token)


async def logout(request: Request) -> Response:
    """Revoke the session the cookie names and delete the cookie, then back to the app."""
    try:
        await run_in_threadpool(_revoke, request.cookies.get(sessions.SESSION_COOKIE))
    except TransientError as exc:
        return PlainTextResponse(str(exc), status_code=503)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(sessions.SESSION_COOKIE, **_cookie_options())  # type: ignore[arg-type]
    response.headers["Cache-Control"] = "no-store"
    return response


ROUTES = [
    Route("/account/session", session_cookie, methods=["GET"]),
    # POST only: a cross-site page cannot send a SameSite=Lax cookie with a POST, so cannot log anyone out.
    Route("/account/logout", logout, methods=["POST"]),
]
