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
    """A token in the format of core.signing, signed with ``secret``, with any payload at all."""
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
    from core.accounts.sessions import session_max_seconds
    from core.config import reset_settings
    from core.errors import TokenInvalid
    from core.privacy.exports import EXPORT_VALID_DAYS
    from core.routes import file_link_max_seconds
    from core.signing import sign, unsign

    monkeypatch.setenv("SECRET_KEY", SECRET)
    monkeypatch.setenv("SESSION_DAYS", "14")
    monkeypatch.setenv("PRESIGN_SECONDS", "300")
    reset_settings()
    try:
        assert session_max_seconds() == 14 * 86400
        assert file_link_max_seconds() == EXPORT_VALID_DAYS * 86400

        def unsign_session(token: str) -> dict:
            return unsign(token, purpose="session", max_lifetime_seconds=session_max_seconds())

        # What we issue passes: a full session, a full export link.
        assert unsign_session(sign({"sid": "s", "uid": 1}, purpose="session", ttl_seconds=14 * 86400))
        assert unsign(sign({"k": "a/b"}, purpose="file", ttl_seconds=EXPORT_VALID_DAYS * 86400), purpose="file",
                      max_lifetime_seconds=file_link_max_seconds())
        with pytest.raises(TokenInvalid):
            unsign_session(forge({"sid": "s", "uid": 1, "exp": later(15 * 86400)}, purpose="session"))
        with pytest.raises(TokenInvalid):
            unsign_session(forge({"sid": "s", "uid": 1, "exp": 1e308}, purpose="session"))
        # Session payloads are typed too: resolve_session would otherwise look up a list as a primary key.
        with pytest.raises(TokenInvalid):
            unsign_session(forge({"sid": ["s"], "uid": 1, "exp": later()}, purpose="session"))
        with pytest.raises(TokenInvalid):
            unsign_session(forge({"sid": "s", "uid": "1", "exp": later()}, purpose="session"))
        # A shorter SESSION_DAYS shortens what is accepted.
        monkeypatch.setenv("SESSION_DAYS", "1")
        reset_settings()
        with pytest.raises(TokenInvalid):
            unsign_session(forge({"sid": "s", "uid": 1, "exp": later(3 * 86400)}, purpose="session"))
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


# --- 5. the operator CLI: one line and the README's exit code ---------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    from core.manage import main

    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


def assert_one_line(err: str) -> None:
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("error: "), err


@pytest.mark.parametrize("argv", [
    ["job", "99999999999999999999"],
    ["job", "3000000000"],             # fits SQLite's 64-bit INTEGER, not PostgreSQL's 32-bit one
    ["job", "-1"],
    ["job", "1e3"],
    ["job", "٣"],                       # a digit int() accepts, but no id
    ["requeue", "99999999999999999999"],
    ["requeue", "3000000000"],
    ["jobs", "--limit", "-1"],          # SQLite reads LIMIT -1 as no limit; PostgreSQL refuses it
    ["jobs", "--limit", "0"],
    ["jobs", "--limit", "99999999999999999999"],
    ["jobs", "--limit", "x"],
    ["ticket", "99999999999999999999"],
    ["ticket", "3000000000"],
    ["ticket", "٣"],
    ["tickets", "--limit", "-1"],
    ["tickets", "--limit", "99999999999999999999"],
    # Each would insert rows for hours (or run out of memory) before saying anything.
    ["seed-demo", "--users", "99999999999"],
    ["seed-demo", "--jobs", "99999999999"],
    ["seed-demo", "--models", "99999999999"],
    ["seed-demo", "--users", "٣"],
    ["purge", "--dry-run", "--now", "0001-01-01"],
    ["maintenance", "--now", "0001-01-01"],
    ["no-such-command"],
    [],
])
def test_cli_bad_numbers_and_arguments_exit_2_with_one_line(db: str, capsys: pytest.CaptureFixture[str],
                                                             argv: list[str]) -> None:
    code, err = run_cli(capsys, *argv)
    assert code == 2
    assert_one_line(err)


