"""Finding the object in a photo with a real background (a table, a wall, a shadow), with GrabCut.

The plain-background method in :mod:`core.generation.images` is exact on studio pictures and
refuses busy ones. This module takes over there:

- :func:`segment_box`: the person drew a box around the object on the upload page; GrabCut starts
  from it (everything outside is background) and keeps the main piece inside.
- :func:`segment_auto`: no box; GrabCut starts from a rectangle a little inside the frame, so the
  frame's border is the background sample. The result is accepted only when it looks like one
  object standing clear of the background (see :func:`_plausible`); otherwise
  :class:`~core.generation.errors.ObjectNotFound` asks for a box.

GrabCut runs on a copy whose longest side is :data:`WORK_SIDE_PX` (about 0.1 s on one core);
its mask is scaled back up to a soft 0-1 coverage, so outlines stay smooth rather than blocky.
OpenCV and SciPy are imported inside the functions: the CLI's ``--help`` must not load them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.generation.errors import NoForeground, ObjectNotFound
from core.generation.options import check_box
from core.i18n import N_

Box = Sequence[float]  #: x0, y0, x1, y1 as fractions of the image's width and height

WORK_SIDE_PX = 240  # longest side GrabCut works at: ~0.1 s, and outlines within a pixel or two at 512 px
ITERATIONS = 3  # GrabCut rounds; the mask barely changes after the third
AUTO_SIDE_PX = 200  # the automatic path cuts twice (and is refused often): a smaller copy keeps it near 0.3 s
STABILITY_ITERATIONS = 2  # the second, checking cut needs only to agree, not to polish
AUTO_INSETS = (0.04, 0.09)  # of each side: the border band taken as background, tried twice for stability
MIN_AREA_FRACTION = 0.015  # of the frame; smaller is a speck, not the object of a photo
MAX_AREA_FRACTION = 0.7  # of the frame; more and the "object" is most likely the background
MAX_EDGE_TOUCH = 0.2  # of the starting rectangle's outline; more and the mask is leaking into the background
MIN_SOLIDITY = 0.45  # area over the convex hull's; scattered texture falls well below
MIN_MAIN_SHARE = 0.85  # of the found pixels in the largest piece; texture breaks into many
EDGE_CONTRAST = 10.0  # colour change (0-255 levels a pixel, smoothed) that counts as an edge
MIN_EDGE_SUPPORT = 0.9  # of the outline on such an edge; a patch cut out of an even sky has far less
MIN_STABLE_IOU = 0.85  # between the two starts; an object found from both is not an accident of the start
MAX_SHADOW_SHARE = 0.45  # of the first cut; more and "shadow" is the object's own colour
SHADOW_DEPTH = (0.3, 0.93)  # brightness of a shadow relative to the lit background
SHADOW_HUE_SHARE = 0.004  # of the background's pixels: a hue at least this common is a background hue
MIN_SHADOW_SAMPLE = 0.05  # of the frame outside the rectangle, to learn the background's hues from
SHADOW_ITERATIONS = 2  # GrabCut rounds after the shadow is handed back
RNG_SEED = 12345
# Colour overlap (Bhattacharyya coefficient of Lab histograms) between a found object and the band
# around it. An object GrabCut told apart looks unlike what surrounds it; when its colours go on
# just outside, the cut ran through one thing (a table top, a brick wall, a cat's fur) and the
# "object" is a piece of the scene. On the photo benchmark's tuning third every automatic mask with
# IoU < 0.7 had an overlap of 0.70 or more, and all but one good one less (benchmarks/photos.py).
MAX_RING_OVERLAP = 0.7
# The plain-backdrop threshold's mask on a surface too textured for a studio, where GrabCut refused:
# the weaker method, so it must stand out more clearly (its wrong finds on the tuning third: 0.49;
# its right ones: 0.23 and below).
MAX_FALLBACK_RING_OVERLAP = 0.45
RING_FRACTION = 0.04  # of the longest side: the band around the object compared with it
LAB_BINS = 8  # per Lab axis
BOX_SEED_FRACTION = 0.5  # of the box's width and height: the centre that is surely the object on a second try
MIN_BOX_FIND = 0.03  # of the box's area: less, and GrabCut lost a camouflaged object; try again from its centre
BOX_MIN_PART = 0.05  # with a box, pieces smaller than this share of the largest are dropped


def _work_copy(rgb: np.ndarray, side: int = WORK_SIDE_PX) -> np.ndarray:
    """``rgb`` shrunk (area-averaged) so its longest side is at most ``side``."""
    import cv2

    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    if scale >= 1.0:
        return np.ascontiguousarray(rgb[..., :3])
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(np.ascontiguousarray(rgb[..., :3]), size, interpolation=cv2.INTER_AREA)


def _grabcut(small: np.ndarray, rect: tuple[int, int, int, int], iterations: int = ITERATIONS) -> np.ndarray:
    """GrabCut from ``rect`` (x, y, w, h in ``small``'s pixels): the foreground as a boolean mask.

    A cast shadow is darker than the background and so unlike it that GrabCut takes it for part
    of the object. After the first cut, pixels that are a darker copy of a background colour (the
    same hue, 30-93 % of its brightness) are handed back as probable background and the cut is
    run again, so the graph decides with the shadow on the background's side. When most of the
    object looks like that, it is the object's own colour, and the first cut stands.
    """
    import cv2

    labels = np.zeros(small.shape[:2], np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    bgr = np.ascontiguousarray(small[..., ::-1])  # OpenCV's order; the colour models do not mind
    # GrabCut seeds its colour models with k-means from OpenCV's global random state: without a fixed
    # seed the same photo could be found once and refused the next time, and the preview disagree with the job.
    cv2.setRNGSeed(RNG_SEED)
    try:
        cv2.grabCut(bgr, labels, rect, bgd, fgd, iterations, cv2.GC_INIT_WITH_RECT)
    except cv2.error:
        # Raised when one side of the rectangle has too few distinct colours to model (a flat image).
        return np.zeros(small.shape[:2], bool)
    found = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    x, y, w, h = rect
    outside = np.ones(small.shape[:2], bool)
    outside[y:y + h, x:x + w] = False
    if outside.mean() < MIN_SHADOW_SAMPLE:  # too little sure background to know its colours
        return found
    shadow = _touching(found & _darker_background(small, outside), ~found)
    if shadow.any() and shadow.sum() <= MAX_SHADOW_SHARE * found.sum():
        labels[shadow] = cv2.GC_PR_BGD
        try:
            cv2.grabCut(bgr, labels, rect, bgd, fgd, SHADOW_ITERATIONS, cv2.GC_INIT_WITH_MASK)
        except cv2.error:  # pragma: no cover - the first cut succeeded on the same pixels
            return found
        first, found = found, (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
        # What the second cut cut out of the middle of the object was its own shading, not a shadow.
        from scipy import ndimage

        found |= ndimage.binary_fill_holes(found) & first
    return found


def _grabcut_seeded(small: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray:
    """GrabCut with the box's central ellipse as sure foreground and the rest of the box as probable."""
    import cv2

    x, y, w, h = rect
    labels = np.full(small.shape[:2], cv2.GC_BGD, np.uint8)
    labels[y:y + h, x:x + w] = cv2.GC_PR_BGD
    yy, xx = np.mgrid[0:small.shape[0], 0:small.shape[1]]
    u = (xx - (x + w / 2.0)) / max(BOX_SEED_FRACTION * w / 2.0, 1.0)
    v = (yy - (y + h / 2.0)) / max(BOX_SEED_FRACTION * h / 2.0, 1.0)
    labels[u * u + v * v <= 1.0] = cv2.GC_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(RNG_SEED)
    try:
        cv2.grabCut(np.ascontiguousarray(small[..., ::-1]), labels, (0, 0, 1, 1), bgd, fgd, ITERATIONS,
                    cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # pragma: no cover - the seeded ellipse and the frame give both models pixels
        return np.zeros(small.shape[:2], bool)
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def ring_overlap(rgb: np.ndarray, mask: np.ndarray) -> float:
    """How alike the object's colours and those of the band just around it are: 0 unlike, 1 the same.

    Measured on a copy whose longest side is :data:`AUTO_SIDE_PX`, as the automatic cut works.
    """
    import cv2
    from scipy import ndimage

    small = _work_copy(rgb, AUTO_SIDE_PX)
    h, w = small.shape[:2]
    if mask.shape != (h, w):
        mask = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    ring = ndimage.binary_dilation(mask, iterations=max(2, round(RING_FRACTION * max(h, w)))) & ~mask
    if not mask.any() or not ring.any():
        return 1.0
    lab = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2LAB).reshape(-1, 3) // (256 // LAB_BINS)
    index = (lab[:, 0].astype(np.int64) * LAB_BINS + lab[:, 1]) * LAB_BINS + lab[:, 2]

    def histogram(where: np.ndarray) -> np.ndarray:
        counts = np.bincount(index[where.reshape(-1)], minlength=LAB_BINS**3).astype(np.float64)
        return counts / counts.sum()

    return float(np.sqrt(histogram(mask) * histogram(ring)).sum())


def _touching(candidates: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The pieces of ``candidates`` that border ``background``: a cast shadow lies against it."""
    from scipy import ndimage

    labels, count = ndimage.label(candidates)
    if count == 0:
        return candidates
    rim = ndimage.binary_dilation(background) & candidates
    keep = np.zeros(count + 1, bool)
    keep[np.unique(labels[rim])] = True
    keep[0] = False
    return keep[labels]


CHROMA_BINS = 24  # per axis of the (r, g) chromaticity histogram of the background


def _darker_background(small: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Pixels with a common background hue but darker than that hue's background (a shadow on it).

    Hue is chromaticity, (r, g) / (r + g + b), which a shadow leaves as it is; the background's
    hues and their typical brightness are read from the pixels known to be background.
    """
    import cv2

    rgb = small.astype(np.float32)
    total = rgb.sum(axis=2) + 1e-3
    bins = np.clip((rgb[..., :2] / total[..., None] * CHROMA_BINS).astype(np.int32), 0, CHROMA_BINS - 1)
    index = bins[..., 0] * CHROMA_BINS + bins[..., 1]
    counts = np.bincount(index[background], minlength=CHROMA_BINS**2).astype(np.float32)
    bright = np.bincount(index[background], weights=total[background], minlength=CHROMA_BINS**2)
    level = (bright / np.maximum(counts, 1)).astype(np.float32)
    # A shadow's hue may drift a bin (noise in dark pixels): spread both tables over neighbours.
    counts2 = cv2.blur(counts.reshape(CHROMA_BINS, CHROMA_BINS), (3, 3)).reshape(-1)
    level2 = np.maximum(level, cv2.dilate(level.reshape(CHROMA_BINS, CHROMA_BINS), np.ones((3, 3))).reshape(-1))
    common = counts2[index] >= SHADOW_HUE_SHARE * background.sum() / 9.0
    ratio = total / np.maximum(level2[index], 1.0)
    return common & (ratio >= SHADOW_DEPTH[0]) & (ratio <= SHADOW_DEPTH[1])


def _pieces(mask: np.ndarray, min_part: float) -> tuple[np.ndarray, float]:
    """The largest piece and those at least ``min_part`` of its size; and the largest piece's share."""
    from scipy import ndimage

    labels, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if count <= 1:
        return mask, 1.0
    sizes = np.bincount(labels.ravel())[1:]
    keep = sizes >= min_part * sizes.max()
    return keep[labels - 1] & (labels > 0), float(sizes.max() / sizes.sum())


def _upsample(small_mask: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``(mask, coverage)`` at ``shape``: the small mask scaled up smoothly, cut at one half."""
    import cv2

    soft: np.ndarray = small_mask.astype(np.float32)
    if soft.shape != shape:
        soft = cv2.GaussianBlur(soft, (0, 0), 0.7)
        soft = cv2.resize(soft, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    coverage = np.clip(soft, 0.0, 1.0).astype(np.float32)
    return coverage >= 0.5, coverage


def box_pixels(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """``box`` (fractions) as a GrabCut rectangle (x, y, w, h) in a ``width`` × ``height`` image, at least 2×2."""
    x0, y0, x1, y1 = (float(v) for v in box)
    left = min(max(round(x0 * width), 0), width - 2)
    top = min(max(round(y0 * height), 0), height - 2)
    right = min(max(round(x1 * width), left + 2), width)
    bottom = min(max(round(y1 * height), top + 2), height)
    return left, top, right - left, bottom - top


def box_region(box: Box, width: int, height: int) -> np.ndarray:
    """The pixels of a ``width`` × ``height`` image inside ``box`` (fractions), as a boolean mask."""
    x, y, w, h = box_pixels(box, width, height)
    inside = np.zeros((height, width), bool)
    inside[y:y + h, x:x + w] = True
    return inside


def segment_box(rgb: np.ndarray, box: Box) -> np.ndarray:
    """The object inside ``box`` (fractions x0, y0, x1, y1 of the width and height) as a boolean mask."""
    return segment_box_soft(rgb, box)[0]


def segment_box_soft(rgb: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray]:
    """``(mask, coverage)`` of the object inside ``box``; raises :class:`NoForeground` when nothing is found.

    A box that cannot be one (not four fractions, inside out, a few pixels) raises InvalidOption.
    """
    box = check_box(box)
    small = _work_copy(rgb)
    h, w = small.shape[:2]
    x, y, bw, bh = box_pixels(box, w, h)
    found = _grabcut(small, (x, y, bw, bh))
    found, _ = _pieces(found, BOX_MIN_PART)
    if found.sum() < MIN_BOX_FIND * bw * bh:
        # The object shares the background's colours (a camouflaged thing, a bottle against its own
        # label): GrabCut's first colour models put it all in the background. A person's box is drawn
        # around the object, so its middle is the object: seed that as sure foreground and cut again.
        found = _pieces(_grabcut_seeded(small, (x, y, bw, bh)), BOX_MIN_PART)[0] | found
    if found.sum() < 4:
        raise NoForeground(N_("No object was found inside the box: make sure the box holds the whole object."))
    mask, coverage = _upsample(found, rgb.shape[:2])
    # The box is a promise: nothing outside it, even where the smooth upsampling spilled over.
    inside = box_region(box, rgb.shape[1], rgb.shape[0])
    coverage = np.where(inside, coverage, 0.0).astype(np.float32)
    return mask & inside, coverage


def segment_auto(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mask, coverage)`` of the one object standing clear of a busy background, or :class:`ObjectNotFound`."""
    small = _work_copy(rgb, AUTO_SIDE_PX)
    h, w = small.shape[:2]
    found = []
    for inset, iterations in zip(AUTO_INSETS, (ITERATIONS, STABILITY_ITERATIONS), strict=True):
        dx, dy = max(1, round(inset * w)), max(1, round(inset * h))
        rect = (dx, dy, w - 2 * dx, h - 2 * dy)
        mask = _grabcut(small, rect, iterations)
        if not _plausible(mask, rect) or not _on_edges(small, _pieces(mask, BOX_MIN_PART)[0]):
            raise ObjectNotFound()
        found.append(_pieces(mask, BOX_MIN_PART)[0])
    a, b = found
    if (a & b).sum() < MIN_STABLE_IOU * (a | b).sum():
        raise ObjectNotFound()
    if ring_overlap(small, a) > MAX_RING_OVERLAP:
        raise ObjectNotFound()
    return _upsample(a, rgb.shape[:2])


def _plausible(mask: np.ndarray, rect: tuple[int, int, int, int]) -> bool:
    """One solid, mid-sized object that stays clear of the starting rectangle's edge."""
    from scipy import ndimage

    area = mask.mean()
    if not MIN_AREA_FRACTION <= area <= MAX_AREA_FRACTION:
        return False
    main, share = _pieces(mask, 1.0)
    if share < MIN_MAIN_SHARE:
        return False
    x, y, w, h = rect
    edge = np.concatenate([mask[y, x:x + w], mask[y + h - 1, x:x + w], mask[y:y + h, x], mask[y:y + h, x + w - 1]])
    if edge.mean() > MAX_EDGE_TOUCH:
        return False
    filled = ndimage.binary_fill_holes(main)
    return bool(filled.sum() >= MIN_SOLIDITY * _hull_area(filled))


def _on_edges(small: np.ndarray, mask: np.ndarray) -> bool:
    """Whether the outline follows an edge in the picture along nearly all of its length.

    An object's outline is where its colour changes; a cut through an even stretch of sky or wall
    (a patch of background GrabCut took for an object) runs mostly where nothing changes.
    """
    import cv2

    smooth = cv2.GaussianBlur(small.astype(np.float32), (0, 0), 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1)
    strength = np.sqrt((gx * gx + gy * gy).sum(axis=2)) / 8.0  # Sobel's weights sum to 8: levels per pixel
    strength = cv2.dilate(strength, np.ones((3, 3), np.uint8))  # the outline may sit a pixel off the edge
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    outline = mask & ~inner
    return bool(outline.any() and (strength[outline] > EDGE_CONTRAST).mean() >= MIN_EDGE_SUPPORT)


def _hull_area(mask: np.ndarray) -> float:
    import cv2

    points = cv2.findNonZero(mask.astype(np.uint8))
    if points is None:
        return 0.0
    hull = cv2.convexHull(points)
    return float(cv2.contourArea(hull)) + 0.5 * len(hull)  # the area between centres, plus the rim's half pixel
