"""Upload validation and storage, shared by the web page and the worker's CLI. No Streamlit here.

A file is judged by its content, never its name: the type is sniffed, the size and
pixel count are checked against the plan before anything is decoded (so decompression
bombs cost nothing), and what is stored is a re-encoding of the pixels alone, so EXIF
(camera, time, GPS position) never reaches storage.

    core.errors.ValidationError
    ├── core.generation.errors.EmptyFile / UnsupportedImageType / CorruptImage / ImageTooLarge
    ├── UploadTooLarge          more bytes than the plan accepts
    └── TooManyViewsForPlan     more carve views than the plan accepts
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from core.accounts.access import NO_CLIENT, Client, record_access
from core.config import get_settings
from core.errors import ValidationError, VormError
from core.i18n import N_
from core.memory import release_freed_memory
from core.models import GenerationJob, Upload, User, pk
from core.storage import get_storage, user_prefix

if TYPE_CHECKING:
    from sqlmodel import Session

log = logging.getLogger(__name__)

#: Pixels accepted per image, by plan. Images are shrunk to the plan's processing
#: resolution anyway; the cap only keeps decoding cheap and refuses bombs early.
# Premium stops at 36 MP: an EXIF-rotated RGBA image is held twice while it is turned upright, and 2 x 36 MP
# x 4 bytes keeps that under the 300 MB an upload may cost the web process (40 MP came to 306 MB).
MAX_MEGAPIXELS = {"free": 24.0, "premium": 36.0}
JPEG_QUALITY = 95  # re-encoding a photo; high enough that the model's texture does not suffer
PNG_COMPRESS_LEVEL = 3  # zlib level of re-encoded PNGs: 2.5x faster than the default 6 for ~10% more bytes
MASK_PREVIEW_SIDE_PX = 384  # the upload page's foreground preview
DISPLAY_SIDE_PX = 1024  # the upload page shows the accepted image at most this large
#: Full-size decodes at once in this process, whoever asks (the upload page, the API). A premium image
#: decodes to up to 36 MP × 4 bytes and its encoding is written while the pixels are held, so each
#: decode in flight costs up to ~150 MB; the others wait their turn (five maximum-size uploads at once
#: may add at most 300 MB to the web process, issue 19). On two cores one decode already keeps a core busy.
MAX_CONCURRENT_DECODES = 1
TRIM_AFTER_PIXELS = 4_000_000  # after decoding an image this large, freed memory goes back to the system
_decoding = threading.BoundedSemaphore(MAX_CONCURRENT_DECODES)


MEGABYTE = 1024 * 1024  # the MB of the plans' upload limits


class UploadTooLarge(ValidationError):
    """The file is {size_mb} MB; your plan accepts up to {limit_mb} MB per image. Shrink or compress the image and try again."""  # noqa: E501

    code = "upload_too_large"
    #: When the size rounds to the limit's figure (10 MB + 1 byte is "10.0 MB"), bytes tell them apart.
    IN_BYTES = N_("The file is {size_bytes} bytes; your plan accepts up to {limit_bytes} bytes ({limit_mb} MB) per "
                  "image. Shrink or compress the image and try again.")

    def __init__(self, message: str | None = None, *, size: int, limit: int, **context: object) -> None:
        if message is None and round(size / MEGABYTE, 1) <= round(limit / MEGABYTE, 1):
            message = self.IN_BYTES
        super().__init__(message, size=size, limit=limit, **{**context, **self._sizes(size, limit, "en")})

    @staticmethod
    def _sizes(size: int, limit: int, lang: str | None) -> dict[str, str]:
        from core.i18n import format_number

        limit_mb = limit / MEGABYTE
        return {"size_mb": format_number(size / MEGABYTE, lang, digits=1),
                "limit_mb": format_number(limit_mb, lang, digits=0 if limit_mb.is_integer() else 1),
                "size_bytes": format_number(size, lang, digits=0), "limit_bytes": format_number(limit, lang, digits=0)}

    def render(self, lang: str | None, *, remedies: Mapping[str, str] | None = None) -> str:
        from core.i18n import translate

        size, limit = self.context["size"], self.context["limit"]
        assert isinstance(size, int) and isinstance(limit, int)
        return translate(self.template, lang, **{**self.context, **self._sizes(size, limit, lang)})


class TooManyViewsForPlan(ValidationError):
    """You chose {count} views; your plan allows at most {limit} views per carve. Remove some views, or upgrade to premium for up to {premium} views."""  # noqa: E501

    code = "too_many_views_for_plan"


@dataclass(frozen=True)
class ValidatedImage:
    """An accepted upload: upright pixels and their metadata-free encoding."""

    image: Image.Image  #: RGBA, EXIF orientation applied, at most DISPLAY_SIDE_PX a side (for showing)
    data: bytes  #: what is stored: re-encoded pixels at full size, no metadata
    ext: str  #: png | jpg
    content_type: str
    width: int
    height: int
    filename: str


@dataclass(frozen=True)
class ParkedImage:
    """An accepted upload waiting for its owner to start the generation (the upload page).

    What will be stored waits in an unnamed temporary file, which the system deletes when this object
    is dropped (or the process ends); only the picture for showing stays in memory. So a 40 MB upload
    costs the web process a few MB while its session lasts, not 40 (or, decoded, 150).
    """

    image: Image.Image  #: as ValidatedImage.image
    file: IO[bytes]  #: the stored encoding, ``size_bytes`` long
    size_bytes: int
    ext: str
    content_type: str
    width: int
    height: int
    filename: str

    def validated(self) -> ValidatedImage:
        """The image with its encoding in memory, to store it (``submit_generation``)."""
        data = os.pread(self.file.fileno(), self.size_bytes, 0)
        if len(data) != self.size_bytes:
            raise OSError(f"read {len(data)} of {self.size_bytes} parked bytes")
        return ValidatedImage(image=self.image, data=data, ext=self.ext, content_type=self.content_type,
                              width=self.width, height=self.height, filename=self.filename)


def max_pixels(plan: str) -> int:
    return int(MAX_MEGAPIXELS.get(plan, MAX_MEGAPIXELS["free"]) * 1_000_000)


def clean_filename(filename: str) -> str:
    """The last path component, printable, at most 255 characters (browsers may send full paths)."""
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    name = "".join(ch for ch in name if ch.isprintable())
    return name[-255:] or "image"


def _has_alpha(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA"):
        return int(image.getextrema()[-1][0]) < 255  # type: ignore[index]
    return image.mode == "P" and "transparency" in image.info


def _reencode(image: Image.Image, *, lossless: bool, out: IO[bytes]) -> tuple[str, str]:
    """Pixels only, in the decoded image's own mode (no full-size RGBA copy), written to ``out``: PNG
    stays PNG (its alpha may be the mask); opaque photos become JPEG. Returns extension and type."""
    if lossless or _has_alpha(image):
        image.save(out, format="PNG", optimize=False, compress_level=PNG_COMPRESS_LEVEL)
        return "png", "image/png"
    rgb = image if image.mode in ("L", "RGB") else image.convert("RGB")
    rgb.save(out, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
    return "jpg", "image/jpeg"


def _temporary_file() -> IO[bytes]:
    """An unnamed file in ``DATA_DIR`` (the system's temporary folder without one): deleted by the
    system when it is closed, garbage-collected or the process ends."""
    folder = get_settings().data_dir
    return tempfile.TemporaryFile(prefix="vorm-upload-", dir=folder if folder.is_dir() else None)


def spool_upload(data: bytes) -> IO[bytes]:
    """A file's bytes moved to a temporary file, for :func:`park_upload`: an upload that waits for its
    turn to be decoded then waits on disk, not in the web process's memory."""
    out = _temporary_file()
    out.write(data)
    out.flush()
    return out


def _accept(source: bytes | IO[bytes], *, plan: str, out: IO[bytes]) -> tuple[Image.Image, str, str, int, int]:
    """Check, decode (one image at a time in this process) and re-encode into ``out``; returns the
    picture for showing, the extension, the content type, the width and the height. ``source``: the
    file's bytes, or a file holding them (``spool_upload``), read only once it is this one's turn."""
    from core.generation.errors import EmptyFile

    size = len(source) if isinstance(source, bytes) else os.fstat(source.fileno()).st_size
    if not size:
        raise EmptyFile(N_("The file is empty (0 bytes). Choose the image file again; it may not have saved "
                           "completely."))
    limit = get_settings().tier(plan)["max_upload_bytes"]
    if size > limit:
        raise UploadTooLarge(size=size, limit=limit)
    # Imported here: core.generation pulls in torch, which the web process loads only when needed.
    from core.generation.errors import ImageTooLarge
    from core.generation.images import decode_upright, open_image, preview_rgba

    try:
        with _decoding:
            data = source if isinstance(source, bytes) else os.pread(source.fileno(), size, 0)
            # The header's size is checked before any pixel is decoded, and the pixels are kept in their
            # own mode: a 23-megapixel 1-bit PNG of 8 KB costs 23 MB here, not the 600 MB of RGBA and
            # float copies it cost before.
            opened = open_image(data, max_pixels(plan))
            image = decode_upright(opened)
            try:
                ext, content_type = _reencode(image, lossless=data.startswith(b"\x89PNG"), out=out)
                return preview_rgba(image, DISPLAY_SIDE_PX), ext, content_type, image.width, image.height
            finally:
                pixels = image.width * image.height
                del image, opened, data
                if pixels >= TRIM_AFTER_PIXELS:
                    release_freed_memory()
    except ImageTooLarge as exc:
        template = (N_("The image is {width}×{height} pixels; the limit is {megapixels} megapixels. Shrink it "
                       "(for example to 4000 × 3000 pixels) and try again; details beyond the plan's resolution "
                       "are not used anyway.") if exc.context else
                    N_("The image has too many pixels to process. Shrink it (for example to 4000 × 3000 pixels) "
                       "and try again; details beyond the plan's resolution are not used anyway."))
        raise ImageTooLarge(template, **exc.context) from exc


def validate_upload(data: bytes, *, filename: str, plan: str) -> ValidatedImage:
    """Accept an image or raise a ValidationError that says why and what to do."""
    buf = io.BytesIO()
    picture, ext, content_type, width, height = _accept(data, plan=plan, out=buf)
    return ValidatedImage(image=picture, data=buf.getvalue(), ext=ext, content_type=content_type, width=width,
                          height=height, filename=clean_filename(filename))


def park_upload(source: bytes | IO[bytes], *, filename: str, plan: str) -> ParkedImage:
    """:func:`validate_upload`, with the encoding to store written straight to a temporary file
    (in ``DATA_DIR``) instead of memory: for an upload that waits while its owner picks options.
    ``source``: the file's bytes, or a file holding them (``spool_upload``)."""
    out = _temporary_file()
    try:
        picture, ext, content_type, width, height = _accept(source, plan=plan, out=out)
        out.flush()
        return ParkedImage(image=picture, file=out, size_bytes=out.tell(), ext=ext, content_type=content_type,
                           width=width, height=height, filename=clean_filename(filename))
    except BaseException:
        out.close()
        raise


def check_views(count: int, *, plan: str) -> None:
    """Refuse more carve views than the plan allows."""
    settings = get_settings()
    limit = settings.tier(plan)["max_views"]
    if count > limit:
        raise TooManyViewsForPlan(count=count, limit=limit, premium=settings.tier("premium")["max_views"])


def mask_preview(image: Image.Image, *, box: Sequence[float] | None = None,
                 max_side: int = MASK_PREVIEW_SIDE_PX) -> tuple[Image.Image, float]:
    """What will be modelled: the image with the background dimmed, and the object's share of the frame.

    ``box`` (fractions x0, y0, x1, y1 of the image) is the user's box around the object, as the
    engine will get it. Raises the engine's foreground errors with their own messages.
    """
    found = mask_preview_found(image, box=box, max_side=max_side)
    return found.picture, found.share


@dataclass(frozen=True)
class MaskPreview:
    picture: Image.Image  #: the image with the background washed out and the object outlined
    share: float  #: of the frame
    method: str  #: how the mask was made: core.generation.images.MASK_METHODS
    segmenter: str  #: the learned model's name when ``method`` is learned, else ""


def mask_preview_found(image: Image.Image, *, box: Sequence[float] | None = None,
                       max_side: int = MASK_PREVIEW_SIDE_PX) -> MaskPreview:
    """:func:`mask_preview` with the method that made the mask: the same order the job's engine follows."""
    from core.generation.images import foreground_method, mask_overlay, preview_rgba
    from core.generation.learned import active_name

    small = preview_rgba(image, max_side)  # strip by strip: never a full-size RGBA or float copy
    mask, _, method = foreground_method(small, box=list(box) if box else None)
    # The background washed out and the object outlined, so that a small find is easy to see.
    return MaskPreview(mask_overlay(small, mask), float(mask.mean()), method,
                       active_name() if method.startswith("learned") else "")


#: Words that number the views of one object in their file names ("mug_view0", "vaas-kant-2").
VIEW_WORDS = frozenset({"view", "views", "angle", "side", "shot", "frame", "turn", "aanzicht", "kant", "hoek"})
_NAME_EDGE = " _-.()[]#0123456789"


def default_name(filenames: Sequence[str], *, limit: int = 80) -> str:
    """The name a model gets unless its owner types one: the file's stem, or for several views the
    stem they share ("mug_view0.png" … "mug_view3.png" make "mug"), without numbers and view words."""
    stems = [f.rsplit(".", 1)[0] if "." in f.strip(".") else f for f in filenames if f]
    if not stems:
        return ""
    if len(stems) == 1:
        return stems[0].strip()[:limit]
    shared = os.path.commonprefix(stems).rstrip(_NAME_EDGE)
    while True:
        head, sep, word = shared.rpartition(next((c for c in reversed(shared) if c in " _-."), " "))
        if not sep or word.lower() not in VIEW_WORDS:
            break
        shared = head.rstrip(_NAME_EDGE)
    if shared.lower() in VIEW_WORDS:
        shared = ""
    return (shared or stems[0]).strip()[:limit]


#: A lithophane seen against a lamp: one pale material whose thickness dims the light. The light that
#: passes falls off with thickness; this makes the thickest part (base + height, 7 mm by default)
#: pass about a tenth of what the thinnest (the 2 mm base) passes, as white PLA roughly does.
LITHOPHANE_DIMMING_PER_MM = 0.46
LITHOPHANE_TINT = (255, 247, 232)  # a lamp behind white plastic: slightly warm


def lithophane_preview(image: Image.Image, *, base_mm: float = 2.0, height_mm: float = 5.0,
                       max_side: int = MASK_PREVIEW_SIDE_PX) -> Image.Image:
    """How the printed lithophane looks lit from behind: one material, its thickness as the engine
    makes it (thick where the picture is dark), so no colour of the photo survives."""
    from core.generation.images import preview_rgba
    from core.generation.relief import luminance

    lum = luminance(preview_rgba(image, max_side), lithophane=True)
    thickness = base_mm + height_mm * (1.0 - lum)
    light = np.exp(-LITHOPHANE_DIMMING_PER_MM * (thickness - base_mm))
    rgb = light[..., None] * np.asarray(LITHOPHANE_TINT, np.float32)
    return Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), "RGB")


