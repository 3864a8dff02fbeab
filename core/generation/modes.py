"""Which mode runs for how many images: light (no torch), so the CLI can refuse early."""

from __future__ import annotations

from core.generation.errors import InvalidOption, TooFewViews, TooManyViews, UnsupportedMode
from core.i18n import N_


def resolve_mode(mode: str, n_images: int, max_views: int) -> str:
    """The mode to run for this many images; raises for combinations that cannot work."""
    if n_images == 0:
        raise InvalidOption(N_("Give at least one image."))
    if mode == "auto":
        mode = "inflate" if n_images == 1 else "carve"
    if mode == "carve":
        if n_images < 2:
            raise TooFewViews()
        if n_images > max_views:
            raise TooManyViews(max_views=max_views)
    elif n_images != 1:
        raise UnsupportedMode(N_("The {mode} mode takes exactly one image; carve takes several views."), mode=mode)
    return mode
