"""Engine input errors: what a person did wrong with the images or options they gave.

Each docstring is the message shown to the user. Crashes inside the engine that
are not the user's fault propagate as ordinary exceptions.

    core.errors.ValidationError
    ├── EmptyFile
    ├── UnsupportedImageType
    ├── CorruptImage
    ├── ImageTooLarge            checked from the header, before decoding
    ├── NoForeground
    ├── ForegroundFillsFrame
    │   └── ObjectNotFound       a busy background, and no object could be told from it
    ├── ViewSizeMismatch
    ├── TooManyViews
    ├── TooFewViews
    ├── UnsupportedFormat
    ├── UnsupportedMode
    ├── UnknownEngine
    ├── DeviceUnavailable
    ├── InvalidOption
    └── UnprintableModel         repair could not make the model watertight and printable
"""

from __future__ import annotations

from core.errors import ValidationError


class EmptyFile(ValidationError):
    """The file is empty."""

    code = "empty_file"


class UnsupportedImageType(ValidationError):
    """The file is not a supported image: use PNG, JPEG or WebP."""

    code = "unsupported_image_type"


class CorruptImage(ValidationError):
    """The file is not a readable image (it may be truncated or damaged)."""

    code = "corrupt_image"


class ImageTooLarge(ValidationError):
    """The image has too many pixels to process (it may be a decompression bomb)."""

    code = "image_too_large"


class NoForeground(ValidationError):
    """No object was found in the image: use a transparent background or a plain one that differs from the object."""  # noqa: E501

    code = "no_foreground"


class ForegroundFillsFrame(ValidationError):
    """The object fills the whole frame or the background is not plain: leave space around the object on a plain background, or use a PNG with transparency."""  # noqa: E501

    code = "foreground_fills_frame"


class ObjectNotFound(ForegroundFillsFrame):
    """We could not tell the object from the background. {box_remedy}, or use a photo with a plain background or a PNG with transparency."""  # noqa: E501

    # A kind of ForegroundFillsFrame: callers that handled the busy-background refusal still do.
    code = "object_not_found"


class ViewSizeMismatch(ValidationError):
    """All views of a carve must have the same size in pixels."""

    code = "view_size_mismatch"


class TooManyViews(ValidationError):
    """Too many views for one carve: use at most {max_views} images."""

    code = "too_many_carve_views"


class TooFewViews(ValidationError):
    """Carving needs at least 2 views around the object."""

    code = "too_few_views"


class UnsupportedFormat(ValidationError):
    """That output format is not supported: use glb, obj, stl, ply or 3mf."""

    code = "unsupported_format"


class UnsupportedMode(ValidationError):
    """That mode is not supported, or does not fit the number of images: use auto, inflate, relief or carve."""  # noqa: E501

    code = "unsupported_mode"


class UnknownEngine(ValidationError):
    """No engine of that name is installed."""

    code = "unknown_engine"


class DeviceUnavailable(ValidationError):
    """The requested device is not available on this machine: use auto or cpu."""

    code = "device_unavailable"


class InvalidOption(ValidationError):
    """A generation option is out of range."""

    code = "invalid_option"


class UnprintableModel(ValidationError):
    """This image could not be made into a sound, printable model: try bolder lines or shapes, or a larger object in the frame."""  # noqa: E501

    code = "unprintable_model"
