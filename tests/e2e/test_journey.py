"""The user journey in headless Chromium against the running web app and worker.

Screenshots go to artifacts/screenshots/; look at them, a blank page is a bug even when green.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e

PASSWORD = "sculpture-2025"
JOB_TIMEOUT_MS = 240_000


def object_png(path: Path, *, size: tuple[int, int] = (320, 240)) -> Path:
    """A clear object (an orange rounded shape with a darker band) on a plain light background."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    img = np.full((h, w, 3), (235, 238, 242), np.uint8)
    inside = ((x - w / 2) / (w * 0.3)) ** 2 + ((y - h / 2) / (h * 0.33)) ** 2 < 1
    img[inside] = (230, 110, 40)
    img[inside & (np.abs(y - h / 2) < h * 0.05)] = (120, 50, 20)
    Image.fromarray(img).save(path)
    return path


def files(tmp_path: Path) -> dict[str, Path]:
    out = {"good": object_png(tmp_path / "vase.png")}
    (tmp_path / "notes.png").write_text("this is a text file, not an image\n")
    out["text"] = tmp_path / "notes.png"
    (tmp_path / "empty.png").write_bytes(b"")
    out["empty"] = tmp_path / "empty.png"
    Image.new("RGB", (8000, 8000), (240, 240, 240)).save(tmp_path / "huge.png", optimize=True)
    out["huge"] = tmp_path / "huge.png"
    Image.new("RGB", (300, 200), (200, 200, 200)).save(tmp_path / "blank.png")
    out["blank"] = tmp_path / "blank.png"
    return out


def wait_app(page) -> None:  # type: ignore[no-untyped-def]
    """Until Streamlit has finished the current run."""
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)


def fill_checked(field, value: str) -> None:  # type: ignore[no-untyped-def]
    """Type into a form field and see it hold the value, as a user would before pressing submit.

    On a loaded machine a run that was still finishing can redraw a form after Playwright typed
    into it; a person would notice the empty field and type again, and so does this.
    """
    from playwright.sync_api import expect

    for _ in range(3):
        field.fill(value)
        try:
            expect(field).to_have_value(value, timeout=2_000)
            return
        except AssertionError:
            continue
    expect(field).to_have_value(value)


def tick(scope, label: str) -> None:  # type: ignore[no-untyped-def]
    """Tick a Streamlit checkbox by its label, as a user clicks it, and see it ticked."""
    from playwright.sync_api import expect

    checkbox = scope.get_by_role("checkbox", name=label)  # the input itself is visually hidden
    for _ in range(3):
        if not checkbox.is_checked():
            scope.get_by_text(label, exact=True).click()
        try:
            expect(checkbox).to_be_checked(timeout=2_000)
            return
        except AssertionError:
            continue
    expect(checkbox).to_be_checked()


def settle(page) -> None:  # type: ignore[no-untyped-def]
    """After a login the cookie components report back and cause a few more runs; let them pass."""
    for _ in range(40):
        if any(c["name"] == "vorm_session" for c in page.context.cookies()):
            break
        page.wait_for_timeout(250)
    for _ in range(2):
        page.wait_for_timeout(700)
        wait_app(page)


def register(page, url: str, email: str, name: str = "Ada", lang: str = "en") -> None:  # type: ignore[no-untyped-def]
    """Register through the form, in the page's language (``lang``: the browser context's)."""
    from core.i18n import translate

    def t(message: str, **fields: object) -> str:
        return translate(message, lang, **fields)

    page.goto(url + "/register")
    page.get_by_label(t("Email address")).fill(email)
    page.get_by_label(t("Name")).fill(name)
    page.get_by_label(t("Password"), exact=True).fill(PASSWORD)
    page.get_by_text(t("I accept the privacy policy (version {version})", version="")[:20]).click()
    page.get_by_role("button", name=t("Create account")).click()
    page.get_by_role("heading", name=t("New model")).wait_for()
    settle(page)


def log_in(page, url: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "/")
    page.get_by_label("Email address").first.fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="New model").wait_for()
    settle(page)


