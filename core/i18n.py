"""Dutch and English texts. ``t(key, lang, **fields)``; a missing Dutch text falls back to English.

Texts live in ``core/texts/<area>.py``, keys grouped by page (``login.*``, ``upload.*``).
A test checks that every key has both languages.
"""

from __future__ import annotations

import importlib

LANGS = ("en", "nl")
DEFAULT_LANG = "en"

_AREAS = ("base", "upload", "library", "model", "privacy", "admin")


def _load() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for area in _AREAS:
        try:
            module = importlib.import_module(f"core.texts.{area}")
        except ModuleNotFoundError as exc:
            if exc.name == f"core.texts.{area}":
                continue  # an area not built yet
            raise
        for key, value in module.TEXTS.items():
            if key in merged:
                raise RuntimeError(f"text key {key!r} is defined twice")
            merged[key] = value
    return merged


TEXTS: dict[str, dict[str, str]] = _load()


def normalise_lang(lang: str | None) -> str:
    lang = (lang or "").lower()[:2]
    return lang if lang in LANGS else DEFAULT_LANG


def t(key: str, lang: str | None = None, **fields: object) -> str:
    entry = TEXTS.get(key)
    if entry is None:
        return key
    text = entry.get(normalise_lang(lang)) or entry[DEFAULT_LANG]
    return text.format(**fields) if fields else text