def test_cli_ids_in_range_still_work(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    from core.ids import MAX_ID

    code, err = run_cli(capsys, "job", str(MAX_ID))
    assert code == 2 and "does not exist" in err
    assert run_cli(capsys, "jobs", "--limit", "10000")[0] == 0


def test_cli_export_to_a_bad_output_exits_2_with_one_line(db: str, capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    assert run_cli(capsys, "create-user", "--email", "e@example.org", "--password", "good-pass-123")[0] == 0
    (tmp_path / "a-file").write_text("")
    # (Unwritable by permissions cannot be shown here: the tests may run as root. A path under a
    # file, or under /proc, is unwritable for root too.)
    for output in ["", " ", str(tmp_path), str(tmp_path) + "/", "/proc/vorm/export.zip",
                   str(tmp_path / "a-file" / "export.zip"), "/dev/null/export.zip", str(tmp_path / "a\x00b.zip")]:
        code, err = run_cli(capsys, "export-user", "e@example.org", "-o", output)
        assert code == 2, (output, err)
        assert_one_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]
    # What the folder check suggests works.
    assert run_cli(capsys, "export-user", "e@example.org", "-o", str(tmp_path / "export.zip"))[0] == 0
    assert (tmp_path / "export.zip").is_file() and not (tmp_path / "export.zip.part").exists()


@pytest.mark.parametrize("url, code", [
    ("not a url", 2),
    ("foo://x", 2),
    ("mysql://u@h/db", 2),                   # a driver that is not installed
    ("sqlite:////proc/vorm/nowhere/x.db", 3),  # its folder cannot be made
])
def test_cli_with_an_unusable_database_url_exits_with_one_line(url: str, code: int, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from core.config import ROOT

    env = {**os.environ, "DATABASE_URL": url, "VORM_SECRETS_FILE": "/nonexistent", "DATA_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "core.manage", "stats"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == code, proc.stderr
    assert_one_line(proc.stderr)


# --- 4. ids in page URLs ------------------------------------------------------------------


def _logged_in(lang: str = "en", **user_fields: Any) -> tuple[Any, str]:
    """A user in the current database (the ``db`` fixture's) and a session token, as the login form makes them."""
    from core.accounts import sessions
    from core.db import get_session
    from tests.utils.builders import create_random_user

    with get_session() as session:
        user = create_random_user(session)
        user.locale = lang
        for name, value in user_fields.items():
            setattr(user, name, value)
        session.add(user)
        session.commit()
        return user, sessions.create_session(session, user=user)


def _page(token: str, script: str, lang: str, **params: str) -> Any:
    from tests.web.conftest import app

    at = app(token, lang=lang).run()
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page(script).run()
    assert not at.exception, at.exception
    return at


BAD_IDS = ["99999999999999999999", "3000000000", "-1", "0", "1e3", "٣", "%00", " ", "1" * 400]


@pytest.mark.parametrize("lang, message", [
    ("en", "That model does not exist, or it is not yours."),
    ("nl", "Dat model bestaat niet, of het is niet van jou."),
])
def test_model_page_with_an_impossible_id_says_not_found_in_the_users_language(
        db: str, lang: str, message: str) -> None:
    from tests.web.conftest import texts

    _user, token = _logged_in(lang)
    for bad in BAD_IDS:
        at = _page(token, "pages/model.py", lang, id=bad)
        assert message in texts(at), bad


def test_generate_again_with_an_impossible_id_warns_and_shows_the_form(db: str) -> None:
    from tests.web.conftest import texts

    _user, token = _logged_in("nl")
    for bad in BAD_IDS:
        at = _page(token, "pages/upload.py", "nl", again=bad)
        assert "Dat model bestaat niet, of het is niet van jou." in texts(at), bad


# --- 6. what users typed is shown as text, never as Markdown --------------------------------

EVIL = "[free premium](https://evil.example) :red[!!] www.evil.example <b>x</b>"


def _rendered(at: Any) -> str:
    """Every string Streamlit renders as Markdown on this run: bodies, titles, captions, alerts, image captions."""
    from tests.web.conftest import texts

    parts = [texts(at)]
    for image in at.get("image"):
        parts.extend(img.caption for img in image.proto.imgs)
    return "\n".join(parts)


def _assert_literal(rendered: str, typed: str = EVIL) -> None:
    from pages.common import plain

    assert plain(typed) in rendered
    # Unescaped, the text would be a live link, a red span and an autolink.
    assert "](https://evil" not in rendered and ":red[" not in rendered and " www.evil" not in rendered


def test_a_model_name_is_plain_text_in_the_library_and_on_its_page(db: str) -> None:
    from core.db import get_session
    from core.models import GenerationJob, Model3D

    user, token = _logged_in("en", name=EVIL)
    with get_session() as session:
        model = Model3D(user_id=user.id, name=EVIL, mode="inflate", storage_prefix=f"users/{user.id}/m",
                        glb_key=f"users/{user.id}/m/model.glb")
        session.add(model)
        session.add(GenerationJob(user_id=user.id, name=EVIL, mode="inflate", status="failed",
                                  error_code="no_foreground", upload_ids=[], options={}))
        session.commit()
        model_id = model.id
    library = _page(token, "pages/library.py", "en")
    _assert_literal(_rendered(library))
    assert _rendered(library).count("evil\\.example") >= 3  # the card, the failed job, the sidebar name
    model_page = _page(token, "pages/model.py", "en", id=str(model_id))
    _assert_literal(_rendered(model_page))
    # A search for it comes back in "No model has … in its name."
    library.text_input(key="library_search").input(EVIL + " nothing").run()
    _assert_literal(_rendered(library), EVIL + " nothing")


def test_names_and_filenames_are_plain_text_on_my_data_and_in_the_sidebar(db: str) -> None:
    from core.db import get_session
    from core.models import Upload

    user, token = _logged_in("en", name=EVIL)
    with get_session() as session:
        session.add(Upload(user_id=user.id, storage_key=f"users/{user.id}/u.png", filename=EVIL))
        session.commit()
    at = _page(token, "pages/my_data.py", "en")
    rendered = _rendered(at)
    _assert_literal(rendered)
    sidebar = "\n".join(str(e.value) for e in at.sidebar.markdown)
    _assert_literal(sidebar)


def test_generate_again_shows_the_name_and_filenames_as_plain_text(db: str) -> None:
    """``?again=``: the model's name in the notice, each upload's filename under its preview (an image caption)."""
    import io

    from PIL import Image, ImageDraw

    from core.db import get_session
    from core.models import GenerationJob, Model3D, Upload
    from core.storage import get_storage

    user, token = _logged_in("en")
    image = Image.new("RGB", (96, 96), "white")
    ImageDraw.Draw(image).ellipse((20, 20, 76, 76), fill=(200, 60, 30))
    png = io.BytesIO()
    image.save(png, "PNG")
    key = f"users/{user.id}/uploads/a.png"
    get_storage().put(key, png.getvalue())
    with get_session() as session:
        upload = Upload(user_id=user.id, storage_key=key, filename=EVIL, width=96, height=96)
        session.add(upload)
        session.commit()
        job = GenerationJob(user_id=user.id, name=EVIL, mode="inflate", status="succeeded",
                            upload_ids=[upload.id], options={})
        session.add(job)
        session.commit()
        model = Model3D(user_id=user.id, job_id=job.id, name=EVIL, mode="inflate",
                        storage_prefix=f"users/{user.id}/m", glb_key=f"users/{user.id}/m/model.glb")
        session.add(model)
        session.commit()
    at = _page(token, "pages/upload.py", "en", again=str(model.id))
    rendered = _rendered(at)
    _assert_literal(rendered)
    captions = [img.caption for image in at.get("image") for img in image.proto.imgs]
    assert "Generating" in rendered and any("evil" in caption for caption in captions)


# --- 7. engine options: non-finite and absurd values ----------------------------------------


@pytest.fixture(scope="module")
def figure_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.core.generation import builders

    path = tmp_path_factory.mktemp("engine") / "figure.png"
    path.write_bytes(builders.png(builders.rgba(builders.figure_mask(96))))
    return path


@pytest.mark.parametrize("flags", [
    ["--relief-base-mm", "nan"],          # wrote 73,077 NaN vertices and said watertight
    ["--relief-base-mm", "inf"],
    ["--relief-base-mm", "0.01"],
    ["--relief-base-mm", "1e6"],
    ["--relief-height-mm", "1e30"],       # a degenerate needle
    ["--relief-height-mm", "nan"],
    ["--relief-height-mm", "-1"],
    ["--size-mm", "nan"],
    ["--size-mm", "inf"],
    ["--size-mm", "0.001"],
    ["--size-mm", "5000"],
    ["--fov", "nan"],
    ["--fov", "0"],
    ["--fov", "180"],
    ["--faces", "10"],
    ["--faces", "99999999999999999999"],
    ["--resolution", "1"],
], ids=" ".join)
def test_engine_cli_refuses_unusable_options_with_one_line(figure_file: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            flags: list[str]) -> None:
    from core.generation.__main__ import main

    out = tmp_path / "plate.stl"
    code = main([str(figure_file), "--mode", "relief", "-o", str(out), "--faces", "2000",
                 "--resolution", "96", *flags])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    assert not out.exists()


def test_engine_cli_still_makes_a_relief_with_sensible_options(figure_file: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np
    import trimesh

    from core.generation.__main__ import main

    out = tmp_path / "plate.stl"
    code = main([str(figure_file), "--mode", "relief", "-o", str(out), "--faces", "2000", "--resolution", "96",
                 "--relief-base-mm", "0.2", "--relief-height-mm", "100", "--size-mm", "2000"])
    assert code == 0, capsys.readouterr().err
    mesh = trimesh.load(out, force="mesh")
    assert np.isfinite(mesh.vertices).all() and mesh.is_watertight


@pytest.mark.parametrize("field, value", [
    ("relief_base_mm", float("nan")), ("relief_base_mm", float("inf")), ("relief_base_mm", 0.1),
    ("relief_base_mm", 51), ("relief_base_mm", "2"), ("relief_base_mm", None),
    ("relief_height_mm", 1e30), ("relief_height_mm", float("-inf")), ("relief_height_mm", True),
    ("size_mm", float("nan")), ("size_mm", 0.5), ("size_mm", 2001), ("size_mm", "80"),
    ("fov_deg", float("nan")), ("fov_deg", 0.5), ("fov_deg", 121),
    ("faces", 10), ("faces", 10**30), ("faces", float("nan")), ("faces", 5000.5), ("faces", "50000"),
    ("faces", [50000]),
    ("resolution", 16), ("resolution", float("inf")), ("resolution", "512"),
    ("lithophane", "yes"), ("max_views", 1), ("max_pixels", 0), ("max_pixels", float("nan")),
])
def test_generation_options_refuse_non_finite_absurd_and_mistyped_values(field: str, value: Any) -> None:
    """Options also come from a job's stored JSON (queue), so types are checked, not only ranges."""
    from core.generation.errors import InvalidOption
    from core.generation.options import GenerationOptions

    options = GenerationOptions(**{field: value})
    with pytest.raises(InvalidOption) as caught:
        options.validate()
    assert field in str(caught.value)


def test_generation_options_accept_the_bounds() -> None:
    from core.generation.options import GenerationOptions

    for values in ({"relief_base_mm": 0.2, "relief_height_mm": 0.0, "size_mm": 1.0, "fov_deg": 1.0},
                   {"relief_base_mm": 50.0, "relief_height_mm": 100.0, "size_mm": 2000.0, "fov_deg": 120.0},
                   {"faces": 200, "resolution": 32}, {"faces": 2_000_000.0, "resolution": 8192}):
        GenerationOptions(**values).validate()  # type: ignore[arg-type]


# --- 8. decode amplification: a tiny file that decodes huge -------------------------------

_MEASURE = r"""
import io, json, re, sys
from PIL import Image, ImageDraw
from core.content import uploads
from core.generation import images

def status(key):
    with open("/proc/self/status") as fh:
        return int(re.search(key + r":\s+(\d+)", fh.read()).group(1)) * 1024

image = Image.new("1", (5600, 4100), 1)
ImageDraw.Draw(image).ellipse((1500, 1000, 4100, 3100), fill=0)
buf = io.BytesIO()
image.save(buf, "PNG", optimize=True)
data = buf.getvalue()
del image, buf
base = status("VmRSS")
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # the peak mark starts again from here
v = uploads.validate_upload(data, filename="bomb.png", plan="free")
preview, share = uploads.mask_preview(v.image)
print(json.dumps({"file": len(data), "added": status("VmHWM") - base, "size": [v.width, v.height],
                  "stored": list(Image.open(io.BytesIO(v.data)).size), "shown": list(v.image.size),
                  "preview": list(preview.size), "share": share}))
"""


def test_a_23_megapixel_1bit_png_is_validated_and_previewed_in_little_memory() -> None:
    """An 8-15 KB PNG that decodes to 23 MP: validation and preview took +620 MB (RGBA and float copies)."""
    import subprocess
    import sys

    from core.config import ROOT

    proc = subprocess.run([sys.executable, "-c", _MEASURE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # The 1-bit pixels themselves take 23 MB in Pillow; RGBA would be 92 MB, float RGBA 367 MB.
    assert result["added"] < 150 * 1024 * 1024, result
    assert result["file"] < 20_000
    assert result["size"] == result["stored"] == [5600, 4100]  # accepted and stored at full size
    assert max(result["shown"]) <= 1024 and max(result["preview"]) <= 384
    assert 0.1 < result["share"] < 0.5


def test_validation_keeps_colours_alpha_and_orientation_without_rgba_copies() -> None:
    """Pixels are re-encoded in their own mode now: check that what is stored is still right."""
    import io

    from PIL import Image

    from core.content import uploads

    def encoded(image: Image.Image, fmt: str, **kw: Any) -> bytes:
        buf = io.BytesIO()
        image.save(buf, fmt, **kw)
        return buf.getvalue()

    palette = Image.new("P", (300, 200), 0)
    palette.putpalette([255, 255, 255, 200, 30, 30] + [0] * 762)
    palette.paste(1, (100, 50, 200, 150))
    v = uploads.validate_upload(encoded(palette, "PNG", transparency=0), filename="p.png", plan="free")
    stored = Image.open(io.BytesIO(v.data)).convert("RGBA")
    assert stored.getpixel((0, 0))[3] == 0 and stored.getpixel((150, 100)) == (200, 30, 30, 255)
    assert v.image.mode == "RGBA" and v.image.getpixel((150, 100)) == (200, 30, 30, 255)

    import numpy as np

    values = np.zeros((48, 64), np.uint16)
    values[12:36, 16:48] = 60000
    grey16 = Image.fromarray(values)  # 16-bit grey
    v = uploads.validate_upload(encoded(grey16, "PNG"), filename="g.png", plan="free")
    assert Image.open(io.BytesIO(v.data)).convert("L").getpixel((32, 24)) >= 230

    big = Image.new("RGB", (4000, 2000), (235, 238, 242))
    big.paste((20, 90, 200), (1500, 500, 2500, 1500))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees to display
    v = uploads.validate_upload(encoded(big, "JPEG", exif=exif, quality=90), filename="r.jpg", plan="free")
    stored = Image.open(io.BytesIO(v.data))
    assert stored.size == (2000, 4000) and (v.width, v.height) == (2000, 4000)
    assert not stored.getexif() and b"Exif" not in v.data
    assert v.image.size == (512, 1024)
    preview, share = uploads.mask_preview(v.image)
    assert preview.size == (192, 384) and 0.05 < share < 0.3


def test_the_engines_downscale_of_a_large_image_keeps_size_colour_and_alpha() -> None:
    """The worker shrinks the same images: its first reduction now runs in strips, with the same result."""
    import numpy as np
    from PIL import Image, ImageDraw

    from core.generation.images import downscale

    big = Image.new("RGBA", (3000, 2000), (0, 255, 0, 0))  # green, but fully transparent: must not bleed
    ImageDraw.Draw(big).ellipse((600, 400, 2400, 1600), fill=(220, 30, 30, 255))
    small = downscale(big, 300)
    pixels = np.asarray(small).astype(int)
    assert small.size == (300, 200) and small.mode == "RGBA"
    assert pixels[100, 150].tolist() == [220, 30, 30, 255] and pixels[5, 5, 3] == 0
    edge = pixels[(pixels[..., 3] > 0) & (pixels[..., 3] < 255)]
    # No green from the transparent pixels (8-bit premultiplying rounds faint edges by a few levels).
    assert len(edge) and edge[:, 1].max() <= 35 and edge[:, 0].min() >= 210
