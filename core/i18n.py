"""Dutch and English through gettext catalogs managed with Babel.

Messages are marked in code with their English text as the msgid: ``_("Upload")`` and
``ngettext("{n} model", "{n} models", n)`` on pages (``pages.common``), ``translate(msgid,
lang)`` in core (mails), ``N_("...")`` where a message is only named and translated later.
Error messages are the docstrings of :class:`core.errors.VormError` subclasses; the
extractor in ``core.i18n_extract`` collects them too.

``make i18n`` runs ``pybabel extract`` (into ``core/locale/vorm.pot``), ``update`` and
``compile``. English needs no catalog: the msgids are English. Plural rules, numbers,
dates, sizes and durations come from the locale through Babel, so "1 generatie",
"20.000" and "0,97" are right without code.
"""

from __future__ import annotations

import functools
import io
import logging
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel import units as babel_units
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

log = logging.getLogger(__name__)

LANGS = ("en", "nl")
DEFAULT_LANG = "en"
LANG_NAMES = {"en": "English", "nl": "Nederlands"}  # each in its own language, for the switch
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "vorm"


def normalise_lang(lang: str | None) -> str:
    """``nl-NL``, ``nl_BE`` or ``NL`` -> ``nl``; anything we do not speak -> English."""
    lang = (lang or "").lower()[:2]
    return lang if lang in LANGS else DEFAULT_LANG


def N_(message: str) -> str:  # noqa: N802 - gettext's own name for "mark, translate later"
    """Mark a message for extraction without translating it here."""
    return message


@functools.cache
def _catalog(lang: str, _stamp: tuple[int, int]) -> NullTranslations:
    if lang == DEFAULT_LANG:
        return NullTranslations()
    base = LOCALE_DIR / lang / "LC_MESSAGES" / DOMAIN
    mo, po = base.with_suffix(".mo"), base.with_suffix(".po")
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime_ns >= po.stat().st_mtime_ns):
        with mo.open("rb") as fh:
            return Translations(fh, domain=DOMAIN)
    if po.is_file():
        # No compiled catalog yet (a checkout without `make i18n`): compile in memory, once.
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang, domain=DOMAIN)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        return Translations(buf, domain=DOMAIN)
    log.error("No catalog for %r under %s: texts stay English", lang, LOCALE_DIR)
    return NullTranslations()


CATALOG_CHECK_SECONDS = 2.0  # how often a running process looks whether a language's catalog files changed
_stamps: dict[str, tuple[float, tuple[int, ...]]] = {}  # language -> (checked at, monotonic; file stamps)


def translations(lang: str | None) -> NullTranslations:
    """The catalog of a language; re-read when its files change (looked at every CATALOG_CHECK_SECONDS:
    a page run translates some fifty texts, and four file stats each cost more than the lookup)."""
    lang = normalise_lang(lang)
    now = time.monotonic()
    checked = _stamps.get(lang)
    if checked is None or now - checked[0] > CATALOG_CHECK_SECONDS:
        base = LOCALE_DIR / lang / "LC_MESSAGES" / DOMAIN
        files = (base.with_suffix(".mo"), base.with_suffix(".po"))
        checked = (now, tuple(p.stat().st_mtime_ns if p.is_file() else 0 for p in files))
        _stamps[lang] = checked
    return _catalog(lang, checked[1])  # type: ignore[arg-type]


def fill(text: str, fields: dict[str, Any]) -> str:
    """``text.format(**fields)``, or ``text`` as it is when the fields do not fit (logged)."""
    if not fields:
        return text
    try:
        return text.format(**fields)
    except (KeyError, IndexError, ValueError):
        log.warning("A translation does not fit its fields %s: %r", sorted(fields), text)
        return text


def translate(message: str, lang: str | None, **fields: Any) -> str:
    """``message`` (an English msgid) in ``lang``, with ``{fields}`` filled in."""
    return fill(translations(lang).gettext(message), fields)


def translate_plural(singular: str, plural: str, n: int, lang: str | None, **fields: Any) -> str:
    """The form for ``n`` by the language's plural rule; ``{n}`` is filled in, formatted for the locale."""
    text = translations(lang).ngettext(singular, plural, n)
    return fill(text, {"n": format_number(n, lang), **fields})


def translate_in_context(context: str, message: str, lang: str | None, **fields: Any) -> str:
    """For short words whose translation depends on where they stand ("free" as a plan)."""
    return fill(str(translations(lang).pgettext(context, message)), fields)


# --- formats ---------------------------------------------------------------------


def _locale(lang: str | None) -> Locale:
    return Locale.parse({"nl": "nl_NL", "en": "en_GB"}[normalise_lang(lang)])


def format_number(value: float, lang: str | None, *, digits: int | None = None) -> str:
    """20000 -> "20.000" in Dutch; ``digits`` fixes the decimals (0.973 -> "0,97")."""
    if digits is None:
        return babel_numbers.format_decimal(value, locale=_locale(lang))
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return babel_numbers.format_decimal(value, format=pattern, locale=_locale(lang))


def format_percent(fraction: float, lang: str | None) -> str:
    return babel_numbers.format_percent(fraction, locale=_locale(lang))


def format_money(amount_cents: int, currency: str, lang: str | None) -> str:
    """1999, "eur" -> "€ 19,99" in Dutch, "€19.99" in English."""
    return babel_numbers.format_currency(amount_cents / 100, currency.upper(), locale=_locale(lang))


def format_size(size_bytes: float, lang: str | None) -> str:
    """17.9 MB -> "17,9 MB" in Dutch (decimal units, as file managers show them)."""
    for unit, scale in (("digital-gigabyte", 1e9), ("digital-megabyte", 1e6), ("digital-kilobyte", 1e3)):
        if size_bytes >= scale:
            return babel_units.format_unit(round(size_bytes / scale, 1), unit, length="short", locale=_locale(lang))
    return babel_units.format_unit(int(size_bytes), "digital-byte", length="short", locale=_locale(lang))


def format_duration(seconds: float, lang: str | None) -> str:
    """A length of time in words: "3 minuten", "1 dag"."""
    return babel_dates.format_timedelta(timedelta(seconds=seconds), threshold=1.0, locale=_locale(lang))


def format_date(value: date | datetime | None, lang: str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return babel_dates.format_datetime(value, format="short", locale=_locale(lang))
    return babel_dates.format_date(value, format="medium", locale=_locale(lang))


def format_bucket(value: date | datetime, lang: str | None, *, hourly: bool = False) -> str:
    """A chart's day or hour, short: "30 nov" (Dutch), "30 Nov" (English); hourly "30 nov 14:00"."""
    if hourly and isinstance(value, datetime):
        return babel_dates.format_datetime(value, format="d MMM HH:mm", locale=_locale(lang))
    return babel_dates.format_date(value, format="d MMM", locale=_locale(lang))