def _upload_row(user: User, key: str, v: ValidatedImage) -> Upload:
    return Upload(user_id=pk(user), storage_key=key, filename=v.filename, content_type=v.content_type,
                  size_bytes=len(v.data), width=v.width, height=v.height, sha256=hashlib.sha256(v.data).hexdigest())


def _new_key(user: User, v: ValidatedImage) -> str:
    return f"{user_prefix(pk(user))}uploads/{uuid.uuid4().hex}.{v.ext}"


def _forget(keys: list[str]) -> None:
    """Delete objects whose rows were never committed; if storage refuses, the orphan sweep takes them."""
    if not keys:
        return
    try:
        get_storage().delete_many(keys)
    except Exception:
        log.warning("could not delete %d uploaded objects without rows (the orphan sweep will)", len(keys),
                    exc_info=True)


def store_upload(session: Session, *, user: User, data: bytes, filename: str, client: Client | None = None,
                 validated: ValidatedImage | None = None) -> Upload:
    """Validate, strip metadata, store under ``users/<uid>/uploads/`` and log the upload (IP, browser)."""
    v = validated or validate_upload(data, filename=filename, plan=user.plan)
    key = _new_key(user, v)
    get_storage().put(key, v.data, content_type=v.content_type)
    try:
        upload = _upload_row(user, key, v)
        session.add(upload)
        record_access(session, kind="upload", client=client or NO_CLIENT, user_id=user.id)
        session.commit()
    except BaseException:
        session.rollback()
        _forget([key])
        raise
    session.refresh(upload)
    return upload


