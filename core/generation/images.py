"""Reading uploaded images safely, and finding the object in them.

``load_image`` and ``compute_mask`` are quick enough (well under 0.2 s at
1024 px on a plain background, a few tenths with GrabCut on a photo) for the
upload page to show the detected mask before a job is queued; ``preview_mask``
and ``mask_overlay`` are that preview.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.generation.errors import (
    CorruptImage,
    EmptyFile,
    ForegroundFillsFrame,
    ImageTooLarge,
    NoForeground,
    ObjectNotFound,
    UnsupportedImageType,
)
from core.generation.options import DEFAULT_MAX_PIXELS, check_box
from core.i18n import N_

log = logging.getLogger(__name__)

ACCEPTED_FORMATS = ["PNG", "JPEG", "WEBP"]
try:  # HEIC only when the optional plugin is installed; it is not required.
    import pillow_heif  # type: ignore[import-not-found]

    pillow_heif.register_heif_opener()
    ACCEPTED_FORMATS.append("HEIF")
except ImportError:  # pragma: no cover - depends on the environment
    pass

# Signatures of the formats we accept, so that a damaged PNG is reported as
# damaged rather than as "not an image".
_MAGIC = (b"\x89PNG", b"\xff\xd8\xff")

ALPHA_OPAQUE = 250  # an alpha channel with no value below this carries no mask
BORDER_FRACTION = 0.02  # width of the frame band that samples the background
MIN_THRESHOLD = 22.0  # RGB distance (0-255 scale) that always counts as background noise
NOISE_SIGMAS = 6.0  # above the border's own noise, in robust standard deviations
FILLS_FRAME_FRACTION = 0.97  # of all pixels; more and there is no background to speak of
MAX_BACKGROUND_NOISE = 14.0  # robust std of the border around its fitted model; more is not plain
STUDIO_NOISE = 6.0  # that std on a studio backdrop (sensor noise, JPEG); more is a textured surface, a photo
BUSY_BORDER_FRACTION = 0.35  # of the border band unlike the background model: not a plain backdrop
MIN_PART_FRACTION = 0.03  # parts smaller than this share of the largest are specks
MAX_HOLE_FRACTION = 0.002  # holes smaller than this share of the image are filled
UNMIX_DEPTH = 2  # pixels inside the thresholded outline that may still be partly covered
UNMIX_WINDOW = 3  # pixels each way: a solid object pixel is as far from the backdrop as any this near
UNMIX_PEAK = 0.9  # ... up to this share
UNMIX_REACH = 1  # pixels outside the thresholded outline that may still be partly covered
UNMIX_CONTRAST = 3.0  # object colours nearer the backdrop than this many thresholds keep the thresholded edge
UNMIX_FAR = 8  # pixels from the solid inside beyond which an edge pixel keeps the thresholded coverage
SPAN_EDGE_FRACTION = 0.05  # of an edge's length: a mask on both opposite edges is a band of background
HOLE_NOISE_SIGMAS = 4.0  # a pixel this near the fitted backdrop (median + sigmas × spread) is backdrop showing through
HOLE_BACKDROP_SHARE = 0.9  # of a gap's pixels: that many must be backdrop-like for the backdrop to continue through it
HOLE_EDGE_SHARE = 0.5  # of the outer outline's median sharpness: a hole's rim at least this sharp is an edge
HOLE_MIN_OBJECT_SHARE = 0.01  # of the filled object: a gap this large with an edge for a rim is a hole
PREVIEW_SIDE_PX = 384  # the upload page's live mask preview
OUTLINE_RGB = (255, 64, 160)  # the object's outline in the preview: a magenta few photos contain


def open_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open ``data`` (sniffed by content, not by name) without decoding its pixels.

    The pixel count declared in the header is checked here, so decompression bombs cost
    nothing: Pillow reads only the header until the pixels are asked for.
    """
    if not data:
        raise EmptyFile()
    try:
        with warnings.catch_warnings():
            # Our own limit below replaces Pillow's warning; its hard error still applies.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as err:
        raise ImageTooLarge() from err
    except UnidentifiedImageError as err:
        if data.startswith(_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
            raise CorruptImage() from err
        raise UnsupportedImageType() from err
    except (OSError, SyntaxError, ValueError) as err:
        raise CorruptImage() from err
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(N_("The image is {width}×{height} pixels; the limit is {megapixels} megapixels."),
                            width=width, height=height, megapixels=f"{max_pixels / 1e6:g}")
    if width < 1 or height < 1:
        raise CorruptImage()
    return image


def decode_upright(image: Image.Image) -> Image.Image:
    """Decode an opened image at full size, EXIF orientation applied, in the cheapest mode that holds it.

    1-bit, grey, palette, RGB and RGBA stay as they are (a 1-bit image takes one byte a pixel, not the
    four of RGBA, let alone a float copy); 16-bit and float grey become 8-bit grey; CMYK and other
    colour spaces RGB; palette-with-alpha RGBA. Metadata other than a palette's transparency is dropped.
    """
    try:
        image.load()
        ImageOps.exif_transpose(image, in_place=True)  # a copy only when the image must turn
        if image.mode in ("1", "L", "LA", "P", "RGB", "RGBA"):
            upright = image
        elif image.mode == "PA":
            upright = image.convert("RGBA")
        elif image.mode.startswith("I") or image.mode == "F":
            upright = _grey8(image)
        else:
            upright = image.convert("RGB")
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise CorruptImage() from err
    upright.info = {k: v for k, v in upright.info.items() if k == "transparency"}
    return upright


def load_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode ``data`` (sniffed by content, not by name) into an upright RGBA image.

    The pixel count declared in the header is checked before anything is decoded,
    so decompression bombs cost nothing. EXIF orientation is applied; 16-bit,
    greyscale, palette, CMYK and alpha images all come out as 8-bit RGBA.
    """
    image = decode_upright(open_image(data, max_pixels))
    try:
        return _to_rgba(image)
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise CorruptImage() from err


def _grey8(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit or float grey as 8-bit grey, without a float copy of the whole image."""
    values = np.asarray(image)
    if image.mode == "F":
        scale = 255.0 if values.max() <= 1.0 else 1.0
        return Image.fromarray(np.clip(values * scale + 0.5, 0, 255).astype(np.uint8), "L")
    if values.max() <= 255:
        return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), "L")
    return Image.fromarray((np.clip(values, 0, 65535).astype(np.uint16) >> 8).astype(np.uint8), "L")


