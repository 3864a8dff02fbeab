"""Regression tests for the review's input defects (issue: trust): each gave a 500 or a traceback.

HTTP defects run against the real web process (one per module, ``http_server``); the tokens
are forged with the server's SECRET_KEY, exactly as someone holding the key (or a signing bug)
could make them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.security.conftest import WebServer, start_web_server, stop_web_server

SECRET = "trust-inputs-test-secret-0123456789"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(payload: Any, *, purpose: str = "file", secret: str = SECRET) -> str:
    """A token in the format of core.accounts.signing, signed with ``secret``, with any payload at all."""
    body = _b64(json.dumps(payload).encode())
    key = hashlib.sha256(f"{purpose}:{secret}".encode()).digest()
    return f"{body}.{_b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def get(server: WebServer, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET over real HTTP: status, headers (names in lower case) and body, for any status."""
    try:
        with urllib.request.urlopen(server.url + path, timeout=20) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    server = start_web_server(tmp_path_factory.mktemp("web"), SECRET_KEY=SECRET)
    storage = Path(server.env["STORAGE_DIR"])
    (storage / "users" / "1").mkdir(parents=True)
    (storage / "users" / "1" / "model.glb").write_bytes(b"glTF-test")
    yield server
    stop_web_server(server)


def later(seconds: float = 60) -> float:
    return time.time() + seconds


# --- 1. /files/ with bad tokens and forged payloads ---------------------------------------


def test_a_valid_forged_token_is_served(http_server: WebServer) -> None:
    """The forging helper makes the server's own format: without this the refusals below prove nothing."""
    status, headers, body = get(http_server, "/files/" + forge({"k": "users/1/model.glb", "exp": later()}))
    assert (status, body) == (200, b"glTF-test")
    assert headers["content-type"] == "model/gltf-binary"


@pytest.mark.parametrize("path", [
    "/files/x.%C3%A9",                 # non-ASCII MAC: compare_digest raised TypeError
    "/files/%C3%A9.%C3%A9",
    "/files/x.y",
    "/files/nodot",
    "/files/....",
])
def test_malformed_tokens_are_refused_with_403(http_server: WebServer, path: str) -> None:
    status, _headers, body = get(http_server, path)
    assert status == 403
    assert body == b"This link is invalid or has expired."


def test_a_nul_in_the_path_is_refused_before_us(http_server: WebServer) -> None:
    assert get(http_server, "/files/%00.%00")[0] == 400


@pytest.mark.parametrize("payload", [
    {"k": 1},
    {"k": ["users/1/model.glb"]},
    {"k": {"a": 1}},
    {"k": None},
    {"k": True},
    {},
    {"k": "users/1/model.glb", "exp": "9999999999"},   # exp as a string
    {"k": "users/1/model.glb", "exp": None},
    {"k": "users/1/model.glb", "exp": [1]},
    {"k": "users/1/model.glb", "exp": True},
    {"k": "users/1/model.glb", "f": ["a"]},
    {"k": "users/1/model.glb", "f": 3},
], ids=lambda p: json.dumps(p))
def test_forged_payloads_of_the_wrong_types_are_refused_with_403(http_server: WebServer, payload: dict) -> None:
    body = {"exp": later(), **payload}
    status, _headers, text = get(http_server, "/files/" + forge(body))
    assert status == 403, text
    assert text == b"This link is invalid or has expired."


@pytest.mark.parametrize("payload", [[1, 2], "text", 3, None])
def test_forged_payloads_that_are_not_objects_are_refused(http_server: WebServer, payload: Any) -> None:
    assert get(http_server, "/files/" + forge(payload))[0] == 403


@pytest.mark.parametrize("key", ["../../etc/passwd", "users/1/../../../x", "/etc/passwd", "users//1", "a\\b",
                                 "users/1/\x00x"])
def test_forged_keys_outside_storage_are_refused_with_403(http_server: WebServer, key: str) -> None:
    status, _headers, text = get(http_server, "/files/" + forge({"k": key, "exp": later()}))
    assert status == 403, text


@pytest.mark.parametrize("key", ["users/1/missing.glb", "users/1", "users/1/model.glb/x", "users/" + "x" * 300])
def test_forged_keys_naming_no_file_are_404(http_server: WebServer, key: str) -> None:
    status, _headers, text = get(http_server, "/files/" + forge({"k": key, "exp": later()}))
    assert status == 404, text
    assert text == b"The file does not exist (any more)."


# --- 2. lifetimes beyond the longest we issue --------------------------------------------


