"""What a newcomer tripped on (issue 17 §6), in Chromium against the real app and worker.

The page's language reaches ``<html lang>`` and Streamlit's own texts; the upload form shows each
mode's options only, ignores Enter in a field, names several views after what they share and
previews a lithophane as one backlit material; the model page prints at 100 mm and its viewer
stops zooming before the camera enters the model; the library's buttons have names. Screenshots
of each changed page, in English and Dutch, go to artifacts/screenshots/newcomer-*.png.
"""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from core.i18n import translate
from tests.e2e.conftest import shot
from tests.e2e.test_journey import JOB_TIMEOUT_MS, canvas_stats, object_png, register, wait_app

pytestmark = pytest.mark.e2e

LANG_OF_PAGE = "() => document.documentElement.lang"


def _texts_of(page, selector: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The text nodes inside the elements ``selector`` finds, trimmed."""
    return page.evaluate("""(selector) => [...document.querySelectorAll(selector)].flatMap(el => {
        const out = [], walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) if (n.nodeValue.trim()) out.push(n.nodeValue.trim());
        return out; })""", selector)


def _speaks(page, lang: str) -> None:  # type: ignore[no-untyped-def]
    """``<html lang>``, the skip link and the uploader's button all in ``lang``."""
    page.wait_for_function(f"() => document.documentElement.lang === '{lang}'", timeout=15_000)
    skip = translate("Skip to main content", lang)
    upload = "Uploaden" if lang == "nl" else "Upload"
    page.wait_for_function("""([skip, upload]) => {
        const link = document.querySelector('[data-testid=stSkipToContent]');
        const button = document.querySelector('[data-testid=stFileUploaderDropzone] button');
        return link && link.textContent.trim() === skip && button && button.textContent.includes(upload);
    }""", arg=[skip, upload], timeout=15_000)
    assert _texts_of(page, "[data-testid=stSkipToContent]") == [skip]
    button_texts = _texts_of(page, "[data-testid=stFileUploaderDropzone] button")
    assert upload in button_texts and ("Upload" not in button_texts if lang == "nl" else True), button_texts


def _user_jobs(product, email: str) -> list:  # type: ignore[no-untyped-def]
    from sqlmodel import col, select

    from core.models import GenerationJob, User

    with product.db_session() as session:
        user = session.exec(select(User).where(User.email == email)).one()
        return list(session.exec(select(GenerationJob).where(col(GenerationJob.user_id) == user.id)).all())


def _choose(page, label: str, option: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_app(page)


def _image_rgb(locator) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB")).astype(np.int16)


def test_dutch_reaches_the_html_lang_and_streamlits_own_texts(browser, product) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, locale="nl-NL")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        register(page, product.url, f"lang-{uuid.uuid4().hex[:8]}@example.org", name="Bram", lang="nl")
        wait_app(page)
        _speaks(page, "nl")
        page.reload()  # a fresh page: the script runs again
        page.get_by_role("heading", name="Nieuw model").wait_for()
        wait_app(page)
        _speaks(page, "nl")
        shot(page, "newcomer-nl-upload-empty")
        page.locator("[data-testid=stSidebar]").get_by_text("English", exact=True).click()
        page.get_by_role("heading", name="New model").wait_for()
        wait_app(page)
        _speaks(page, "en")
        shot(page, "newcomer-en-upload-empty")
        page.locator("[data-testid=stSidebar]").get_by_text("Nederlands", exact=True).click()
        page.get_by_role("heading", name="Nieuw model").wait_for()
        wait_app(page)
        _speaks(page, "nl")
    finally:
        context.close()


