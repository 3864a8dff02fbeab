"""Property tests (Hypothesis) for the trust issue: whatever arrives, the answer is a refusal, never a crash.

- HTTP: random paths under /files/, random headers and cookies, random bodies to /webhooks/stripe,
  against one real web process for the module: 2xx, a redirect, 4xx or 503, never 500.
- Tokens: random strings, and random JSON signed with the real key, through ``unsign`` (TokenInvalid
  or a payload of the right types) and ``resolve_session`` (SessionInvalid), on both databases.
- The operator CLI: random argument lists through ``core.manage.main`` return 0, 2 or 3.

Example counts are modest so the suite stays quick; Hypothesis keeps failing examples in its
database and replays them first.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.conftest import WebServer, start_web_server, stop_web_server
from tests.security.test_inputs import SECRET, forge

WEBHOOK_SECRET = "whsec_property_tests_0123456789"
#: An answer, a redirect (``/files/`` -> ``/files``), a refusal or "come back later"; never a crash.
ALLOWED = frozenset(range(200, 300)) | {301, 302, 307, 308} | frozenset(range(400, 500)) | {503}

HTTP_SETTINGS = settings(max_examples=100, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FAST_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """One real web process for the module (the ``web_server`` fixture's logic, shared by every example)."""
    srv = start_web_server(tmp_path_factory.mktemp("web"), SECRET_KEY=SECRET, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
    storage = Path(srv.env["STORAGE_DIR"])
    (storage / "users" / "1").mkdir(parents=True)
    (storage / "users" / "1" / "model.glb").write_bytes(b"glTF-test")
    yield srv
    stop_web_server(srv)


def request(server: WebServer, method: str, path: str, *, headers: dict[str, str] | None = None,
            body: bytes | None = None) -> int:
    """One request on a fresh connection; the status code. The web process must still be alive after it."""
    url = urllib.parse.urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value.encode("latin-1"))
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()
        assert server.proc.poll() is None, f"the web process died; see {server.log}"


# --- strategies ------------------------------------------------------------------------------

#: Path characters, percent-encoded as a browser or a script would send them (any Unicode, NUL included).
path_text = st.text(min_size=0, max_size=200).map(lambda s: urllib.parse.quote(s, safe=".-_~"))
token_like = st.one_of(
    path_text,
    st.tuples(path_text, path_text).map(lambda t: f"{t[0]}.{t[1]}"),
    st.from_regex(r"\A[A-Za-z0-9_\-]{0,120}\.[A-Za-z0-9_\-]{0,60}\Z"),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
#: Payloads near the real ones: the right keys with values of any type, plus anything else.
file_payloads = st.fixed_dictionaries(
    {}, optional={"k": json_values | st.sampled_from(["users/1/model.glb", "../x", "users/1", "/etc/passwd"]),
                  "f": json_values, "exp": json_values | st.floats(min_value=time.time() - 10, max_value=1e12)})
session_payloads = st.fixed_dictionaries(
    {}, optional={"sid": json_values, "uid": json_values, "exp": json_values | st.floats(max_value=1e12)})

header_name = st.from_regex(r"\A[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,30}\Z").filter(
    lambda n: n.lower() not in {"content-length", "transfer-encoding", "host", "connection", "expect", "upgrade"})
#: Header values as HTTP allows them: visible Latin-1, spaces and tabs inside, no CR/LF.
header_value = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                       max_size=200).map(str.strip)
cookie_value = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='";,\\'), max_size=200),
    st.builds(forge, session_payloads, purpose=st.just("session")),
)


# --- HTTP ---------------------------------------------------------------------------------------


@HTTP_SETTINGS
@given(token=token_like)
def test_random_file_paths_never_give_a_500(server: WebServer, token: str) -> None:
    assert request(server, "GET", "/files/" + token) in ALLOWED


@HTTP_SETTINGS
@given(payload=file_payloads)
def test_signed_file_tokens_with_any_payload_never_give_a_500(server: WebServer, payload: dict[str, Any]) -> None:
    assert request(server, "GET", "/files/" + forge(payload)) in ALLOWED


@HTTP_SETTINGS
@given(path=st.sampled_from(["/", "/healthz", "/files/x.y", "/files/" + forge({"k": "users/1/model.glb",
                                                                                 "exp": time.time() + 3600})]),
       headers=st.dictionaries(header_name, header_value, max_size=6),
       cookie=st.dictionaries(st.sampled_from(["vorm_session", "_streamlit_xsrf", "x"]), cookie_value, max_size=3))
def test_random_headers_and_cookies_never_give_a_500(server: WebServer, path: str, headers: dict[str, str],
                                                     cookie: dict[str, str]) -> None:
    if cookie:
        headers = {**headers, "Cookie": "; ".join(f"{k}={v}" for k, v in cookie.items())}
    assert request(server, "GET", path, headers=headers) in ALLOWED