def _to_rgba(image: Image.Image) -> Image.Image:
    if image.mode == "RGBA":
        return image
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return _grey8(image).convert("RGBA")
    if image.mode == "CMYK":
        return image.convert("RGB").convert("RGBA")
    if image.mode == "P" and "transparency" not in image.info:
        return image.convert("RGB").convert("RGBA")
    return image.convert("RGBA")


STRIP_PIXELS = 2_000_000  # source pixels converted to RGBA at a time when shrinking a large image


def reduce_rgba(image: Image.Image, factor: int) -> Image.Image:
    """``image`` as RGBA, shrunk ``factor`` times by box averaging, one horizontal strip at a time.

    Only a strip is ever converted to RGBA, so a 23-megapixel 1-bit image costs its own
    23 MB plus a few MB, not the 92 MB of an RGBA copy (or the 370 MB of a float one).
    Box averaging in RGBA premultiplies alpha (Pillow reduces RGBA as RGBa), so colour
    from transparent pixels does not bleed in.
    """
    if factor <= 1:
        return _to_rgba(image)
    width, height = image.size
    rows = factor * max(1, STRIP_PIXELS // (width * factor))
    out = Image.new("RGBA", (-(-width // factor), -(-height // factor)))
    for top in range(0, height, rows):
        strip = _to_rgba(image.crop((0, top, width, min(height, top + rows))))
        out.paste(strip.reduce(factor), (0, top // factor))
    return out


def preview_rgba(image: Image.Image, max_side: int) -> Image.Image:
    """An RGBA copy whose longest side is at most ``max_side``, made without a full-size RGBA or float copy."""
    width, height = image.size
    if max(width, height) <= max_side:
        return _to_rgba(image)
    reduced = reduce_rgba(image, max(width, height) // max_side)
    scale = max_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return reduced if reduced.size == size else reduced.resize(size, Image.Resampling.BILINEAR)


def downscale(image: Image.Image, max_side: int) -> Image.Image:
    """The image shrunk so its longest side is at most ``max_side`` pixels."""
    width, height = image.size
    scale = max_side / max(width, height)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Pillow's resize with reducing_gap=2 first box-reduces by this factor; doing that step here, in
    # strips, keeps the float copy below small (it would be 16 bytes a pixel at full size).
    factor = int(max(width, height) / max_side / 2.0)
    if factor >= 2:
        image = reduce_rgba(image, factor)
    # Premultiply, so that colour from fully transparent pixels does not bleed in.
    rgba = np.asarray(image.convert("RGBA") if image.mode != "RGBA" else image).astype(np.float32)
    rgba[..., :3] *= rgba[..., 3:4] / 255.0
    small = [
        np.asarray(Image.fromarray(rgba[..., c]).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))
        for c in range(4)
    ]
    out = np.stack(small, axis=-1)
    alpha = np.maximum(out[..., 3:4], 1e-3)
    out[..., :3] = np.where(out[..., 3:4] > 0.5, out[..., :3] * 255.0 / alpha, out[..., :3])
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGBA")


def compute_mask(image: Image.Image, box: Sequence[float] | None = None) -> np.ndarray:
    """The object's pixels as a boolean array of the image's shape.

    Uses alpha when it is meaningful (some pixel is not opaque); otherwise, with ``box``
    (fractions x0, y0, x1, y1 of the image), segments the object inside the box; without,
    separates the object from a plain, studio or gradient background, and where that refuses
    (a table, a wall, a shadow) tries to find one object clear of a busy background.
    Raises :class:`NoForeground`, :class:`ForegroundFillsFrame` or its kind :class:`ObjectNotFound`.
    """
    return foreground(image, box)[0]


def foreground(image: Image.Image, box: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(mask, coverage)``: the boolean mask and a soft 0-1 coverage for sub-pixel outlines."""
    mask, coverage, _ = foreground_method(image, box)
    return mask, coverage


#: A box must leave this share of the picture outside it for GrabCut to learn the background there.
MIN_OUTSIDE_BOX = 0.03

#: How a mask was made, as stored in a job's stats (``mask_method``) and shown on the pages.
MASK_METHODS = ("alpha", "box", "learned", "learned_box", "backdrop", "grabcut")


def foreground_method(image: Image.Image, box: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """``(mask, coverage, method)``, trying in order: the alpha channel, the user's box, the learned
    segmenter when one is installed (inside the box when there is one), a plain backdrop, GrabCut.

    ``method`` is one of :data:`MASK_METHODS`; with a learned model the model's name is
    :func:`core.generation.learned.active_name`.
    """
    rgba = np.asarray(image.convert("RGBA") if image.mode != "RGBA" else image)
    alpha = rgba[..., 3]
    if alpha.min() < ALPHA_OPAQUE:  # a cut-out is exact: it wins over any box
        coverage = alpha.astype(np.float32) / 255.0
        mask = alpha >= 128
        if not mask.any():
            raise NoForeground(N_("The image is fully transparent: there is no object to model."))
        return (*_finish(mask, coverage), "alpha")
    from core.generation import segment  # OpenCV only where a photo needs it

    rgb = rgba[..., :3]
    if box is not None:
        box = check_box(box)
    learned = _learned(rgb, box)
    if learned is not None:
        return learned
    if box is not None:
        # GrabCut learns the background from outside the box, and a box around (nearly) the whole
        # picture leaves it none. What the picture shows without a box, kept to the box, is then the
        # object: a box never does worse than no box.
        inside = segment.box_region(box, rgb.shape[1], rgb.shape[0])
        if inside.mean() < 1.0 - MIN_OUTSIDE_BOX:
            try:
                return (*_finish(*segment.segment_box_soft(rgb, box)), "box")
            except (NoForeground, ForegroundFillsFrame):
                pass
        try:
            mask, coverage, _ = _without_box(rgb)
            return (*_finish(mask & inside, np.where(inside, coverage, 0.0).astype(np.float32)), "box")
        except (NoForeground, ForegroundFillsFrame):
            pass
        return (*_finish(*segment.segment_box_soft(rgb, box)), "box")
    return _without_box(rgb)


def _without_box(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """``(mask, coverage, method)`` of an opaque picture with no box: a plain backdrop's threshold, else GrabCut."""
    from core.generation import segment

    try:
        mask, coverage, noise = _segment(rgb)
        mask, coverage = _finish(mask, coverage)
    except ForegroundFillsFrame:
        # Not a plain backdrop: a photo on a table or against a wall. GrabCut, or ObjectNotFound.
        return (*_finish(*segment.segment_auto(rgb)), "grabcut")
    spans = _spans_frame(mask)
    if spans or noise > STUDIO_NOISE:
        # A band across the whole picture (a table's edge, a horizon) is background the smooth model
        # could not follow. A textured surface it could just follow (a table top) is a photo, where
        # the threshold takes a cast shadow for part of the object; GrabCut leaves it out.
        try:
            return (*_finish(*segment.segment_auto(rgb)), "grabcut")
        except ObjectNotFound:
            if spans or segment.ring_overlap(rgb, mask) > segment.MAX_FALLBACK_RING_OVERLAP:
                raise
    return mask, coverage, "backdrop"


def _learned(rgb: np.ndarray, box: Sequence[float] | None) -> tuple[np.ndarray, np.ndarray, str] | None:
    """The installed segmenter's mask (inside ``box``, run on the box's crop), or None to fall back.

    A model that finds nothing there, or a file onnxruntime cannot run, leaves the mask to the
    classical methods: a damaged download must not stop every job.
    """
    from core.generation import learned

    try:
        segmenter = learned.active()
    except Exception:
        log.warning("the installed segmenter could not be loaded; using the classical methods", exc_info=True)
        return None
    if segmenter is None:
        return None
    height, width = rgb.shape[:2]
    if box is None:
        x0, y0, x1, y1 = 0, 0, width, height
    else:
        from core.generation.segment import box_pixels

        x0, y0, bw, bh = box_pixels(box, width, height)
        x1, y1 = x0 + bw, y0 + bh
    try:
        crop = segmenter.coverage(rgb[y0:y1, x0:x1])
    except Exception:
        log.warning("the segmenter %s failed on an image; using the classical methods", segmenter.name,
                    exc_info=True)
        return None
    coverage = np.zeros((height, width), np.float32)
    coverage[y0:y1, x0:x1] = crop
    try:
        mask, coverage = _finish(coverage >= learned.MASK_LEVEL, coverage)
    except (NoForeground, ForegroundFillsFrame):
        return None
    return mask, coverage, "learned_box" if box is not None else "learned"


def _finish(mask: np.ndarray, coverage: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clean a found mask, refuse an empty or frame-filling one, and keep the soft edge to it."""
    from scipy import ndimage  # here, so that load_image alone stays light

    mask = _clean(mask)
    if not mask.any():
        raise NoForeground()
    if mask.mean() > FILLS_FRAME_FRACTION:
        raise ForegroundFillsFrame()
    # Soft coverage only where the cleaned mask allows it, so removed specks stay gone.
    near = ndimage.binary_dilation(mask, iterations=1)
    coverage = np.where(near, coverage, 0.0).astype(np.float32)
    coverage = np.where(mask & (coverage < 0.5), 0.5, coverage).astype(np.float32)
    return mask, coverage


def _spans_frame(mask: np.ndarray) -> bool:
    """Whether the mask reaches two opposite edges of the frame along a stretch of each."""
    height, width = mask.shape
    reach = SPAN_EDGE_FRACTION
    left, right = mask[:, 0].mean() > reach, mask[:, -1].mean() > reach
    top, bottom = mask[0].mean() > reach, mask[-1].mean() > reach
    return bool((left and right) or (top and bottom))


def preview_mask(
    data: bytes,
    box: Sequence[float] | None = None,
    max_side: int = PREVIEW_SIDE_PX,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[Image.Image, np.ndarray]:
    """``(picture, mask)`` for the upload page's live preview: the image shrunk to ``max_side`` (RGB) and its mask.

    The mask comes from :func:`foreground`, as the job's will, so the preview shows what the model
    will be made of; ``box`` is the same fractions the job gets. Raises the same ValidationError
    subclasses as a job would. A 12-megapixel photo takes a few tenths of a second: it is shrunk
    strip by strip, never copied at full size in RGBA or float.
    """
    small = preview_rgba(decode_upright(open_image(data, max_pixels)), max_side)
    mask = foreground(small, box)[0]
    return small.convert("RGB"), mask


def mask_overlay(picture: Image.Image, mask: np.ndarray) -> Image.Image:
    """``picture`` with what is ignored washed out and the object outlined, for display."""
    rgb = np.asarray(picture.convert("RGB")).astype(np.float32)
    shade = np.array([236.0, 240.0, 245.0])  # a light grey-blue wash over the background
    out = np.where(mask[..., None], rgb, rgb * 0.3 + shade * 0.7)
    inner = mask.copy()  # the mask less its outline: four-neighbour erosion, no SciPy needed
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    out[mask & ~inner] = OUTLINE_RGB
    return Image.fromarray(out.clip(0, 255).astype(np.uint8), "RGB")


def _segment(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Threshold the colour distance to a smooth background fitted to the frame's border.

    ``(mask, coverage, noise)``: noise is the border's robust spread around the fitted background.
    """
    height, width = rgb.shape[:2]
    band = max(2, round(BORDER_FRACTION * min(height, width)))
    border = np.zeros((height, width), bool)
    border[:band] = border[-band:] = True
    border[:, :band] = border[:, -band:] = True
    ys, xs = np.nonzero(border)
    if len(ys) > 6000:
        pick = np.linspace(0, len(ys) - 1, 6000).astype(np.int64)
        ys, xs = ys[pick], xs[pick]
    samples = rgb[ys, xs].astype(np.float64)
    basis = _basis(xs / max(width - 1, 1), ys / max(height - 1, 1))
    keep = np.ones(len(ys), bool)
    coef = np.zeros((basis.shape[1], 3))
    for _ in range(3):  # refit without the outliers (object touching the frame, specks)
        ridge = 1e-3 * np.eye(basis.shape[1])
        b = basis[keep]
        coef = np.linalg.solve(b.T @ b + ridge, b.T @ samples[keep])
        resid = np.linalg.norm(samples - basis @ coef, axis=1)
        med = np.median(resid[keep])
        mad = np.median(np.abs(resid[keep] - med)) * 1.4826
        keep = resid <= max(med + 4 * mad, 8.0)
        if keep.sum() < basis.shape[1] * 4:
            raise ForegroundFillsFrame()
    threshold = max(MIN_THRESHOLD, float(med + NOISE_SIGMAS * mad))
    if mad > MAX_BACKGROUND_NOISE or (resid > threshold).mean() > BUSY_BORDER_FRACTION:
        raise ForegroundFillsFrame()
    gx = np.linspace(0.0, 1.0, width, dtype=np.float32)
    gy = np.linspace(0.0, 1.0, height, dtype=np.float32)
    # Background model evaluated separably: c0 + c1 x + c2 y + c3 x² + c4 xy + c5 y².
    c = coef.astype(np.float32)
    bg = (
        c[0][None, None, :]
        + gx[None, :, None] * c[1]
        + gy[:, None, None] * c[2]
        + (gx**2)[None, :, None] * c[3]
        + (gy[:, None, None] * gx[None, :, None]) * c[4]
        + (gy**2)[:, None, None] * c[5]
    )
    diff = rgb.astype(np.float32) - bg
    dist = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    mask = dist > threshold
    # A soft edge: half-way between background noise and a clear object colour.
    coverage = np.clip((dist - 0.5 * threshold) / threshold, 0.0, 1.0)
    mask, coverage = _unmix_edge(rgb, bg, dist, mask, coverage, threshold)
    mask, coverage = _close_false_holes(dist, mask, coverage, float(med), float(mad))
    return mask, coverage.astype(np.float32), float(mad)


def _close_false_holes(dist: np.ndarray, mask: np.ndarray, coverage: np.ndarray, med: float,
                       mad: float) -> tuple[np.ndarray, np.ndarray]:
    """Fill the enclosed gaps that are the object's own shading, keep the ones the picture shows are holes.

    A white marble statue on grey shades to the backdrop's grey in its hollows, and a black cat on
    black does everywhere it is unlit: the threshold alone cuts holes through their bodies. A gap
    stays a hole only when the backdrop shows through it, its colour *and* its grain: nearly all of
    its pixels as close to the fitted backdrop as the frame's own border pixels are; or when it is
    large and its rim is an edge as sharp as the object's outer outline (a ring's hole, the space
    inside a handle). Shading reaches the backdrop's colour gradually, so its rim is soft, and its
    pixels spread over the whole range below the threshold.
    """
    from scipy import ndimage

    filled = ndimage.binary_fill_holes(mask)
    gaps = filled & ~mask
    if not gaps.any():
        return mask, coverage
    rows, cols = np.nonzero(filled)  # the work stays on the object's bounding box
    crop = (slice(max(rows.min() - 4, 0), rows.max() + 5), slice(max(cols.min() - 4, 0), cols.max() + 5))
    shut = _false_gaps(dist[crop], filled[crop], gaps[crop], med, mad)
    if not shut.any():
        return mask, coverage
    mask, coverage = mask.copy(), coverage.copy()
    mask[crop] |= shut
    coverage[crop] = np.where(shut, 1.0, coverage[crop])
    return mask, coverage


def _false_gaps(dist: np.ndarray, filled: np.ndarray, gaps: np.ndarray, med: float, mad: float) -> np.ndarray:
    """The gaps of :func:`_close_false_holes` that are not holes."""
    from scipy import ndimage

    labels, count = ndimage.label(gaps)
    smooth = ndimage.gaussian_filter(dist, 1.0)
    sharpness = np.hypot(ndimage.sobel(smooth, axis=0), ndimage.sobel(smooth, axis=1)) / 8.0
    outer = filled & ~ndimage.binary_erosion(filled)
    outer_edge = float(np.median(sharpness[outer])) if outer.any() else 0.0
    backdrop_level = med + HOLE_NOISE_SIGMAS * max(mad, 1.0)
    area = float(filled.sum())
    close = np.zeros(count + 1, bool)
    for index, piece in enumerate(ndimage.find_objects(labels), start=1):
        if piece is None:
            continue
        window = (slice(max(piece[0].start - 2, 0), piece[0].stop + 2),
                  slice(max(piece[1].start - 2, 0), piece[1].stop + 2))
        gap = labels[window] == index
        through = float(np.mean(dist[window][gap] <= backdrop_level)) >= HOLE_BACKDROP_SHARE
        rim = ndimage.binary_dilation(gap, iterations=2) & ~gap
        sharp = float(np.median(sharpness[window][rim])) >= HOLE_EDGE_SHARE * outer_edge
        large = gap.sum() >= HOLE_MIN_OBJECT_SHARE * area
        close[index] = not (through or (large and sharp))
    return close[labels]


def _unmix_edge(rgb: np.ndarray, bg: np.ndarray, dist: np.ndarray, mask: np.ndarray, coverage: np.ndarray,
                threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel coverage along the outline: each edge pixel as a mix of the backdrop and the nearby object.

    An edge pixel's colour lies between the backdrop's and the object's next to it; where it
    lies on that line is the share of the pixel the object covers (as an alpha channel would
    say). A threshold on the distance from the backdrop alone counts a pixel the object only
    grazes as inside, which makes every outline half a pixel too fat, and thin parts (a
    chair's legs) visibly so. The object's colour is taken from the nearest solid pixel: one
    as far from the backdrop as any around it. Where none is near, or its colour is too close
    to the backdrop's, the thresholded edge stays.
    """
    from scipy import ndimage

    # Solid: a pixel as far from the backdrop's colour as any near it (the middle of a 3-pixel
    # stroke is, its grazed edge pixels are not).
    peak = ndimage.maximum_filter(dist, size=2 * UNMIX_WINDOW + 1)
    solid = mask & (dist >= UNMIX_PEAK * peak)
    outline = ndimage.binary_dilation(mask, iterations=UNMIX_REACH) & ~ndimage.binary_erosion(
        mask, iterations=UNMIX_DEPTH)
    band = outline & ~solid
    if not solid.any() or not band.any():
        return mask, coverage
    reach, (iy, ix) = ndimage.distance_transform_edt(~solid, return_indices=True)
    ys, xs = np.nonzero(band & (reach <= UNMIX_FAR))
    if not len(ys):
        return mask, coverage
    obj = rgb[iy[ys, xs], ix[ys, xs]].astype(np.float32) - bg[ys, xs]
    here = rgb[ys, xs].astype(np.float32) - bg[ys, xs]
    contrast = np.einsum("ij,ij->i", obj, obj)
    share = np.einsum("ij,ij->i", here, obj) / np.maximum(contrast, 1e-6)
    ok = contrast > (UNMIX_CONTRAST * threshold) ** 2
    ys, xs, share = ys[ok], xs[ok], np.clip(share[ok], 0.0, 1.0)
    coverage = coverage.copy()
    mask = mask.copy()
    coverage[ys, xs] = share
    mask[ys, xs] = share >= 0.5
    return mask, coverage


def _basis(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1).astype(np.float64)


def _clean(mask: np.ndarray) -> np.ndarray:
    """Drop specks, fill pinholes; real holes (a ring, a handle) stay open.

    Pieces are 8-connected, so a one-pixel diagonal stroke is one piece, not a
    trail of specks.
    """
    from scipy import ndimage

    labels, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if count == 0:
        return mask
    if count > 1:
        sizes = np.bincount(labels.ravel())[1:]
        keep = sizes >= MIN_PART_FRACTION * sizes.max()
        mask = keep[labels - 1] & (labels > 0)
    holes = ndimage.binary_fill_holes(mask) & ~mask
    if holes.any():
        hole_labels, hole_count = ndimage.label(holes)
        sizes = np.bincount(hole_labels.ravel())[1:]
        small = sizes < MAX_HOLE_FRACTION * mask.size
        mask = mask | (small[hole_labels - 1] & (hole_labels > 0))
    return mask
