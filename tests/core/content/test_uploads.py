"""Upload validation and storage: type from content, limits per plan, bombs, metadata stripped."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from sqlmodel import select

from core.accounts.access import Client
from core.content import uploads
from core.generation.errors import EmptyFile, ImageTooLarge, NoForeground, UnsupportedImageType
from core.models import AccessEvent
from core.storage import get_storage
from tests.utils.builders import create_random_user


def png(size=(160, 120), colour=(235, 238, 242), obj=True) -> bytes:
    w, h = size
    img = np.full((h, w, 3), colour, np.uint8)
    if obj:
        y, x = np.mgrid[0:h, 0:w]
        img[((x - w / 2) / (w * 0.3)) ** 2 + ((y - h / 2) / (h * 0.3)) ** 2 < 1] = (200, 60, 30)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


def jpeg_with_gps() -> bytes:
    img = Image.new("RGB", (120, 80), (230, 230, 230))
    img.paste((20, 90, 200), (40, 20, 80, 60))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif[0x010F] = "SpyCam"  # camera make
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 0.0), 3: "E", 4: (4.0, 53.0, 0.0)}  # GPS
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def test_type_is_sniffed_from_content_not_name():
    with pytest.raises(UnsupportedImageType, match="not a supported image"):
        uploads.validate_upload(b"just some text\n", filename="photo.png", plan="free")
    v = uploads.validate_upload(png(), filename="photo.txt", plan="free")
    assert v.ext == "png" and v.content_type == "image/png"


def test_zero_byte_file_is_refused_with_advice():
    with pytest.raises(EmptyFile, match="empty.*again"):
        uploads.validate_upload(b"", filename="x.png", plan="free")


def test_size_limit_per_plan(db):
    too_big = b"\x89PNG" + b"\0" * (11 * 1024 * 1024)
    with pytest.raises(uploads.UploadTooLarge, match="up to 10 MB") as err:
        uploads.validate_upload(too_big, filename="x.png", plan="free")
    assert err.value.context["limit"] == 10 * 1024 * 1024
    assert "The file is 11.0 MB; your plan accepts up to 10 MB" in err.value.render("en")
    assert "Het bestand is 11,0 MB; je abonnement accepteert tot 10 MB" in err.value.render("nl")


def test_a_size_just_over_the_limit_is_told_apart_from_it(db):
    """10 MB + 1 byte read "The file is 10.0 MB; your plan accepts up to 10 MB": it looked allowed."""
    limit = 10 * 1024 * 1024
    for size, en, nl in [
        (limit + 1, "The file is 10,485,761 bytes; your plan accepts up to 10,485,760 bytes (10 MB)",
         "Het bestand is 10.485.761 bytes; je abonnement accepteert tot 10.485.760 bytes (10 MB)"),
        (limit + 50_000, "The file is 10,535,760 bytes; your plan accepts up to 10,485,760 bytes (10 MB)",
         "Het bestand is 10.535.760 bytes; je abonnement accepteert tot 10.485.760 bytes (10 MB)"),
        (limit + 60_000, "The file is 10.1 MB; your plan accepts up to 10 MB", "Het bestand is 10,1 MB"),
    ]:
        with pytest.raises(uploads.UploadTooLarge) as err:
            uploads.validate_upload(b"\x89PNG" + b"\0" * (size - 4), filename="x.png", plan="free")
        assert en in str(err.value) and en in err.value.render("en")
        assert nl in err.value.render("nl")


def test_pixel_limit_refuses_bombs_before_decoding():
    buf = io.BytesIO()
    Image.new("L", (6000, 5000), 240).save(buf, "PNG")  # 30 MP in a few kB
    with pytest.raises(ImageTooLarge, match="6000×5000.*Shrink"):
        uploads.validate_upload(buf.getvalue(), filename="bomb.png", plan="free")
    assert uploads.max_pixels("premium") > 30_000_000 > uploads.max_pixels("free")


def test_views_per_plan(db):
    uploads.check_views(4, plan="free")
    with pytest.raises(uploads.TooManyViewsForPlan, match="at most 4 views"):
        uploads.check_views(5, plan="free")
    uploads.check_views(5, plan="premium")


def test_mask_preview_finds_the_object_and_refuses_a_blank_image():
    v = uploads.validate_upload(png(), filename="a.png", plan="free")
    preview, share = uploads.mask_preview(v.image)
    assert 0.1 < share < 0.5 and preview.size == (160, 120)
    blank = uploads.validate_upload(png(obj=False), filename="b.png", plan="free")
    with pytest.raises(NoForeground):
        uploads.mask_preview(blank.image)


def test_store_strips_exif_and_gps_and_logs_the_upload(session):
    user = create_random_user(session)
    who = Client(ip="203.0.113.9", user_agent="pytest-browser")
    row = uploads.store_upload(session, user=user, data=jpeg_with_gps(), filename="C:\\fakepath\\holiday.jpg",
                               client=who)
    assert row.storage_key.startswith(f"users/{user.id}/uploads/") and row.storage_key.endswith(".jpg")
    assert row.filename == "holiday.jpg"
    stored = get_storage().get(row.storage_key)
    img = Image.open(io.BytesIO(stored))
    assert not img.getexif() and b"SpyCam" not in stored and b"Exif" not in stored
    assert (img.width, img.height) == (80, 120)  # the orientation was applied, then dropped
    assert (row.width, row.height, row.size_bytes) == (80, 120, len(stored))
    event = session.exec(select(AccessEvent).where(AccessEvent.user_id == user.id)
                         .where(AccessEvent.kind == "upload")).one()
    assert (event.ip, event.user_agent) == ("203.0.113.9", "pytest-browser")


def test_transparent_png_keeps_its_alpha(session):
    user = create_random_user(session)
    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    img.paste((250, 10, 10, 255), (16, 16, 48, 48))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    row = uploads.store_upload(session, user=user, data=buf.getvalue(), filename="cut-out.png")
    stored = Image.open(io.BytesIO(get_storage().get(row.storage_key)))
    assert stored.mode == "RGBA" and stored.getpixel((0, 0))[3] == 0


def test_mode_examples_are_drawn():
    for mode in ("inflate", "relief", "carve", "auto"):
        pixels = np.asarray(uploads.mode_example(mode))
        assert pixels.shape == (130, 260, 3) and pixels.std() > 10


@pytest.mark.parametrize(("files", "name"), [
    (["mug_view0.png", "mug_view1.png", "mug_view2.png", "mug_view3.png"], "mug"),
    (["vaas-kant-1.jpg", "vaas-kant-2.jpg", "vaas-kant-3.jpg"], "vaas"),
    (["teapot 01.png", "teapot 02.png"], "teapot"),
    (["mug.png"], "mug"),
    (["front.png", "back.png"], "front"),  # nothing shared: the first file's name
])
def test_a_model_of_several_views_is_named_after_what_they_share(files, name):
    assert uploads.default_name(files) == name


def test_a_lithophane_preview_is_one_backlit_material():
    photo = Image.open(io.BytesIO(png(size=(200, 150)))).convert("RGBA")
    lit = np.asarray(uploads.lithophane_preview(photo)).astype(np.float64)
    tint = np.asarray(uploads.LITHOPHANE_TINT, np.float64)
    share = lit / tint  # each pixel the one material's colour, dimmed by its thickness
    assert np.abs(share - share.mean(axis=-1, keepdims=True)).max() < 0.02
    # Thin where the picture is bright: the light background glows, the dark red object is dim.
    assert lit[5, 5].mean() > 2 * lit[75, 100].mean()
