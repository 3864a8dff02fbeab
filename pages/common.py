"""What every page shares: the current user, the language, texts, and where a request came from.

Pages import these; ``app.py`` resolves the login once per run (``load_user``) before any page runs.

The login cookie (HttpOnly: only ``core.accounts.web_routes`` sets and deletes it) holds only a
signed session id. It is read server-side from ``st.context.cookies`` and resolved against the ``auth_session``
table on every run, so a revoked session ends at once, wherever its cookie was copied.
Right after logging in the browser has not sent the cookie yet (``st.context.cookies``
is fixed when the page loads), so the token is also kept in this session's state.
"""

from __future__ import annotations

import re
from datetime import datetime

import streamlit as st

from core import i18n
from core.accounts import access, auth, sessions
from core.errors import SessionInvalid, VormError
from core.models import Role, User

COOKIE_NAME = sessions.SESSION_COOKIE

_TOKEN = "_vorm_token"  # the session token after a login in this browser tab
_USER = "_vorm_user"  # the user resolved in the latest run
_LOGGED_OUT = "_vorm_logged_out"  # ignore the page-load cookie after logging out
_ENDED = "_vorm_session_ended"  # a presented session was revoked or expired
LANG_KEY = "lang"
_LANG_OF = "_vorm_lang_of"  # the user whose account language this session has adopted


def lang() -> str:
    """The current language: the sidebar switch, else the account's language, else the browser's locale.

    ``load_user`` copies the account's language into this session on every new page load, so
    a reload or a new tab speaks the language the user chose, whatever the browser says.
    """
    chosen = st.session_state.get(LANG_KEY)
    if chosen in i18n.LANGS:
        return chosen
    user = st.session_state.get(_USER)
    if user is not None and user.locale in i18n.LANGS:
        return str(user.locale)
    try:
        return i18n.normalise_lang(st.context.locale)
    except Exception:  # no browser context (AppTest, bare mode)
        return i18n.DEFAULT_LANG


def set_lang(value: str) -> None:
    """The user picked a language: it wins for this session, and is saved on the account when logged in."""
    from core.db import get_session

    st.session_state[LANG_KEY] = i18n.normalise_lang(value)
    user = st.session_state.get(_USER)
    if user is not None and user.locale != st.session_state[LANG_KEY]:
        with get_session() as session:
            user = auth.set_locale(session, user_id=user.id, locale=st.session_state[LANG_KEY])
        st.session_state[_USER] = user


def _(message: str, **fields: object) -> str:
    """``message`` (its English text is the msgid) in the current language, ``{fields}`` filled in."""
    return i18n.translate(message, lang(), **fields)


def ngettext(singular: str, plural: str, n: int, **fields: object) -> str:
    """The plural form for ``n`` in the current language; ``{n}`` is formatted for the locale."""
    return i18n.translate_plural(singular, plural, n, lang(), **fields)


def pgettext(context: str, message: str, **fields: object) -> str:
    """A short word whose translation depends on where it stands (``pgettext("plan", "free")``)."""
    return i18n.translate_in_context(context, message, lang(), **fields)


N_ = i18n.N_


def label(kind: str, value: object) -> str:
    """A stored value (a mode, a job status, a plan...) in words, in the current language."""
    from core.labels import label as _label

    return _label(kind, value, lang())


def method_text(method: str | None, segmenter: str | None = None) -> str:
    """How the mask was made, as a sentence: "Mask: the learned background remover (u2netp)."."""
    if not method:
        return ""
    name = f" ({segmenter})" if segmenter and method.startswith("learned") else ""
    return _("Mask made with {method}{name}.", method=label("mask_method", method), name=name)


def fmt_number(value: float, *, digits: int | None = None) -> str:
    return i18n.format_number(value, lang(), digits=digits)


def fmt_percent(fraction: float) -> str:
    return i18n.format_percent(fraction, lang())


def fmt_size(size_bytes: float) -> str:
    return i18n.format_size(size_bytes, lang())


def fmt_money(amount_cents: int, currency: str) -> str:
    return i18n.format_money(amount_cents, currency, lang())


def premium_price_text() -> str | None:
    """The premium price with its interval ("€ 9,99 per maand"), or None when Vorm does not know it."""
    from core.billing.price import premium_price, price_text

    found = premium_price()
    return price_text(found, lang()) if found is not None else None


#: Every ASCII punctuation character: CommonMark lets each be escaped with a backslash, and escaping
#: all of them also stops GitHub's autolinks (www.x.example, a@b.example), headings (#), lists (-, +, 1.),
#: tables (|), entities (&amp;) and Streamlit's :color[], :material/icon: and $math$.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def plain(text: object) -> str:
    """Text a person typed, safe inside anything Streamlit renders as Markdown (st.markdown, titles,
    captions, alerts, image captions, labels): it shows literally, on one line, and links nothing."""
    flat = " ".join(str(text).split())  # a line break could start a heading, a list or a code block
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", flat)


def fmt_duration(seconds: float) -> str:
    return i18n.format_duration(seconds, lang())