def _stripe_signature(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    stamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


@HTTP_SETTINGS
@given(body=st.binary(max_size=4096) | json_values.map(lambda v: json.dumps(v).encode()),
       signature=st.one_of(st.none(), header_value, st.just("t=1,v1=00")))
def test_random_webhook_bodies_never_give_a_500(server: WebServer, body: bytes, signature: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    assert request(server, "POST", "/webhooks/stripe", headers=headers, body=body) in ALLOWED


EVENT_TYPES = ["checkout.session.completed", "customer.subscription.updated", "customer.subscription.deleted",
               "invoice.paid"]
EVENT_FIELDS = ("customer", "client_reference_id", "id", "status", "metadata", "subscription", "current_period_end",
                "amount_paid", "currency", "created")
event_object_fields = st.fixed_dictionaries({}, optional=dict.fromkeys(EVENT_FIELDS, json_values))
event_objects = st.fixed_dictionaries({}, optional={
    "id": json_values,
    "type": st.sampled_from(EVENT_TYPES) | json_values,
    "data": st.fixed_dictionaries({}, optional={"object": event_object_fields | json_values}) | json_values,
})


@HTTP_SETTINGS
@given(event=event_objects | json_values)
def test_signed_webhook_events_with_any_content_never_give_a_500(server: WebServer, event: Any) -> None:
    """Correctly signed, so the handler reads it: a Stripe bug or a leaked secret must not crash the web process."""
    body = json.dumps(event).encode()
    headers = {"Content-Type": "application/json", "Stripe-Signature": _stripe_signature(body)}
    assert request(server, "POST", "/webhooks/stripe", headers=headers, body=body) in ALLOWED


# --- tokens and sessions ------------------------------------------------------------------------


@pytest.fixture
def signing_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from core.config import reset_settings

    monkeypatch.setenv("SECRET_KEY", SECRET)
    reset_settings()
    yield
    monkeypatch.delenv("SECRET_KEY")
    reset_settings()


@FAST_SETTINGS
@given(token=st.text(max_size=300) | token_like, purpose=st.sampled_from(["file", "session", "other"]))
def test_unsign_of_random_strings_raises_token_invalid_only(signing_key: None, token: str, purpose: str) -> None:
    from core.errors import TokenInvalid
    from core.signing import unsign

    with pytest.raises(TokenInvalid):
        unsign(token, purpose=purpose, max_lifetime_seconds=86400)


@FAST_SETTINGS
@given(payload=file_payloads | json_values)
def test_unsign_of_signed_payloads_gives_typed_fields_or_token_invalid(signing_key: None, payload: Any) -> None:
    from core.errors import TokenInvalid
    from core.signing import unsign

    try:
        result = unsign(forge(payload, purpose="file"), purpose="file", max_lifetime_seconds=7 * 86400)
    except TokenInvalid:
        return
    assert isinstance(result["k"], str) and isinstance(result.get("f", ""), str)
    # The longest file link we issue is the 7-day export link (plus 5 minutes of clock skew).
    assert time.time() <= result["exp"] <= time.time() + 7 * 86400 + 300


@FAST_SETTINGS
@given(token=st.one_of(st.none(), st.text(max_size=300), token_like,
                       st.builds(forge, session_payloads, purpose=st.just("session"))))
def test_resolve_session_of_anything_raises_session_invalid_only(db: str, signing_key: None, token: str | None) -> None:
    from core.accounts.sessions import resolve_session
    from core.db import get_session
    from core.errors import SessionInvalid

    with get_session() as session, pytest.raises(SessionInvalid):
        resolve_session(session, token)


# --- the operator CLI ---------------------------------------------------------------------------

COMMANDS = ["migrate", "create-user", "set-plan", "bootstrap-admin", "stats", "generate", "job", "jobs", "requeue",
            "export-user", "delete-user", "purge", "publish-policy", "privacy-requests", "maintenance"]
FLAGS = ["--email", "--password", "--name", "--admin", "--plan", "--json", "--user", "--mode", "--status", "--limit",
         "-o", "--output", "--dry-run", "--now", "--help", "-h", "--"]
#: Free-form arguments without "/": a path the CLI might write to stays inside the test's folder.
cli_word = st.one_of(
    st.text(alphabet=st.characters(exclude_characters="/"), max_size=30),
    st.integers().map(str),
    st.floats().map(str),
    st.sampled_from(["free", "premium", "queued", "failed", "relief", "a@example.org", "2026-01-01",
                     "9999-12-31T23:59:59+14:00", "0001-01-01", "-1", "0", "99999999999999999999", ""]),
)
argv_lists = st.tuples(st.sampled_from(COMMANDS) | cli_word,
                       st.lists(st.sampled_from(FLAGS) | cli_word, max_size=6)).map(lambda t: [t[0], *t[1]])


@pytest.fixture(scope="module")
def throwaway_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A migrated SQLite database and a working folder of its own, for CLI runs that may write."""
    from core.db import migrate, reset_engines

    root = tmp_path_factory.mktemp("cli")
    url = f"sqlite:///{root / 'vorm.db'}"
    migrate(url)
    reset_engines()
    yield root


@FAST_SETTINGS
@given(argv=argv_lists)
def test_cli_with_random_arguments_returns_an_exit_code(throwaway_sqlite: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    from core.config import reset_settings
    from core.db import reset_engines
    from core.manage import main
    from core.storage import reset_storage

    root = throwaway_sqlite
    env = {"DATABASE_URL": f"sqlite:///{root / 'vorm.db'}", "DATA_DIR": str(root / "data"),
           "STORAGE_DIR": str(root / "storage"), "STORAGE_BACKEND": "local"}
    with monkeypatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.chdir(root)
        reset_settings()
        reset_storage()
        try:
            code = main(argv)
        finally:
            reset_settings()
            reset_engines()
            reset_storage()
    err = capsys.readouterr().err
    assert code in (0, 2, 3), (argv, err)
    assert "Traceback" not in err, (argv, err)
    assert os.getcwd() != str(root)