def submit_generation(session: Session, *, user: User, images: Sequence[ValidatedImage], mode: str,
                      options: dict[str, Any], name: str = "", client: Client | None = None,
                      actor: str | None = None) -> GenerationJob:
    """Store validated images and queue their generation, or refuse having stored nothing.

    In this order: the plan's limits are checked first (reads only, and no transaction stays open
    while storage is written); the images are stored; their Upload rows, the access log and the job
    are inserted in one transaction that checks the limits again under the user's lock. If that
    still refuses (another tab won the race) or fails, the objects just stored are deleted.
    ``actor``: who the audit log names, when not the user (the operator's CLI).
    """
    from core.jobs import queue

    try:
        queue.check_limits(session, user=user, views=len(images), mode=mode, options=options)
    except VormError as exc:
        log.info("generation refused for user %s before storing anything: %s", user.id, exc.code)
        raise
    finally:
        session.rollback()
    storage = get_storage()
    keys: list[str] = []
    try:
        rows = []
        for v in images:
            key = _new_key(user, v)
            keys.append(key)
            storage.put(key, v.data, content_type=v.content_type)
            rows.append(_upload_row(user, key, v))
        for _row in rows:
            record_access(session, kind="upload", client=client or NO_CLIENT, user_id=user.id)
        return queue.enqueue_generation(session, user=user, upload_ids=[], new_uploads=rows, mode=mode,
                                        options=options, name=name, actor=actor)
    except BaseException as exc:
        session.rollback()
        _forget(keys)
        if isinstance(exc, VormError):
            log.info("generation refused for user %s; %d stored images deleted again: %s", user.id, len(keys),
                     exc.code)
        raise