def _context(browser, lang: str):  # type: ignore[no-untyped-def]
    # Tall, so that the screenshots show whole pages (Streamlit scrolls inside its own container).
    context = browser.new_context(viewport={"width": 1360, "height": 1600}, accept_downloads=True,
                                  locale="nl-NL" if lang == "nl" else "en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    return context, page


def _tr(lang: str):  # type: ignore[no-untyped-def]
    def t(message: str, **fields: object) -> str:
        return translate(message, lang, **fields)

    return t


def _one_image(page, product, tmp_path: Path, lang: str) -> str:  # type: ignore[no-untyped-def]
    """A new user on "New model" with one photo of a vase uploaded; returns the email."""
    t = _tr(lang)
    email = f"new-{lang}-{uuid.uuid4().hex[:8]}@example.org"
    register(page, product.url, email, name="Nieuw" if lang == "nl" else "Newcomer", lang=lang)
    wait_app(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
        str(object_png(tmp_path / "vase.png")))
    page.get_by_text(re.compile(re.escape(t("Detected object ({pct} of the image)", pct="")[:12]))).first.wait_for()
    wait_app(page)
    return email


def _size_field(page, lang: str):  # type: ignore[no-untyped-def]
    # The label's start only: before the print size became a default it read "(mm, 0 = unscaled)".
    label = _tr(lang)("Print size of the longest side (mm)").rstrip(")")
    return page.get_by_label(re.compile("^" + re.escape(label)))


def test_enter_in_the_print_size_field_starts_nothing(browser, product, tmp_path) -> None:  # type: ignore[no-untyped-def]
    context, page = _context(browser, "en")
    try:
        email = _one_image(page, product, tmp_path, "en")
        size = _size_field(page, "en")
        size.fill("120")
        size.press("Enter")
        page.wait_for_timeout(2000)
        wait_app(page)
        assert _user_jobs(product, email) == [], "Enter in the size field started a generation"
        assert page.get_by_text("Your model is on its way.").count() == 0
        assert float(size.input_value()) == 120.0
    finally:
        context.close()


def test_a_lithophane_is_previewed_as_one_backlit_material(browser, product, tmp_path) -> None:  # type: ignore[no-untyped-def]
    context, page = _context(browser, "en")
    try:
        _one_image(page, product, tmp_path, "en")
        _choose(page, "Mode", "Relief plate")
        lithophane = page.get_by_text(re.compile(r"^Lithophane")).first  # once "Lithophane (relief only)"
        lithophane.wait_for()
        lithophane.click()
        wait_app(page)
        page.wait_for_timeout(1000)
        wait_app(page)
        # What will be modelled: the photo's orange object (R-B = 190) must not show; a backlit white plate
        # has R-B of about 23 at full light.
        images = page.locator("[data-testid=stMain] [data-testid=stImage] img")
        shown = [_image_rgb(images.nth(i)) for i in range(images.count())]
        preview = [rgb for rgb in shown if rgb.shape[0] > 150]  # not the mode examples' strip at the top
        assert preview, "no preview is shown"
        warmth = max(int((rgb[..., 0] - rgb[..., 2]).max()) for rgb in preview[-1:])
        assert warmth < 40, f"the lithophane preview has the photo's colours (R-B up to {warmth})"
        shot(page, "newcomer-en-upload-lithophane")
    finally:
        context.close()


def _make_and_open(page, lang: str) -> None:  # type: ignore[no-untyped-def]
    t = _tr(lang)
    page.get_by_role("button", name=t("Make my 3D model")).click()
    page.get_by_text(t("“{name}” is ready.", name="vase")).wait_for(timeout=JOB_TIMEOUT_MS)
    wait_app(page)
    shot(page, f"newcomer-{lang}-upload-done")
    page.get_by_role("link", name=t("Open the model")).click()
    page.get_by_role("heading", name="vase").wait_for()
    wait_app(page)


def _background_share(rgb: np.ndarray) -> float:
    """The share of the viewer that shows its pale background (no part of an orange vase)."""
    return float((rgb.min(axis=-1) > 225).mean())


def test_after_a_job_the_viewer_stops_outside_the_model_and_new_model_is_fresh(browser, product,  # type: ignore[no-untyped-def]
                                                                              tmp_path) -> None:
    context, page = _context(browser, "en")
    problems = []
    try:
        _one_image(page, product, tmp_path, "en")
        page.get_by_role("button", name="Make my 3D model").click()
        page.get_by_text("“vase” is ready.").wait_for(timeout=JOB_TIMEOUT_MS)
        wait_app(page)
        # Away and back: "New model" is a fresh form, not the last result.
        page.get_by_role("link", name="My models").click()
        page.get_by_role("heading", name="My models").wait_for()
        wait_app(page)
        page.get_by_role("link", name="New model").click()
        page.get_by_role("heading", name="New model").wait_for()
        wait_app(page)
        page.wait_for_timeout(1000)
        if page.get_by_text("“vase” is ready.").count() or not page.locator("[data-testid=stFileUploader]").count():
            problems.append("New model still shows the last result instead of a fresh form")

        page.get_by_role("link", name="My models").click()
        page.get_by_role("link", name="Open").first.click()
        page.get_by_role("heading", name="vase").wait_for()
        wait_app(page)
        first = canvas_stats(page, "newcomer-en-viewer")
        canvas = page.locator("[data-testid='stDeckGlJsonChart'] canvas").first
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        for _ in range(40):  # a few notches were enough to go inside; 40 reach any limit
            page.mouse.wheel(0, -240)
            page.wait_for_timeout(40)
        zoomed = canvas_stats(page, "newcomer-en-viewer-zoomed-in")
        assert _background_share(first) > 0.5
        orange = float(((zoomed[..., 0] - zoomed[..., 2]) > 80).mean())
        if _background_share(zoomed) < 0.02 or orange < 0.3:
            problems.append(f"zoomed in fully, {_background_share(zoomed):.1%} of the viewer is background and "
                            f"{orange:.0%} the model's orange outside: the camera went inside the model")
    finally:
        context.close()
    assert problems == []


def _journey(page, product, tmp_path: Path, lang: str) -> None:  # type: ignore[no-untyped-def]
    """Upload, options, a model, its page and the library, in ``lang``, with a screenshot of each."""
    t = _tr(lang)
    url = product.url
    email = f"new-{lang}-{uuid.uuid4().hex[:8]}@example.org"
    register(page, url, email, name="Nieuw" if lang == "nl" else "Newcomer", lang=lang)
    wait_app(page)
    uploader = page.locator("[data-testid='stFileUploaderDropzoneInput']")

    # Four views of a mug are named "mug", not "mug_view0"; several views make a carve: camera height, no lithophane.
    views = [object_png(tmp_path / f"mug_view{i}.png") for i in range(4)]
    uploader.set_input_files([str(p) for p in views])
    page.get_by_text(t("What will be modelled")).wait_for()
    wait_app(page)
    expect(page.get_by_label(t("Name of the model"))).to_have_value("mug")
    page.get_by_text(t("Camera height (degrees above the turntable)")).first.wait_for()
    assert page.get_by_text(t("Lithophane"), exact=True).count() == 0
    shot(page, f"newcomer-{lang}-upload-views")

    # One image: an inflate by default, so neither carve's nor relief's options; 100 mm.
    page.reload()  # a fresh form (the uploader adds files to those it holds)
    page.get_by_role("heading", name=t("New model")).wait_for()
    wait_app(page)
    uploader.set_input_files(str(object_png(tmp_path / "vase.png")))
    page.get_by_text(re.compile(re.escape(t("Detected object ({pct} of the image)", pct="")[:12]))).first.wait_for()
    wait_app(page)
    page.locator("[data-testid=stPlotlyChart] .main-svg").first.wait_for()  # the box picker
    wait_app(page)
    expect(page.get_by_label(t("Name of the model"))).to_have_value("vase")
    assert page.get_by_text(t("Lithophane"), exact=True).count() == 0
    assert page.get_by_text(t("Camera height (degrees above the turntable)")).count() == 0
    assert float(_size_field(page, lang).input_value()) == 100.0
    shot(page, f"newcomer-{lang}-upload")

    # A relief: the lithophane option; ticked, the preview is one backlit material.
    _choose(page, t("Mode"), t("Relief plate"))
    page.get_by_text(t("Lithophane"), exact=True).first.click()
    page.get_by_text(t("{name} · the lithophane lit from behind: one pale material, thin where the picture is "
                       "bright", name="vase.png")).wait_for()
    wait_app(page)
    page.wait_for_timeout(500)
    shot(page, f"newcomer-{lang}-upload-lithophane")
    _choose(page, t("Mode"), t("Automatic"))

    # The model page: 100 mm on the longest side, changeable; "Het model", not "Het net".
    _make_and_open(page, lang)
    page.get_by_text(re.compile(re.escape(t("Print size")) + r": (?=.*\b100\b).* mm")).wait_for()
    assert page.get_by_text(t("The mesh"), exact=True).count() == 1
    canvas_stats(page, f"newcomer-{lang}-viewer")
    shot(page, f"newcomer-{lang}-model")
    new_size = page.get_by_label(t("Longest side when printed (mm)"), exact=True)
    new_size.fill("150")
    new_size.press("Enter")
    page.get_by_text(re.compile(re.escape(t("Print size")) + r": (?=.*\b150\b).* mm")).wait_for()
    wait_app(page)
    with page.expect_download() as info:
        page.get_by_role("button", name=t("Download {fmt}", fmt="STL")).click()
    import trimesh

    stl = trimesh.load(io.BytesIO(Path(info.value.path()).read_bytes()), file_type="stl")
    assert max(stl.extents) == pytest.approx(150.0, rel=1e-3), stl.extents

    # The library: the mode used, buttons with names, a rename dialog that names the model.
    page.get_by_role("link", name=t("My models")).click()
    page.get_by_role("heading", name=t("My models")).wait_for()
    card = page.locator("[class*='st-key-model_card_']").first
    card.get_by_text("vase", exact=True).wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stImage] img')]"
                           ".some(img => img.complete && img.naturalWidth > 0)")
    wait_app(page)
    assert card.get_by_text(t("Inflate (one photo)"), exact=False).count() == 1
    assert card.get_by_text(t("Automatic"), exact=False).count() == 0
    shot(page, f"newcomer-{lang}-library")
    card.get_by_role("button", name=t("Delete")).wait_for()
    card.get_by_role("button", name=t("Rename")).click()
    page.get_by_role("dialog").get_by_label(t("New name for “{name}”", name="vase")).wait_for()
    wait_app(page)
    shot(page, f"newcomer-{lang}-library-rename")


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_a_newcomers_first_model(browser, product, tmp_path, lang) -> None:  # type: ignore[no-untyped-def]
    context, page = _context(browser, lang)
    try:
        _journey(page, product, tmp_path, lang)
    except Exception:
        shot(page, f"failed-newcomer-{lang}")
        raise
    finally:
        context.close()
