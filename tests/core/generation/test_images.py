"""Image loading and foreground detection: every kind of input, and every kind of bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core.errors import ValidationError
from core.generation import compute_mask, load_image
from core.generation.errors import (
    CorruptImage,
    EmptyFile,
    ForegroundFillsFrame,
    ImageTooLarge,
    NoForeground,
    UnsupportedImageType,
)
from core.generation.images import foreground_method
from tests.core.generation import builders
from tests.core.generation.conftest import iou


def test_errors_are_validation_errors_with_codes() -> None:
    for cls in (CorruptImage, EmptyFile, ImageTooLarge, NoForeground, UnsupportedImageType):
        assert issubclass(cls, ValidationError)
        assert cls.code not in ("error", "invalid_input")
        assert str(cls()).endswith(".")


def test_zero_byte_file() -> None:
    with pytest.raises(EmptyFile):
        load_image(b"")


def test_truncated_png() -> None:
    data = builders.png(builders.rgba(builders.figure_mask(128)))
    with pytest.raises(CorruptImage):
        load_image(data[: len(data) // 2])
    with pytest.raises(CorruptImage):
        load_image(data[:20])


def test_text_file_is_not_an_image() -> None:
    with pytest.raises(UnsupportedImageType):
        load_image(b"hello, I am a text file with a .png name\n" * 4)


def test_decompression_bomb_is_refused_from_the_header() -> None:
    with pytest.raises(ImageTooLarge):
        load_image(builders.bomb_png(30_000, 30_000))
    # Below Pillow's own limit but above ours: our check fires before decoding.
    with pytest.raises(ImageTooLarge):
        load_image(builders.bomb_png(8000, 6000))
    with pytest.raises(ImageTooLarge):
        load_image(builders.png(np.zeros((100, 100, 3), np.uint8)), max_pixels=5000)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Image.fromarray((np.arange(64 * 48).reshape(48, 64) * 20).astype(np.uint16)),  # 16-bit grey
        lambda: Image.new("L", (64, 48), 90),
        lambda: Image.new("RGB", (64, 48), (10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE),
        lambda: Image.new("LA", (64, 48), (90, 128)),
        lambda: Image.new("RGBA", (64, 48), (1, 2, 3, 4)),
        lambda: Image.new("1", (64, 48), 1),
    ],
)
def test_modes_become_rgba(make) -> None:
    buf = io.BytesIO()
    make().save(buf, format="PNG")
    image = load_image(buf.getvalue())
    assert image.mode == "RGBA" and image.size == (64, 48)


def test_sixteen_bit_grey_keeps_its_range() -> None:
    grey = np.full((8, 8), 65535, np.uint16)
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, format="PNG")
    assert np.asarray(load_image(buf.getvalue()))[..., 0].min() == 255


def test_cmyk_jpeg_and_webp() -> None:
    buf = io.BytesIO()
    Image.new("CMYK", (40, 30), (0, 255, 255, 0)).save(buf, format="JPEG")
    red = np.asarray(load_image(buf.getvalue()))[15, 20]
    assert red[0] > 200 and red[1] < 60 and red[3] == 255
    buf = io.BytesIO()
    Image.new("RGBA", (40, 30), (0, 0, 255, 100)).save(buf, format="WEBP", lossless=True)
    assert load_image(buf.getvalue()).getpixel((3, 3))[3] == 100


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (60, 20), (255, 255, 255))
    image.paste((255, 0, 0), (0, 0, 10, 20))  # red stripe on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    buf = io.BytesIO()
    image.save(buf, format="JPEG", exif=exif.tobytes(), quality=95)
    upright = load_image(buf.getvalue())
    assert upright.size == (20, 60)
    assert upright.getpixel((10, 2))[0] > 200 and upright.getpixel((10, 2))[1] < 80  # stripe now on top


def test_gif_is_not_accepted() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, format="GIF")
    with pytest.raises(UnsupportedImageType):
        load_image(buf.getvalue())


def test_alpha_mask_is_used() -> None:
    mask = builders.figure_mask(200)
    found = compute_mask(load_image(builders.png(builders.rgba(mask))))
    assert found.dtype == bool and iou(found, mask) > 0.99


@pytest.mark.parametrize("background", [240, 20, 128])
def test_plain_background_matches_alpha(background: int) -> None:
    mask = builders.figure_mask(200)
    found = compute_mask(load_image(builders.png(builders.on_background(mask, background))))
    assert iou(found, mask) > 0.97


def _antialiased_bars(size: int, widths: tuple[float, ...], ss: int = 8) -> np.ndarray:
    """Exact coverage (0..1) of upright bars of the given widths in pixels, drawn at ``ss``× and averaged."""
    fine = np.zeros((size * ss, size * ss))
    left = size * 0.15
    for w in widths:
        fine[int(size * 0.15 * ss) : int(size * 0.85 * ss), round(left * ss) : round((left + w) * ss)] = 1.0
        left += w + size * 0.12
    # A crossbar, so the object is one piece.
    fine[int(size * 0.8 * ss) : int(size * 0.85 * ss), int(size * 0.15 * ss) : round((left - size * 0.12) * ss)] = 1.0
    return fine.reshape(size, ss, size, ss).mean(axis=(1, 3))


@pytest.mark.parametrize(("colour", "background"), [((110, 80, 60), 236), ((240, 240, 250), 30)])
def test_plain_background_edge_is_as_exact_as_an_alpha_channel(colour, background) -> None:
    """Edge pixels are unmixed from the backdrop: thin parts keep their width to a tenth of a pixel.

    A threshold on the distance from the backdrop counted every pixel the object grazed as
    inside, so each outline sat about half a pixel out and a 6-pixel leg came out 7 wide.
    """
    from core.generation.images import foreground

    widths = (3.5, 6.3, 12.7)
    truth = _antialiased_bars(200, widths)
    rgb = truth[..., None] * np.array(colour) + (1.0 - truth[..., None]) * background
    _, coverage = foreground(load_image(builders.png(np.round(rgb).astype(np.uint8))))
    row = coverage[100]
    runs = np.split(row, np.nonzero(row < 0.01)[0])
    found = sorted(float(r.sum()) for r in runs if r.sum() > 1.0)
    assert found == pytest.approx(sorted(widths), abs=0.12)
    assert abs(float(coverage.sum()) - float(truth.sum())) < 0.002 * float(truth.sum())


def test_gradient_background_with_noise() -> None:
    mask = builders.figure_mask(240)
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:240, 0:240]
    bg = 170 + 60 * (xx / 240) + 20 * (yy / 240)
    img = np.repeat(bg[..., None], 3, axis=2) + rng.normal(0, 3, (240, 240, 3))
    img[mask] = (60, 70, 200)
    found = compute_mask(load_image(builders.png(np.clip(img, 0, 255).astype(np.uint8))))
    assert iou(found, mask) > 0.97


def test_ring_keeps_its_hole() -> None:
    outer = builders.disk_mask(200, 80)
    ring = outer & ~builders.disk_mask(200, 40)
    found = compute_mask(load_image(builders.png(builders.on_background(ring))))
    assert not found[100, 100] and iou(found, ring) > 0.97


def test_empty_alpha() -> None:
    with pytest.raises(NoForeground):
        compute_mask(load_image(builders.png(np.zeros((64, 64, 4), np.uint8))))


def test_all_white_image() -> None:
    with pytest.raises(NoForeground):
        compute_mask(load_image(builders.png(np.full((64, 64, 3), 255, np.uint8))))


def test_foreground_fills_frame() -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)
    with pytest.raises(ForegroundFillsFrame):
        compute_mask(load_image(builders.png(noise)))
    full = np.zeros((64, 64, 4), np.uint8)
    full[..., 3] = 255
    full[0, 0, 3] = 0  # alpha is meaningful, but everything else is opaque
    with pytest.raises(ForegroundFillsFrame):
        compute_mask(load_image(builders.png(full)))


def _marble_or_cat(kind: str, size: tuple[int, int] = (480, 400)) -> tuple[np.ndarray, np.ndarray]:
    """A white marble torso on grey whose hollows shade to the backdrop's grey, or a black cat on black
    whose unlit fur is the backdrop's black: ``(rgb, true mask)``."""
    from tests.core.generation.scenes import _smooth_noise

    w, h = size
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    level = 128.0 if kind == "marble" else 14.0
    back = level + rng.normal(0, 2.0, (h, w))
    u, v = (xx - w / 2) / (0.28 * w), (yy - h / 2) / (0.4 * h)
    body = u**2 + v**2 <= 1
    lit = 235.0 if kind == "marble" else 70.0
    light = lit - 0.17 * (lit - level) * np.clip(u + v, -1, 1)
    for cx, cy, r in ((0.0, 0.35, 0.3), (-0.3, -0.3, 0.26)):  # hollows (or unlit fur) at the backdrop's level
        d2 = ((u - cx) ** 2 + (v - cy) ** 2) / r**2
        light = light - (light - level) * np.exp(-d2 * 1.2) * 1.05
    grain = (10 if kind == "marble" else 6) * np.sin(xx / 6 + 8 * _smooth_noise(rng, h, w, 30)) * _smooth_noise(
        rng, h, w, 12)
    img = np.where(body, light + grain + rng.normal(0, 2.0, (h, w)), back)
    return np.clip(np.stack([img, img, img * 0.98], -1) + 0.5, 0, 255).astype(np.uint8), body


@pytest.mark.parametrize("kind", ["marble", "cat"])
def test_a_body_shaded_to_the_backdrop_colour_stays_whole(kind: str) -> None:
    rgb, body = _marble_or_cat(kind)
    mask, _, method = foreground_method(load_image(builders.png(rgb)))
    assert method == "backdrop"
    assert not (body & ~mask).any() and iou(mask, body) > 0.98


def test_a_hole_the_backdrop_shows_through_stays_open_even_in_a_textured_object() -> None:
    rgb, body = _marble_or_cat("marble")
    yy, xx = np.mgrid[0:400, 0:480]
    hole = (xx - 240) ** 2 + (yy - 120) ** 2 <= 30**2  # a drilled hole in the upper body: sharp rim, grey behind
    rgb = rgb.copy()
    rgb[hole] = np.clip(128 + np.random.default_rng(5).normal(0, 2.0, (int(hole.sum()), 3)), 0, 255).astype(np.uint8)
    mask, _, _ = foreground_method(load_image(builders.png(rgb)))
    assert not mask[hole].any() and iou(mask, body & ~hole) > 0.97