# --- the upload page's example pictures ---------------------------------------


def _blob(size: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    """A soft five-lobed shape: distance from its outline, 0 outside."""
    h, w = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = x - centre[0], y - centre[1]
    angle = np.arctan2(dy, dx)
    r = radius * (1.0 + 0.22 * np.cos(5 * angle))
    return np.clip(1.0 - np.hypot(dx, dy) / r, 0.0, 1.0)


def _arrow(img: np.ndarray, x0: int, x1: int, y: int, colour: tuple[int, int, int]) -> None:
    img[y - 1:y + 2, x0:x1] = colour
    for i in range(6):
        img[y - 6 + i:y + 7 - i, x1 - 6 + i] = colour


def mode_example(mode: str, *, width: int = 260, height: int = 130) -> Image.Image:
    """A small picture of what a mode does, drawn here rather than shipped as a file."""
    bg = np.full((height, width, 3), 248, np.float32)
    ink = np.array([52, 92, 160], np.float32)
    light = np.array([255, 255, 255], np.float32)
    cy = height / 2
    if mode in ("inflate", "auto"):
        d = _blob((height, width), (width * 0.2, cy), height * 0.33)
        bg[d > 0] = ink  # the flat silhouette
        d = _blob((height, width), (width * 0.75, cy), height * 0.33)
        h = np.sqrt(d)  # the inflated height field: round like a pillow
        gy, gx = np.gradient(h)
        shade = np.clip(0.55 + 6.0 * (-gx - gy) + 0.35 * h, 0, 1)[..., None]
        bg = np.where((d > 0)[..., None], ink * (0.35 + 0.65 * shade) + light * 0.25 * shade ** 8, bg)
        _arrow(bg, int(width * 0.42), int(width * 0.55), int(cy), (120, 120, 120))
    elif mode == "relief":
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        heights = 0.5 + 0.5 * np.sin(x / 9.0) * np.cos(y / 11.0) * np.exp(-((x - width / 2) ** 2) / (width * 40.0))
        heights += 0.6 * _blob((height, width), (width / 2, cy), height * 0.3)
        gy, gx = np.gradient(heights)
        shade = np.clip(0.6 + 4.0 * (-gx - gy), 0.1, 1.0)[..., None]
        plate = (np.abs(x - width / 2) < width * 0.42) & (np.abs(y - cy) < height * 0.4)
        bg = np.where(plate[..., None], np.array([214, 200, 170], np.float32) * shade, bg)
    elif mode == "carve":
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        ring = np.abs(np.hypot((x - width / 2) / 2.2, y - cy) - height * 0.36) < 0.8
        bg[ring] = (170, 170, 170)
        d = _blob((height, width), (width / 2, cy), height * 0.18)
        bg[d > 0] = ink
        for i in range(4):  # four turntable views around the object
            a = 2 * np.pi * i / 4 + 0.5
            cx_, cy_ = width / 2 + 2.2 * height * 0.36 * np.cos(a), cy + height * 0.36 * np.sin(a)
            cam = (np.abs(x - cx_) < 7) & (np.abs(y - cy_) < 5)
            bg[cam] = (230, 120, 60)
    return Image.fromarray(bg.clip(0, 255).astype(np.uint8))
