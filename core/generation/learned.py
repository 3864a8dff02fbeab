"""A learned background remover: one of rembg's published ONNX segmenters, run with onnxruntime.

The weights are never in git: an operator installs one with ``python -m core.manage models pull NAME``
(see :mod:`core.generation.model_files`) into ``MODELS_DIR``. When one is installed the engine's mask
comes from it (after an alpha channel and inside a user's box); without one the classical methods run.

Preprocessing and output handling follow rembg's sessions, so a file behaves as it does there:

- the photo (RGB) is resized to the model's square input with Lanczos, divided by its own largest
  value, normalised per channel with the family's mean and std, and laid out as 1×3×S×S float32;
- the first output's first channel is the map (BiRefNet's through a sigmoid first), scaled min-max
  to 0-1, turned into 8-bit grey and resized back to the photo's size with Lanczos.

onnxruntime is imported only when a model is used, so a machine without models never loads it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MASK_LEVEL = 0.5  # of the 0-1 map: more is the object


@dataclass(frozen=True)
class SegmenterSpec:
    """One model family: its release file and checksum, and how its input and output are made."""

    name: str
    filename: str
    md5: str
    side: int  #: pixels of the square input
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    sigmoid: bool  #: whether the raw output needs a sigmoid before the min-max scaling
    licence: str
    size_mb: int  #: roughly, for the operator's information before a download


#: Best first: with several installed and SEGMENTER=auto, the first installed one is used.
MODELS: dict[str, SegmenterSpec] = {s.name: s for s in (
    SegmenterSpec("birefnet-general-lite", "BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx",
                  "4fab47adc4ff364be1713e97b7e66334", 1024, IMAGENET_MEAN, IMAGENET_STD, True, "MIT", 224),
    SegmenterSpec("isnet-general-use", "isnet-general-use.onnx", "fc16ebd8b0c10d971d3513d564d01e29", 1024,
                  (0.5, 0.5, 0.5), (1.0, 1.0, 1.0), False, "Apache-2.0", 179),
    SegmenterSpec("u2net", "u2net.onnx", "60024c5c889badc19c04ad937298a77b", 320, IMAGENET_MEAN, IMAGENET_STD,
                  False, "Apache-2.0", 176),
    SegmenterSpec("u2netp", "u2netp.onnx", "8e83ca70e441ab06c318d82300c84806", 320, IMAGENET_MEAN, IMAGENET_STD,
                  False, "Apache-2.0", 5),
)}
DEFAULT_MODEL = "u2netp"  # the small one: 4.6 MB, a few tenths of a second on a CPU


def prepare(rgb: np.ndarray, spec: SegmenterSpec) -> np.ndarray:
    """The model's input for an RGB photo: 1×3×S×S float32, as rembg's ``normalize`` makes it."""
    image = Image.fromarray(np.ascontiguousarray(rgb[..., :3])).resize((spec.side, spec.side),
                                                                       Image.Resampling.LANCZOS)
    values = np.asarray(image).astype(np.float64)
    values = values / max(float(values.max()), 1e-6)
    mean, std = np.asarray(spec.mean), np.asarray(spec.std)
    values = (values - mean) / std
    return values.transpose(2, 0, 1)[None].astype(np.float32)


def to_coverage(output: np.ndarray, spec: SegmenterSpec, size: tuple[int, int]) -> np.ndarray:
    """The first output's map as a 0-1 coverage of ``size`` (width, height), as rembg's ``predict`` makes it."""
    pred = np.asarray(output)[:, 0, :, :]  # in the runtime's float32, as rembg computes it
    if spec.sigmoid:
        pred = 1.0 / (1.0 + np.exp(-pred))
    low, high = float(pred.min()), float(pred.max())
    pred = (pred - low) / max(high - low, 1e-12)
    grey = Image.fromarray((np.squeeze(pred) * 255).astype(np.uint8), "L")
    return np.asarray(grey.resize(size, Image.Resampling.LANCZOS)).astype(np.float32) / 255.0


class Segmenter:
    """An installed model file loaded into an onnxruntime session (CUDA when the runtime has it)."""

    def __init__(self, spec: SegmenterSpec, path: Path) -> None:
        import onnxruntime as ort

        self.spec = spec
        self.path = path
        available = ort.get_available_providers()
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        options = ort.SessionOptions()
        options.log_severity_level = 3  # the runtime's own warnings are not the operator's business
        self.session: Any = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        self.device = "cuda" if "CUDAExecutionProvider" in self.session.get_providers() else "cpu"
        self.input_name = self.session.get_inputs()[0].name
        self._lock = threading.Lock()  # one run at a time per session keeps memory flat with worker threads

    @property
    def name(self) -> str:
        return self.spec.name

    def coverage(self, rgb: np.ndarray) -> np.ndarray:
        """The object's 0-1 coverage at ``rgb``'s size."""
        with self._lock:
            output = self.session.run(None, {self.input_name: prepare(rgb, self.spec)})[0]
        return to_coverage(output, self.spec, (rgb.shape[1], rgb.shape[0]))


def models_dir() -> Path:
    from core.config import get_settings

    return get_settings().models_path


def installed(directory: Path | None = None) -> list[SegmenterSpec]:
    """The known models whose verified file is in ``directory`` (``MODELS_DIR``), best first."""
    directory = directory or models_dir()
    return [spec for spec in MODELS.values() if (directory / spec.filename).is_file()]


_loaded: dict[tuple[str, int, int], Segmenter] = {}
_load_lock = threading.Lock()


def active() -> Segmenter | None:
    """The segmenter the ``SEGMENTER`` setting picks among the installed ones, or None for the classical path.

    Loaded once per file (a pulled-again or removed file is noticed by its size and time).
    """
    from core.config import get_settings

    choice = get_settings().segmenter
    if choice == "none":
        return None
    found = installed()
    if choice != "auto":
        found = [spec for spec in found if spec.name == choice]
    if not found:
        return None
    spec = found[0]
    path = models_dir() / spec.filename
    try:
        stat = path.stat()
    except OSError:  # removed a moment ago
        return None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _load_lock:
        if key not in _loaded:
            _loaded.clear()
            _loaded[key] = Segmenter(spec, path)
        return _loaded[key]


def active_name() -> str:
    """What the mask comes from when no alpha or box decides: a model's name, or ``grabcut``."""
    try:
        segmenter = active()
    except Exception:  # a damaged file: the engine falls back too (see images.foreground)
        return "grabcut"
    return segmenter.name if segmenter else "grabcut"
