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
import urllib.parse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from core.accounts import sessions
from core.errors import TokenInvalid, TransientError

log = logging.getLogger(__name__)

# The cookie that binds a session link to the browser that logged in: our page's script sets it
# (to the link's nonce) just before it opens the link, and only a page of our own origin can.
LINK_COOKIE = "vorm_link"


def _origin_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _own_origins(request: Request) -> set[str]:
    """Our origin: the public URL's (``PUBLIC_URL`` or the recorded address), and the one this request
    was sent to (its Host: a plain start answers on every name of the machine). Another port on the
    same host or a sibling subdomain is another origin: a page there is someone else's."""
    from core.config import public_url

    origins = {_origin_of(public_url())}
    host = request.headers.get("host", "").strip().lower()
    if host:
        origins |= {f"http://{host}", f"https://{host}"}
    return origins


def _from_our_page(request: Request) -> tuple[bool, str]:
    """Whether the browser says this request came from a page of our own origin, and if not, why.

    Fetch Metadata (``Sec-Fetch-Site``) and ``Origin``: each one present must say so, and at least
    one must be present (a cross-site form in any current browser sends both)."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site is not None and site != "same-origin":
        return False, f"Sec-Fetch-Site {site}"
    if origin is not None and origin.lower() not in _own_origins(request):
        return False, f"Origin {origin}"
    if site is None and origin is None:
        return False, "neither Origin nor Sec-Fetch-Site"
    return True, ""


def _cookie_options() -> dict[str, object]:
    from core.config import public_url

    return {"path": "/", "httponly": True, "samesite": "lax", "secure": public_url().startswith("https://")}


def _redeem(link: str, binding: str) -> tuple[str, int]:
    from core.db import get_session

    with get_session() as session:
        return sessions.redeem_session_link(session, link=link, binding=binding)


async def session_cookie(request: Request) -> Response:
    """Exchange a one-time session link for the HttpOnly login cookie, then back to the app.

    Only from our own page (login CSRF: an attacker who keeps his own link must not be able to have
    a victim's browser open it, from a mail, the address bar or his site): ``Sec-Fetch-Site`` must
    be same-origin where the browser sends it, and the browser must hold the link's nonce in the
    ``vorm_link`` cookie, which our page set just before and no other origin can set.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        log.warning("Refused a session link not opened by our own page (Sec-Fetch-Site %s)", site)
        return PlainTextResponse("This link is invalid or has expired.", status_code=403)
    try:
        value, seconds = await run_in_threadpool(_redeem, request.query_params.get("t", ""),
                                                 request.cookies.get(LINK_COOKIE, ""))
    except TokenInvalid:
        log.info("Refused a session link: forged, expired, used before, or its session has ended")
        return PlainTextResponse("This link is invalid or has expired.", status_code=403)
    except TransientError as exc:
        return PlainTextResponse(str(exc), status_code=503)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(sessions.SESSION_COOKIE, value, max_age=seconds, **_cookie_options())  # type: ignore[arg-type]
    response.delete_cookie(LINK_COOKIE, path="/account/session")
    response.headers["Cache-Control"] = "no-store"
    return response


def _revoke(token: str | None) -> None:
    from core.db import get_session

    with get_session() as session:
        sessions.revoke_session(session, token)


async def logout(request: Request) -> Response:
    """Revoke the session the cookie names and delete the cookie, then back to the app.

    Only from a page of our own origin: a page elsewhere (another site, another port of this host,
    a sibling subdomain) gets a 403 and the cookie and session stay as they were.
    """
    ours, why = _from_our_page(request)
    if not ours:
        log.warning("Refused a logout not sent from our own origin (%s)", why)
        return PlainTextResponse("Refused: this request did not come from Vorm's own pages.", status_code=403,
                                 headers={"Cache-Control": "no-store"})
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