def canvas_stats(page, name: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    canvas = page.locator("[data-testid='stDeckGlJsonChart'] canvas").first
    canvas.wait_for()
    page.wait_for_timeout(2500)  # deck.gl draws after the first frames
    png = canvas.screenshot()
    Path("artifacts/screenshots").mkdir(parents=True, exist_ok=True)
    Path(f"artifacts/screenshots/{name}.png").write_bytes(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def test_login_page_renders(page, product) -> None:  # type: ignore[no-untyped-def]
    page.goto(product.url + "/")
    page.get_by_role("heading", name="Log in").wait_for()
    wait_app(page)
    assert page.get_by_text("strictly necessary cookies").count() >= 1
    shot(page, "01-login")


def test_journey(page, product, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = product.url
    paths = files(tmp_path)
    email = f"ada-{uuid.uuid4().hex[:8]}@example.org"

    # Register (logged in at once), then log out and log in again with the form.
    register(page, url, email)
    shot(page, "02-registered")
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in").wait_for()
    log_in(page, url, email)
    # The cookie carries the login across a reload.
    page.reload()
    page.get_by_role("heading", name="New model").wait_for()
    settle(page)

    # Upload a picture: the mask preview comes before anything is queued.
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(paths["good"]))
    page.get_by_text("What will be modelled").wait_for()
    page.get_by_text(re.compile(r"Detected object \(\d+% of the image\)")).wait_for()
    wait_app(page)
    shot(page, "03-upload-preview")
    page.get_by_role("button", name="Make my 3D model").click()
    page.get_by_text("Making “vase”").or_(page.get_by_text("“vase” is ready.")).first.wait_for()
    shot(page, "04-progress")
    page.get_by_text("“vase” is ready.").wait_for(timeout=JOB_TIMEOUT_MS)
    shot(page, "05-done")

    # The model page: the canvas shows the model.
    page.get_by_role("link", name="Open the model").click()
    page.get_by_role("heading", name="vase").wait_for()
    wait_app(page)
    model_id = int(re.search(r"[?&]id=(\d+)", page.url).group(1))
    model_pixels = canvas_stats(page, "06-viewer-canvas")
    shot(page, "06-model-page")

    # The empty viewer for comparison: the same page for a model of this user with an empty preview.
    empty_id = _empty_model(product, email)
    page.goto(f"{url}/model?id={empty_id}")
    page.get_by_text("There is no preview of this model").wait_for()
    empty_pixels = canvas_stats(page, "07-viewer-empty")
    assert empty_pixels.std() < 3, "the empty viewer should be one plain colour"
    assert model_pixels.std() > 10, "the model viewer is blank"
    changed = (np.abs(model_pixels - empty_pixels[: model_pixels.shape[0], : model_pixels.shape[1]]).sum(-1) > 40)
    assert changed.mean() > 0.03, f"only {changed.mean():.1%} of the canvas differs from the empty viewer"

    # Download the GLB and load it.
    page.goto(f"{url}/model?id={model_id}")
    page.get_by_role("heading", name="vase").wait_for()
    wait_app(page)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download GLB").click()
    glb = Path(info.value.path()).read_bytes()
    import trimesh

    mesh = trimesh.load(io.BytesIO(glb), file_type="glb", force="mesh")
    assert len(mesh.faces) > 100
    assert info.value.suggested_filename.endswith(".glb")

    # My models lists it.
    page.get_by_role("link", name="My models").click()
    page.get_by_role("heading", name="My models").wait_for()
    page.get_by_text("vase", exact=True).first.wait_for()
    wait_app(page)
    shot(page, "08-library")

    # Dutch.
    page.get_by_text("Nederlands").click()
    page.get_by_role("heading", name="Mijn modellen").wait_for()
    page.get_by_role("button", name="Uitloggen").wait_for()
    page.get_by_text(re.compile(r"nog \d+ dagen bewaard", re.IGNORECASE)).first.wait_for()
    wait_app(page)
    shot(page, "09-library-nl")

    # Log out; the old cookie no longer logs in.
    page.get_by_role("button", name="Uitloggen").click()
    page.get_by_role("heading", name="Inloggen").wait_for()
    page.wait_for_timeout(1000)
    page.goto(url + "/library")
    page.get_by_role("heading", name=re.compile("Inloggen|Log in")).wait_for()
    shot(page, "10-logged-out")
    assert _open_sessions(product, email) == 0, "logout must revoke the session on the server"


def _open_sessions(product, email: str) -> int:  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from core.models import AuthSession, User

    with product.db_session() as session:
        user = session.exec(select(User).where(User.email == email)).one()
        rows = session.exec(select(AuthSession).where(AuthSession.user_id == user.id)).all()
        return sum(1 for r in rows if r.revoked_at is None)


def _empty_model(product, email: str) -> int:  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from core.models import Model3D, User
    from core.storage import get_storage

    with product.db_session() as session:
        user = session.exec(select(User).where(User.email == email)).one()
        prefix = f"users/{user.id}/models/empty-{uuid.uuid4().hex[:6]}"
        get_storage().put(f"{prefix}/preview.json", json.dumps([]).encode())
        model = Model3D(user_id=user.id, name="empty", mode="inflate", storage_prefix=prefix,
                        glb_key=f"{prefix}/model.glb", preview_key=f"{prefix}/preview.json")
        session.add(model)
        session.commit()
        return int(model.id)


@pytest.mark.parametrize("case", ["text", "empty", "huge", "blank", "views"])
def test_bad_uploads_say_why(page, product, tmp_path, case) -> None:  # type: ignore[no-untyped-def]
    paths = files(tmp_path)
    expected = {
        "text": "not a supported image",
        "empty": "The file is empty",
        "huge": "megapixels",
        "blank": "No object was found",
        "views": "your plan allows at most 4 views",
    }[case]
    register(page, product.url, f"bad-{case}-{uuid.uuid4().hex[:6]}@example.org")
    if case == "views":
        views = [object_png(tmp_path / f"view{i}.png") for i in range(5)]
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files([str(p) for p in views])
    else:
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(paths[case]))
    try:
        page.get_by_text(expected).first.wait_for()
    finally:
        shot(page, f"11-bad-{case}")
    assert page.get_by_role("button", name="Make my 3D model").is_disabled()
    wait_app(page)
    shot(page, f"11-bad-{case}")
