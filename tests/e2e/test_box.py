"""A photo with a real background: the user draws a box around the object on the upload page.

In English and in Dutch: upload a photo of an object on a wooden table in front of a wall, drag a
box around it in the picture, see the preview follow the box, make the model, and find the box
again on "generate again". The screenshots (artifacts/screenshots/*-box-*.png) are for looking at.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter
from sqlmodel import select

from core.i18n import translate
from tests.e2e.conftest import shot
from tests.e2e.test_dutch import english_leftovers
from tests.e2e.test_journey import JOB_TIMEOUT_MS, register, wait_app

pytestmark = pytest.mark.e2e

#: Where the mug stands in the scene, as fractions of the picture (x0, y0, x1, y1).
OBJECT = (0.38, 0.30, 0.64, 0.78)


def table_scene(path: Path) -> Path:
    """A mug-like object on a wood-grain table in front of a textured wall, with a soft shadow."""
    rng = np.random.default_rng(7)
    width, height = 640, 480
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    horizon = int(height * 0.55)
    wall = 170 + 18 * np.sin(x / 9.0) * np.sin(y / 13.0) + rng.normal(0, 8, (height, width))
    grain = 120 + 35 * np.sin(x / 5.0 + 6 * np.sin(y / 40.0)) + rng.normal(0, 10, (height, width))
    img = np.empty((height, width, 3), np.float32)
    img[..., 0] = np.where(y < horizon, wall, grain * 1.25)
    img[..., 1] = np.where(y < horizon, wall * 0.97, grain * 0.85)
    img[..., 2] = np.where(y < horizon, wall * 0.9, grain * 0.55)
    # A soft shadow on the table, right of the object.
    shadow = Image.new("L", (width, height), 0)
    sx0, sy0, sx1, sy1 = (int(OBJECT[0] * width) + 40, int(0.66 * height), int(OBJECT[2] * width) + 90,
                          int(0.82 * height))
    shadow.paste(150, (sx0, sy0, sx1, sy1))
    dark = np.asarray(shadow.filter(ImageFilter.GaussianBlur(14)), np.float32) / 255.0
    img *= (1.0 - 0.55 * dark)[..., None]
    # The object: a shaded, rounded body in a colour the table does not have.
    x0, y0, x1, y1 = (OBJECT[0] * width, OBJECT[1] * height, OBJECT[2] * width, OBJECT[3] * height)
    cx, rx = (x0 + x1) / 2, (x1 - x0) / 2
    inside = (np.abs((x - cx) / rx) ** 4 + np.abs((y - (y0 + y1) / 2) / ((y1 - y0) / 2)) ** 4) <= 1.0
    light = 0.55 + 0.45 * np.clip(1 - ((x - (cx - rx * 0.4)) / rx) ** 2, 0, 1)
    for channel, value in enumerate((40, 110, 215)):
        img[..., channel] = np.where(inside, value * light, img[..., channel])
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=92)
    return path


def drag_box(page, box: tuple[float, float, float, float],  # type: ignore[no-untyped-def]
             target: str = "[data-testid='stPlotlyChart'] .nsewdrag") -> None:
    """Drag a box (fractions of ``target``: the plot area, or the picture drawn in it) in the upload
    page's picture, as a user does with the mouse."""
    area = page.locator(target).first
    area.wait_for()
    wait_app(page)
    bounds = area.bounding_box()
    assert bounds is not None
    start = (bounds["x"] + box[0] * bounds["width"], bounds["y"] + box[1] * bounds["height"])
    end = (bounds["x"] + box[2] * bounds["width"], bounds["y"] + box[3] * bounds["height"])
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=5)
    page.mouse.move(*end, steps=5)
    page.mouse.up()


def job_box(product, email: str) -> list[float] | None:  # type: ignore[no-untyped-def]
    from core.models import GenerationJob, User

    with product.db_session() as session:
        user = session.exec(select(User).where(User.email == email)).one()
        jobs = session.exec(select(GenerationJob).where(GenerationJob.user_id == user.id)
                            .order_by(GenerationJob.id)).all()  # type: ignore[arg-type]
        return [job.options.get("box") for job in jobs][-1] if jobs else None


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_a_box_around_the_object_in_a_photo_with_a_real_background(browser, product, tmp_path, lang) -> None:  # type: ignore[no-untyped-def]
    def t(message: str, **fields: object) -> str:
        return translate(message, lang, **fields)

    context = browser.new_context(viewport={"width": 1360, "height": 1800}, locale="nl-NL" if lang == "nl" else "en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        url = product.url
        email = f"box-{lang}-{uuid.uuid4().hex[:8]}@example.org"
        register(page, url, email, name="Bo", lang=lang)

        photo = table_scene(tmp_path / ("mok.jpg" if lang == "nl" else "mug.jpg"))
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(photo))
        page.get_by_text(t("What will be modelled")).wait_for()
        wait_app(page)
        shot(page, f"{lang}-box-1-uploaded")

        margin = 0.04
        drawn = (OBJECT[0] - margin, OBJECT[1] - margin, OBJECT[2] + margin, OBJECT[3] + margin)
        drag_box(page, drawn)
        inside = t("Object inside your box ({pct} of the image)", pct="")[:20]
        page.get_by_text(inside).wait_for()
        wait_app(page)
        shot(page, f"{lang}-box-2-boxed")
        if lang == "nl":
            assert english_leftovers(page) == []

        # The preview shows the object, and about as much of the picture as the object covers.
        caption = page.get_by_text(inside).first.inner_text()
        share = float(caption.split("(")[1].split("%")[0].replace(",", ".")) / 100
        area = (OBJECT[2] - OBJECT[0]) * (OBJECT[3] - OBJECT[1])
        assert 0.6 * area < share < 1.1 * area, caption

        page.get_by_role("button", name=t("Make my 3D model")).click()
        name = photo.stem
        page.get_by_text(t("“{name}” is ready.", name=name)).wait_for(timeout=JOB_TIMEOUT_MS)
        stored = job_box(product, email)
        assert stored is not None and len(stored) == 4
        assert max(abs(a - b) for a, b in zip(stored, drawn, strict=True)) < 0.03, (stored, drawn)

        # "Generate again" brings the same image with the same box.
        page.get_by_role("link", name=t("Open the model")).click()
        page.get_by_role("link", name=t("Generate again")).click()
        page.get_by_text(inside).wait_for()
        wait_app(page)
        shot(page, f"{lang}-box-3-again")
        page.get_by_role("button", name=t("Clear the box")).click()
        page.get_by_text(inside).wait_for(state="detached")
    except Exception:
        shot(page, f"failed-{lang}-box")
        raise
    finally:
        context.close()