@pytest.mark.parametrize("exp", [1e308, 10**400, later(30 * 86400), later(8 * 86400)],
                         ids=["1e308", "10**400", "30d", "8d"])
def test_a_file_link_living_longer_than_any_we_issue_is_refused(http_server: WebServer, exp: float) -> None:
    # File links live PRESIGN_SECONDS (300 s), data-export links 7 days: nothing longer is ever signed.
    status, _headers, _body = get(http_server, "/files/" + forge({"k": "users/1/model.glb", "exp": exp}))
    assert status == 403


def test_a_file_link_as_long_as_the_export_link_is_served(http_server: WebServer) -> None:
    status, _headers, _body = get(http_server, "/files/" + forge({"k": "users/1/model.glb",
                                                                    "exp": later(7 * 86400 - 60)}))
    assert status == 200


def test_an_expired_or_infinite_link_is_refused(http_server: WebServer) -> None:
    for exp in (time.time() - 1, "Infinity"):
        token = forge({"k": "users/1/model.glb", "exp": exp})
        assert get(http_server, "/files/" + token)[0] == 403
    # JSON's NaN and Infinity (json.dumps writes them; json.loads reads them back as floats).
    for exp in (float("nan"), float("inf")):
        assert get(http_server, "/files/" + forge({"k": "users/1/model.glb", "exp": exp}))[0] == 403


def test_unsign_caps_the_lifetime_by_purpose(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.accounts.signing import max_lifetime_seconds, sign, unsign
    from core.config import reset_settings
    from core.errors import TokenInvalid
    from core.privacy.exports import EXPORT_VALID_DAYS

    monkeypatch.setenv("SECRET_KEY", SECRET)
    monkeypatch.setenv("SESSION_DAYS", "14")
    monkeypatch.setenv("PRESIGN_SECONDS", "300")
    reset_settings()
    try:
        assert max_lifetime_seconds("session") == 14 * 86400
        assert max_lifetime_seconds("file") == EXPORT_VALID_DAYS * 86400
        # What we issue passes: a full session, a full export link.
        assert unsign(sign({"sid": "s", "uid": 1}, purpose="session", ttl_seconds=14 * 86400), purpose="session")
        assert unsign(sign({"k": "a/b"}, purpose="file", ttl_seconds=EXPORT_VALID_DAYS * 86400), purpose="file")
        with pytest.raises(TokenInvalid):
            unsign(forge({"sid": "s", "uid": 1, "exp": later(15 * 86400)}, purpose="session"), purpose="session")
        with pytest.raises(TokenInvalid):
            unsign(forge({"sid": "s", "uid": 1, "exp": 1e308}, purpose="session"), purpose="session")
        # Session payloads are typed too: resolve_session would otherwise look up a list as a primary key.
        with pytest.raises(TokenInvalid):
            unsign(forge({"sid": ["s"], "uid": 1, "exp": later()}, purpose="session"), purpose="session")
        with pytest.raises(TokenInvalid):
            unsign(forge({"sid": "s", "uid": "1", "exp": later()}, purpose="session"), purpose="session")
        # A shorter SESSION_DAYS shortens what is accepted.
        monkeypatch.setenv("SESSION_DAYS", "1")
        reset_settings()
        with pytest.raises(TokenInvalid):
            unsign(forge({"sid": "s", "uid": 1, "exp": later(3 * 86400)}, purpose="session"), purpose="session")
    finally:
        reset_settings()


# --- 3. the download filename in Content-Disposition ------------------------------------


@pytest.mark.parametrize("filename", [
    "evil\r\nSet-Cookie: a=b.glb",
    "evil\nX-Injected: 1.glb",
    'quote".glb',
    "模型.glb",                 # not Latin-1: the header could not even be encoded
    "naïve café.glb",
    "..\\..\\x.glb",
    "\r\n",
])
def test_filenames_cannot_inject_or_break_headers(http_server: WebServer, filename: str) -> None:
    status, headers, body = get(http_server, "/files/" + forge({"k": "users/1/model.glb", "f": filename,
                                                                "exp": later()}))
    assert (status, body) == (200, b"glTF-test")
    assert "set-cookie" not in headers and "x-injected" not in headers
    disposition = headers["content-disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert disposition.startswith('attachment; filename="')
    fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback and all(32 < ord(ch) < 127 and ch not in '"\\/' for ch in fallback)
    # RFC 6266 / 5987: the UTF-8 original, percent-encoded, for browsers that read it.
    import urllib.parse

    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert urllib.parse.unquote(encoded) == filename
