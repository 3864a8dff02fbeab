"""The box on the upload page, on a real, wide photo (issue 20: a box drawn round a car kept a band).

The photo is the photo benchmark's kind: a real texture (chelsea's fur) cut in a known silhouette on
a real photo (the astronaut), 16:9 so that the box picture shows it with bars, and saved as a phone
does, pixels stored on their side with an EXIF orientation that turns them upright. The user drags
a box round the object on the picture they see (the image itself, not the chart around it); the
job must get that box in the upright photo's fractions, and the preview must show the object.
Screenshots in English and Dutch show the method and the preview.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.i18n import translate
from tests.e2e.conftest import shot
from tests.e2e.test_box import drag_box, job_box
from tests.e2e.test_dutch import english_leftovers
from tests.e2e.test_journey import register, wait_app

pytestmark = pytest.mark.e2e

SIZE = (960, 540)  # 16:9, wider than the box picture's frame


def wide_photo(path: Path) -> tuple[Path, tuple[float, float, float, float], float]:
    """``(path, box, share)``: the JPEG (stored on its side, EXIF says turn it), the object's bounds
    plus 4 % as fractions of the upright photo, and the object's share of the frame."""
    from benchmarks.photos import _backdrop, _box, _render, _silhouette, _skin

    width, height = SIZE
    mask = _silhouette("box", width, height, 0.6)
    mask = np.roll(mask, round(0.18 * width), axis=1)  # off centre, towards the right
    rgb = _render(mask, _skin("chelsea", width, height), _backdrop("astronaut", width, height), True)
    stored = Image.fromarray(rgb).transpose(Image.Transpose.ROTATE_90)  # what the sensor wrote
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": undoes the turn above
    buf = io.BytesIO()
    stored.save(buf, "JPEG", quality=92, exif=exif.tobytes())
    path.write_bytes(buf.getvalue())
    return path, _box(mask), float(mask.mean())


def drag_on_picture(page, box: tuple[float, float, float, float]) -> None:  # type: ignore[no-untyped-def]
    """Drag ``box`` (fractions of the photo) where the photo is drawn, as a person aims at what they see."""
    drag_box(page, box, target="[data-testid='stPlotlyChart'] .imagelayer image")


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_a_box_on_a_wide_rotated_photo_is_the_box_the_job_gets(browser, product, tmp_path, lang) -> None:  # type: ignore[no-untyped-def]
    def t(message: str, **fields: object) -> str:
        return translate(message, lang, **fields)

    context = browser.new_context(viewport={"width": 1360, "height": 1600},
                                  locale="nl-NL" if lang == "nl" else "en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        email = f"wide-{lang}-{uuid.uuid4().hex[:8]}@example.org"
        register(page, product.url, email, name="Wim", lang=lang)
        photo, drawn, share_true = wide_photo(tmp_path / "kat.jpg")
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(photo))
        page.get_by_text(t("What will be modelled")).wait_for()
        wait_app(page)
        image = page.locator("[data-testid='stPlotlyChart'] .imagelayer image").first
        bounds = image.bounding_box()
        assert bounds is not None and bounds["width"] > bounds["height"]  # upright: wide, as the photo is

        drag_on_picture(page, drawn)
        inside = t("Object inside your box ({pct} of the image)", pct="")[:20]
        page.get_by_text(inside).wait_for()
        wait_app(page)
        method = t("Mask made with {method}{name}.", method=t("your box"), name="")
        page.get_by_text(method).wait_for()
        shot(page, f"{lang}-box-wide-photo")
        if lang == "nl":
            assert english_leftovers(page) == []
        caption = page.get_by_text(inside).first.inner_text()
        share = float(caption.split("(")[1].split("%")[0].replace(",", ".")) / 100
        assert 0.8 * share_true < share < 1.2 * share_true, (caption, share_true)

        page.get_by_role("button", name=t("Make my 3D model")).click()
        stored = None
        for _ in range(50):
            stored = job_box(product, email)
            if stored:
                break
            page.wait_for_timeout(200)
        assert stored is not None and max(abs(a - b) for a, b in zip(stored, drawn, strict=True)) < 0.02, (
            stored, drawn)
    except Exception:
        shot(page, f"failed-{lang}-box-wide")
        raise
    finally:
        context.close()
