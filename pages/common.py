"""What every page shares: the current user, the language, texts, and where a request came from.

Pages import these; ``app.py`` resolves the login once per run (``load_user``) before any page runs.

The login cookie holds only the opaque value from ``core.accounts.auth.create_session``. It is
read server-side from ``st.context.cookies`` and resolved against the ``auth_session``
table on every run, so a revoked session ends at once, wherever its cookie was copied.
Right after logging in the browser has not sent the cookie yet (``st.context.cookies``
is fixed when the page loads), so the token is also kept in this session's state.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from core import i18n
from core.accounts import auth
from core.errors import SessionInvalid
from core.models import Role, User

COOKIE_NAME = "vorm_session"

_TOKEN = "_vorm_token"  # the session token after a login in this browser tab
_USER = "_vorm_user"  # the user resolved in the latest run
_LOGGED_OUT = "_vorm_logged_out"  # ignore the page-load cookie after logging out
_ENDED = "_vorm_session_ended"  # a presented session was revoked or expired
LANG_KEY = "lang"


def lang() -> str:
    """The current language: the sidebar switch, else the browser's locale."""
    chosen = st.session_state.get(LANG_KEY)
    if chosen in i18n.LANGS:
        return chosen
    try:
        return i18n.normalise_lang(st.context.locale)
    except Exception:  # no browser context (AppTest, bare mode)
        return i18n.DEFAULT_LANG


def set_lang(value: str) -> None:
    st.session_state[LANG_KEY] = i18n.normalise_lang(value)


def t(key: str, **fields: object) -> str:
    """A text in the current language."""
    return i18n.t(key, lang(), **fields)


def client() -> auth.Client:
    """Where this request comes from: IP address and user agent, for the access log."""
    ip = ua = None
    try:
        ip = st.context.ip_address
    except Exception:
        pass
    try:
        ua = st.context.headers.get("User-Agent")
    except Exception:
        pass
    # Outside a browser (AppTest, bare mode) these can be placeholders rather than strings.
    return auth.Client(ip=ip if isinstance(ip, str) else None, user_agent=ua if isinstance(ua, str) else None)


def session_token() -> str | None:
    token = st.session_state.get(_TOKEN)
    if token:
        return token
    if st.session_state.get(_LOGGED_OUT):
        return None
    try:
        return st.context.cookies.get(COOKIE_NAME)
    except Exception:
        return None


def load_user() -> User | None:
    """Resolve the login for this run (app.py calls it first thing)."""
    from core.db import get_session

    token = session_token()
    user: User | None = None
    if token:
        try:
            with get_session() as session:
                user, _row = auth.resolve_session(session, token)
        except SessionInvalid:
            user = None
            st.session_state[_ENDED] = True
            st.session_state.pop(_TOKEN, None)
            st.session_state[_LOGGED_OUT] = True
    st.session_state[_USER] = user
    return user


def current_user() -> User | None:
    """The logged-in user, or None."""
    if _USER not in st.session_state:
        return load_user()
    return st.session_state[_USER]


def require_user() -> User:
    """The logged-in user; otherwise a clear message and the page stops."""
    user = current_user()
    if user is None:
        st.warning(t("app.login_required"))
        st.stop()
    return user


def require_admin() -> User:
    """The logged-in admin, checked on the server from the database row; otherwise the page stops."""
    user = require_user()
    if user.role != Role.ADMIN:
        st.error(t("app.forbidden"))
        st.stop()
    return user


def log_in(token: str, user: User) -> None:
    """Remember a fresh login in this session; app.py writes the cookie on the next runs."""
    st.session_state[_TOKEN] = token
    st.session_state[_USER] = user
    st.session_state.pop(_LOGGED_OUT, None)
    st.session_state.pop(_ENDED, None)
    st.session_state["_vorm_cookie_action"] = "set"
    st.session_state["_vorm_go_home"] = True
    if LANG_KEY not in st.session_state and user.locale in i18n.LANGS:
        st.session_state[LANG_KEY] = user.locale


def log_out() -> None:
    """Revoke the server-side session and forget it here; app.py deletes the cookie."""
    from core.db import get_session

    token = session_token()
    if token:
        with get_session() as session:
            auth.revoke_session(session, token)
    st.session_state.pop(_TOKEN, None)
    st.session_state[_USER] = None
    st.session_state[_LOGGED_OUT] = True
    st.session_state["_vorm_cookie_action"] = "delete"
    st.session_state["_vorm_go_home"] = True


def session_ended_notice() -> bool:
    """True once after a presented session turned out revoked or expired."""
    return bool(st.session_state.pop(_ENDED, False))


def fmt_date(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%d-%m-%Y %H:%M") if lang() == "nl" else value.strftime("%Y-%m-%d %H:%M")


def error_text(exc: Exception) -> str:
    """A VormError's message in the current language.

    English uses the error's own message (it is written for people and may carry exact
    figures); Dutch uses the ``error.<code>`` text when there is one and its fields are known.
    """
    code = getattr(exc, "code", None)
    if lang() != "en" and code:
        key = f"error.{code}"
        if key in i18n.TEXTS:
            try:
                return i18n.t(key, lang(), **getattr(exc, "context", {}))
            except (KeyError, IndexError, ValueError):
                pass
    return str(exc)


def show_error(exc: Exception) -> None:
    st.error(error_text(exc), icon=":material/error:")


def flash(kind: str, *, key: str | None = None, message: str | None = None) -> None:
    """A message shown once at the top of the next run (after st.rerun or a page switch)."""
    st.session_state["_vorm_flash"] = (kind, key, message)


def show_flash() -> None:
    item = st.session_state.pop("_vorm_flash", None)
    if not item:
        return
    kind, key, message = item
    text = t(key) if key else (message or "")
    {"success": st.success, "error": st.error, "warning": st.warning}.get(kind, st.info)(text)
