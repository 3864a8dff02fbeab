"""Vorm's web process: the frame around the pages.

``streamlit run app.py`` finds ``app`` (an ``st.App``) by reading this file, imports it
as a module and serves it through uvicorn, with the HTTP routes of ``core.routes``
(``/healthz``, ``/files/<signed token>``, the login cookie's ``/account/*``) beside
Streamlit. Every page run then executes this same file as ``__main__``: that run builds the
frame (page config, login, navigation by role, sidebar, notices) and runs the chosen page.
The ``st.App`` object is made only on import, never on a page run.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import streamlit as st

from core.routes import ROUTES

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("vorm.web")


@contextlib.asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    """Apply migrations once per process and record the address it listens on, before the first page."""
    from starlette.concurrency import run_in_threadpool

    from core.db import migrate
    from core.errors import VormError

    try:
        await run_in_threadpool(migrate)
    except VormError as exc:
        # Keep serving: /healthz answers 503 and every page shows this message until the database is back.
        log.error("Could not apply database migrations: %s", exc)
    from core.config import record_public_url, secret_key

    try:
        secret_key()  # made now if this install has none yet, so a DATA_DIR it cannot write shows at start
    except VormError as exc:
        log.error("%s", exc)
        raise

    # Links (file URLs, emails, the worker's too) follow the port this process really got.
    url = record_public_url(address=st.get_option("server.address"), port=int(st.get_option("server.port")))
    print(f"\n  Vorm is ready: open {url}\n", flush=True)  # noqa: T201
    yield


if __name__ != "__main__":
    from streamlit.runtime.pages_manager import PagesManager

    from core.memory import tune_allocator

    # Large buffers (an upload's bytes, its decoded pixels) go back to the system when freed, instead
    # of staying in malloc's heaps for good (core/memory.py).
    tune_allocator()

    # A pages/ folder next to the script makes Streamlit start every process in its legacy
    # multipage mode until some run calls st.navigation: the first visitor of /admin would
    # then run pages/admin.py bare, without this frame. Navigation here is always explicit.
    PagesManager.uses_pages_directory = False
    app = st.App("app.py", routes=ROUTES, lifespan=lifespan)


# --- the page run -------------------------------------------------------------


def _page_file(name: str) -> str:
    return str(ROOT / "pages" / f"{name}.py")


def _exists(name: str) -> bool:
    return (ROOT / "pages" / f"{name}.py").is_file()


@st.cache_resource(show_spinner=False)
def _schema_ready(db_url: str) -> bool:
    """Migrations for this process and database (the lifespan does it too; AppTest has no lifespan)."""
    from core.db import migrate

    migrate(db_url)
    return True


def _ensure_database() -> None:
    from core.config import get_settings
    from core.errors import VormError
    from pages.common import _

    try:
        _schema_ready(get_settings().db_url)
    except VormError as exc:
        # The detail (host, driver message) is for the operator's log, not for visitors.
        log.error("The database is unreachable: %s", exc)
        st.error(_("Vorm cannot reach its database right now, so nothing can be shown. Try again in a minute."))
        st.stop()


def _sync_cookie() -> None:
    """Have the browser take or drop the login cookie, through the server's ``/account`` routes.

    The cookie is HttpOnly, so no script can read or write it (core.accounts.web_routes). After
    a login a script in the page fetches a one-time session link, whose response sets it; after a
    logout it posts to ``/account/logout``, whose response deletes it. Should the fetch fail, the
    browser goes there itself and is sent back to the app. Either way the page goes on working
    from the token in this session's state.
    """
    import json

    action = st.session_state.pop("_vorm_cookie_action", None)
    if action not in ("set", "delete") or st.session_state.get("_vorm_no_cookies"):
        return
    if action == "set":
        from core.accounts import sessions
        from core.db import get_session
        from core.errors import VormError

        token = st.session_state.get("_vorm_token")
        if not token:
            return
        from core.accounts.web_routes import LINK_COOKIE

        try:
            with get_session() as session:
                link = sessions.issue_session_link(session, token=token)
            binding = sessions.link_binding(link)
        except VormError as exc:
            log.warning("Could not hand the login cookie to the browser: %s", exc)
            return
        url = "/account/session?t=" + link
        # The link's nonce goes into a cookie only this page's origin can set: the link then works in
        # this browser alone, never in one an attacker has made open it (login CSRF).
        bind = f"{LINK_COOKIE}={binding}; path=/account/session; max-age=120; samesite=strict"
        script = (f"document.cookie = {json.dumps(bind)};"
                  f"fetch({json.dumps(url)}, {{credentials: 'same-origin', redirect: 'manual', cache: 'no-store'}})"
                  f".catch(() => window.location.assign({json.dumps(url)}));")
    else:
        script = ("fetch('/account/logout', {method: 'POST', credentials: 'same-origin', redirect: 'manual'})"
                  ".catch(() => { const f = document.createElement('form'); f.method = 'POST';"
                  " f.action = '/account/logout'; document.body.appendChild(f); f.submit(); });")
    # In the sidebar's end, so the element never shifts the page's own elements.
    with st.sidebar, st.container(height=1, border=False):
        st.html(f"<script>{script}</script>", unsafe_allow_javascript=True)


def _page_language() -> None:
    """``<html lang>`` and the few texts Streamlit draws itself, in the language the page speaks.

    Screen readers pick their voice from ``<html lang>``, which Streamlit leaves at "en", and
    Streamlit offers no setting for its own texts (the skip link, the file uploader's button).
    A script in the page sets the attribute and rewrites those texts whenever Streamlit draws
    them again; it knows every language's version, so a switch back finds and replaces them too.
    It runs again after a reload, and when the language changes (its text changes with it).
    """
    import json

    from core import i18n
    from pages import common

    lang = common.lang()
    skip = {code: i18n.translate("Skip to main content", code) for code in i18n.LANGS}
    upload = {code: i18n.translate_in_context("button", "Upload", code) for code in i18n.LANGS}
    rules = [{"selector": selector, "versions": sorted(set(every.values())), "text": every[lang]}
             for selector, every in (("[data-testid='stSkipToContent']", skip),
                                     ("[data-testid='stFileUploaderDropzone'] button", upload))]
    script = f"""(() => {{
  const lang = {json.dumps(lang)}, rules = {json.dumps(rules, ensure_ascii=False)};
  const apply = () => {{
    if (document.documentElement.lang !== lang) document.documentElement.lang = lang;
    for (const rule of rules) {{
      for (const el of document.querySelectorAll(rule.selector)) {{
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {{
          const text = node.nodeValue.trim();
          if (text !== rule.text && rule.versions.includes(text)) node.nodeValue = rule.text;
        }}
      }}
    }}
  }};
  if (window.vormPageLanguage) window.vormPageLanguage.disconnect();
  let queued = false;
  window.vormPageLanguage = new MutationObserver(() => {{
    if (!queued) {{ queued = true; requestAnimationFrame(() => {{ queued = false; apply(); }}); }}
  }});
  window.vormPageLanguage.observe(document.body, {{childList: true, subtree: true, characterData: true}});
  apply();
}})();"""
    with st.sidebar, st.container(height=1, border=False, key="page_language"):
        st.html(f"<script>{script}</script>", unsafe_allow_javascript=True)


def _to_login() -> None:
    from pages.common import N_, flash

    flash("info", msgid=N_("Please log in to see this page."))
    st.switch_page(_page_file("login"))


def _not_allowed() -> None:
    from pages.common import _

    st.error(_("You are not allowed to see this page."), icon=":material/block:")


def _reset_password_page() -> None:
    """The form behind the emailed link ``/?reset=TOKEN``."""
    from core.accounts import password_reset
    from core.db import get_session
    from core.errors import VormError
    from pages.common import N_, _, error_text, flash

    st.title(_("Choose a new password"))
    token = st.query_params.get("reset", "")
    with st.form("reset_form"):
        password = st.text_input(_("New password"), type="password", help=_("At least 10 characters, with letters "
                                                                            "and digits."))
        st.caption(_("At least 10 characters, with letters and digits."))
        submitted = st.form_submit_button(_("Save the new password"), type="primary")
    if submitted:
        try:
            with get_session() as session:
                password_reset.reset_password(session, token=token, new_password=password)
        except VormError as exc:
            st.error(error_text(exc))
        else:
            st.query_params.clear()
            flash("success", msgid=N_("Your password was changed. You can log in now."))
            st.rerun()


def _confirm_email() -> bool:
    """``?confirm_email=TOKEN`` from the Account page's email change; True when an address changed."""
    from core.db import get_session
    from core.errors import VormError
    from pages.common import N_, error_text, flash

    token = st.query_params.get("confirm_email")
    if not token:
        return False
    from core.privacy import correction

    try:
        with get_session() as session:
            correction.confirm_email_change(session, token=token)
    except VormError as exc:
        flash("error", message=error_text(exc))
        changed = False
    else:
        flash("success", msgid=N_("Your new email address is confirmed."))
        changed = True
    del st.query_params["confirm_email"]
    return changed


def _policy_banner(user: Any) -> None:
    from core.db import get_session
    from core.privacy import announce
    from pages.common import _

    with get_session() as session:
        if not announce.needs_policy_banner(session, user=user):
            return
    with st.container(border=True):
        st.info(_("Our privacy policy has changed. Please read what is new."), icon=":material/policy:")
        cols = st.columns([1, 1, 3])
        if _exists("privacy_policy"):
            cols[0].page_link(_page_file("privacy_policy"), label=_("Read the privacy policy"))
        if cols[1].button(_("I have read it"), key="policy_ack"):
            with get_session() as session:
                announce.acknowledge_policy(session, user=user)
            st.rerun()


def _billing_banner(user: Any) -> None:
    """While a failed payment's grace runs: on every page, ask for new payment details."""
    from core.billing import entitlements
    from core.db import get_session
    from pages.common import _, fmt_date

    with get_session() as session:
        status = entitlements.account_status(session, user=user)
    if status.state != entitlements.BillingState.PAST_DUE:
        return
    with st.container(border=True, key="past_due_banner"):
        st.warning(_("Your last payment failed. Update your payment details before {date} to keep premium.",
                     date=fmt_date(status.ends_on)), icon=":material/credit_card_off:")
        st.page_link(_page_file("account"), label=_("Update payment details"), icon=":material/credit_card:")


def _quota_left(user: Any) -> int:
    from core.db import get_session
    from core.jobs.queue import quota_left_today

    with get_session() as session:
        return quota_left_today(session, user=user)


def _sidebar(user: Any) -> None:
    from core import i18n
    from pages import common
    from pages.common import N_, _

    with st.sidebar:
        if user is not None:
            st.markdown(f"**{common.plain(user.name or user.email)}**")
            st.caption(_("Signed in as {email}", email=common.plain(user.email)))
            st.caption(_("Plan: {plan}", plan=common.label("plan", user.plan)))
            left = _quota_left(user)
            st.caption(common.ngettext("{n} generation left today", "{n} generations left today", left)
                       if left else _("No generations left today"))
        def _changed() -> None:
            # The choice lives in a plain session key: a widget's own state is dropped after a run
            # that stops before drawing it (st.switch_page, st.stop). Saved on the account too.
            common.set_lang(st.session_state["lang_switch"])

        # The switch shows the language the page speaks: after a login the account's language can
        # replace the browser's, and the widget would otherwise keep its own earlier value.
        st.session_state["lang_switch"] = common.lang()
        st.radio(_("Language"), list(i18n.LANGS), key="lang_switch", horizontal=True, on_change=_changed,
                 format_func=i18n.LANG_NAMES.__getitem__)
        if user is not None and st.button(_("Log out"), key="logout", icon=":material/logout:"):
            common.log_out()
            common.flash("success", msgid=N_("You are logged out."))
            st.rerun()
        st.divider()
        st.caption(":material/cookie: " + _("We use only strictly necessary cookies: to keep you logged in and your "
                                            "tab connected. No tracking or advertising cookies."))


def _pages(user: Any) -> tuple[dict[str, list[Any]], Any]:
    from core.models import Role
    from pages.common import N_, _

    def page(name: str, key: str, icon: str, **kw: Any) -> Any:
        return st.Page(_page_file(name), title=_(key), icon=icon, url_path=name.replace("_", "-"), **kw)

    info = [p for p in (
        page("privacy_policy", N_("Privacy policy"), ":material/policy:") if _exists("privacy_policy") else None,
        page("processors", N_("Who processes your data"), ":material/dns:") if _exists("processors") else None,
        page("support", N_("Support"), ":material/support:") if _exists("support") else None,
    ) if p is not None]
    reset = "reset" in st.query_params

    if user is None:
        home = page("login", N_("Log in"), ":material/login:", default=not reset)
        sections: dict[str, list[Any]] = {_("Account"): [home, page("register", N_("Create an account"),
                                                                                 ":material/person_add:")]}
        if info:
            sections[_("Help and privacy")] = info
        # Old links and bookmarks to a user's pages lead to the login instead of "page not found";
        # these stubs only redirect, the pages themselves are not registered.
        sections[_("Account")] += [
            st.Page(_to_login, title=name, url_path=name, visibility="hidden")
            for name in ("upload", "library", "model", "my-data", "admin", "account")
        ]
    else:
        home = page("upload", N_("New model"), ":material/add_photo_alternate:", default=not reset)
        create = [home, page("library", N_("My models"), ":material/view_module:"),
                  page("model", N_("Model"), ":material/view_in_ar:", visibility="hidden")]
        sections = {_("Create"): create}
        account = [page("account", N_("Account"), ":material/account_circle:")]
        if _exists("my_data"):
            account.append(page("my_data", N_("My data"), ":material/badge:"))
        if account:
            sections[_("Account")] = account
        if info:
            sections[_("Help and privacy")] = info
        if user.role == Role.ADMIN:
            # Only registered for admins, so a user cannot reach it even by URL; the page checks again.
            sections[_("Operations")] = [page("admin", N_("Metrics"), ":material/monitoring:")]
        else:
            # A user who opens /admin gets a short refusal in their language instead of Streamlit's
            # English "Page not found"; the admin page itself stays unregistered for them.
            sections[_("Account") if account else _("Create")].append(
                st.Page(_not_allowed, title=_("Metrics"), url_path="admin", visibility="hidden"))
    if reset:
        sections.setdefault(_("Account"), []).insert(
            0, st.Page(_reset_password_page, title=_("Choose a new password"), icon=":material/key:", url_path="reset",
                       default=True))
    return sections, home


def _flash() -> None:
    from pages import common
    from pages.common import _

    if common.session_ended_notice():
        st.warning(_("Your session has ended. Please log in again."), icon=":material/lock_clock:")
    common.show_flash()


def main() -> None:
    from pages import common

    st.set_page_config(page_title="Vorm", page_icon=str(ROOT / "static" / "favicon.png"), layout="wide",
                       initial_sidebar_state="expanded")
    _ensure_database()
    user = common.load_user()
    if _confirm_email():
        user = common.load_user()  # the sidebar and the page show the new address in this very run
    sections, home = _pages(user)
    nav = st.navigation(sections)
    if st.session_state.pop("_vorm_go_home", False) and nav.url_path != home.url_path:
        st.switch_page(home)
    _sync_cookie()  # after any page switch: a run cut short by one may never reach the browser
    _sidebar(user)
    _page_language()
    _flash()
    if user is not None:
        _policy_banner(user)
        if nav.url_path != "account":  # the Account page says it in its own place
            _billing_banner(user)
    common.note_page(nav.url_path)
    nav.run()


if __name__ == "__main__":
    main()