def client() -> access.Client:
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
    return access.Client(ip=ip if isinstance(ip, str) else None, user_agent=ua if isinstance(ua, str) else None)


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
                user, _row = sessions.resolve_session(session, token)
        except SessionInvalid:
            user = None
            st.session_state[_ENDED] = True
            st.session_state.pop(_TOKEN, None)
            st.session_state[_LOGGED_OUT] = True
    if user is not None and st.session_state.get(_LANG_OF) != user.id:
        user = _adopt_language(user)
    st.session_state[_USER] = user
    return user


def _adopt_language(user: User) -> User:
    """Once per browser tab and user: a language picked in this tab is saved on the account;
    otherwise (a reload, a new tab) the account's language wins over the browser's."""
    st.session_state[_LANG_OF] = user.id
    chosen = st.session_state.get(LANG_KEY)
    if chosen in i18n.LANGS and chosen != user.locale:
        from core.db import get_session

        with get_session() as session:
            return auth.set_locale(session, user_id=user.id, locale=chosen)
    if user.locale in i18n.LANGS:
        st.session_state[LANG_KEY] = user.locale
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
        st.warning(_("Please log in to see this page."))
        st.stop()
    return user


def mail_is_sent() -> bool:
    """Whether mail leaves this installation (``SMTP_HOST`` set); without it every mail waits in the outbox,
    and no page may say it was sent."""
    from core.config import get_settings

    return bool(get_settings().smtp_host)


def require_admin() -> User:
    """The logged-in admin, checked on the server from the database row; otherwise the page stops."""
    user = require_user()
    if user.role != Role.ADMIN:
        st.error(_("You are not allowed to see this page."))
        st.stop()
    return user


def log_in(token: str, user: User) -> None:
    """Remember a fresh login in this session; app.py has the browser take the cookie on the next run."""
    st.session_state[_TOKEN] = token
    st.session_state[_USER] = user
    st.session_state.pop(_LOGGED_OUT, None)
    st.session_state.pop(_ENDED, None)
    st.session_state["_vorm_cookie_action"] = "set"
    st.session_state["_vorm_go_home"] = True
    st.session_state[_USER] = _adopt_language(user)


def log_out() -> None:
    """Revoke the server-side session and forget it here; app.py has the browser drop the cookie."""
    from core.db import get_session

    token = session_token()
    if token:
        with get_session() as session:
            sessions.revoke_session(session, token)
    st.session_state.pop(_TOKEN, None)
    st.session_state[_USER] = None
    st.session_state[_LOGGED_OUT] = True
    st.session_state["_vorm_cookie_action"] = "delete"
    st.session_state["_vorm_go_home"] = True


_PAGE = "_vorm_page"  # the page this run shows (its url path)
_PREVIOUS_PAGE = "_vorm_previous_page"  # the page the run before showed


def note_page(url_path: str) -> None:
    """app.py tells which page this run shows, before running it (see ``arrived``)."""
    st.session_state[_PREVIOUS_PAGE] = st.session_state.get(_PAGE)
    st.session_state[_PAGE] = url_path


def arrived() -> bool:
    """True when this run came to the page from another one (navigation), not a rerun of the page itself."""
    return st.session_state.get(_PREVIOUS_PAGE) != st.session_state.get(_PAGE)


def session_ended_notice() -> bool:
    """True once after a presented session turned out revoked or expired."""
    return bool(st.session_state.pop(_ENDED, False))


def fmt_date(value: datetime | None) -> str:
    return i18n.format_date(value, lang())


#: What the pages offer where a refusal names a remedy (core.errors.REMEDIES).
PAGE_REMEDIES = {"box_remedy": N_("Draw a box around the object on the upload page")}


def error_text(exc: Exception) -> str:
    """A VormError's message in the current language (anything else should not reach a page)."""
    if isinstance(exc, VormError):
        return exc.render(lang(), remedies=PAGE_REMEDIES)
    return str(exc)


def job_error_text(job: object) -> str:
    """Why a job failed, from its stored code and parameters, in the current language."""
    from core.errors import render_code
    from core.jobs.errors import JobFailed

    return render_code(getattr(job, "error_code", None), getattr(job, "error_params", None), lang(),
                       default=JobFailed, remedies=PAGE_REMEDIES) or ""


def show_error(exc: Exception) -> None:
    st.error(error_text(exc), icon=":material/error:")


def flash(kind: str, *, msgid: str | None = None, message: str | None = None) -> None:
    """A message shown once at the top of the next run (after st.rerun or a page switch).

    ``msgid`` (marked with N_) is translated when shown, in the language of that run.
    """
    st.session_state["_vorm_flash"] = (kind, msgid, message)


def show_flash() -> None:
    item = st.session_state.pop("_vorm_flash", None)
    if not item:
        return
    kind, msgid, message = item
    text = _(msgid) if msgid else (message or "")
    {"success": st.success, "error": st.error, "warning": st.warning}.get(kind, st.info)(text)
