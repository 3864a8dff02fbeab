"""Click to model: after "Make my 3D model" the page shows the model by itself, and its page has every view.

Generous timeouts: this checks what happens, not how fast (benchmarks/click_to_model.py times it).
"""

from __future__ import annotations

import io
import re
import uuid

import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import shot
from tests.e2e.test_journey import JOB_TIMEOUT_MS, canvas_stats, object_png, register, wait_app

pytestmark = pytest.mark.e2e

RESULT_CANVAS = ".st-key-job_result [data-testid='stDeckGlJsonChart'] canvas"


def _drawn(page, selector: str, timeout_ms: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The canvas's pixels once more than 3% of them differ from its background."""
    deadline = timeout_ms / 1000
    waited = 0.0
    while True:
        png = page.locator(selector).first.screenshot(timeout=timeout_ms)
        rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)
        if (np.abs(rgb - rgb[2, 2]).sum(axis=2) > 30).mean() > 0.03:
            return rgb
        assert waited < deadline, "the viewer never drew the model"
        page.wait_for_timeout(250)
        waited += 0.25


def test_the_model_shows_after_the_click_without_a_reload(page, product, tmp_path) -> None:  # type: ignore[no-untyped-def]
    register(page, product.url, f"click-{uuid.uuid4().hex[:8]}@example.org")
    picture = object_png(tmp_path / "vase.png", size=(256, 256))
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(picture))
    page.get_by_text(re.compile(r"Detected object \(\d+% of the image\)")).wait_for()
    wait_app(page)
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    upload_url = page.url
    page.get_by_role("button", name="Make my 3D model").click()

    # No reload, no click: the result comes with the model in a viewer, drawn.
    page.locator(RESULT_CANVAS).wait_for(timeout=JOB_TIMEOUT_MS)
    rgb = _drawn(page, RESULT_CANVAS, JOB_TIMEOUT_MS)
    shot(page, "click-result")
    assert page.get_by_text("“vase” is ready.").is_visible()
    assert navigations == [] and page.url == upload_url, "the page was loaded again"
    assert float(((rgb[..., 0] - rgb[..., 2]) > 80).mean()) > 0.03, "the vase's orange is not in the viewer"

    # Its page: the viewer draws, and the views drawn after the job (three-quarter, side) are there too.
    page.get_by_role("link", name="Open the model").click()
    page.get_by_role("heading", name="vase").wait_for()
    wait_app(page)
    model_pixels = canvas_stats(page, "click-model-page")
    assert model_pixels.std() > 10, "the model page's viewer is blank"
    for _ in range(20):
        if page.get_by_text("Three-quarter", exact=True).count() and page.get_by_text("Side", exact=True).count():
            break
        page.wait_for_timeout(1000)
        page.reload()
        page.get_by_role("heading", name="vase").wait_for()
        wait_app(page)
    for view in ("Front", "Three-quarter", "Side"):
        page.get_by_text(view, exact=True).wait_for()
    views = page.locator("[data-testid=stMain] [data-testid=stImage] img")
    assert views.count() >= 3
    for i in range(views.count()):
        views.nth(i).scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=views.nth(i).element_handle())
    shot(page, "click-model-views")
