"""The Dutch catalog is complete and consistent with the code; plurals, numbers and dates follow the locale."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from core import i18n
from core.config import ROOT

PO = ROOT / "core" / "locale" / "nl" / "LC_MESSAGES" / "vorm.po"
FIELD = re.compile(r"\{(\w+)[^}]*\}")


def _extract(tmp_path: Path) -> Path:
    """Run the same extraction as `make i18n`, into a temporary template."""
    pot = tmp_path / "vorm.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "-q", "extract", "-F", "babel.cfg", "-k", "_", "-k", "N_", "-k", "translate",
                    "-k", "translate_plural:1,2", "-k", "translate_in_context:1c,2", "--no-wrap", "-o", str(pot),
                    "app.py", "pages", "core"], cwd=ROOT, check=True, env={"PYTHONPATH": str(ROOT)})
    return pot


def _dutch() -> dict[object, object]:
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="nl")
    return {m.id: m for m in catalog if m.id}


def test_every_message_in_the_code_has_a_dutch_translation(tmp_path):
    with _extract(tmp_path).open("rb") as fh:
        template = read_po(fh)
    dutch = _dutch()
    missing = [m.id for m in template if m.id and (m.id not in dutch or not all(
        (dutch[m.id].string,) if isinstance(dutch[m.id].string, str) else dutch[m.id].string))]
    fuzzy = [m.id for m in dutch.values() if m.fuzzy]
    assert missing == [], f"untranslated: run `make i18n` and translate these in {PO}"
    assert fuzzy == [], "fuzzy translations must be checked and the flag removed"


def test_translations_keep_the_fields_of_their_message():
    for msg in _dutch().values():
        ids = msg.id if isinstance(msg.id, tuple) else (msg.id,)
        strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
        wanted = set(FIELD.findall(ids[-1])) | ({"n"} if len(ids) > 1 else set())
        for text in strings:
            assert set(FIELD.findall(text)) <= wanted | set(FIELD.findall(ids[0])), (msg.id, text)


def test_dutch_uses_the_informal_je():
    formal = [m.id for m in _dutch().values() if re.search(r"\b([Uu]w?)\b", str(m.string))]
    assert formal == []


def test_plurals_numbers_and_dates_follow_the_locale():
    one = i18n.translate_plural("{n} model", "{n} models", 1, "nl")
    many = i18n.translate_plural("{n} model", "{n} models", 20000, "nl")
    assert (one, many) == ("1 model", "20.000 modellen")
    assert i18n.translate_plural("{n} model", "{n} models", 20000, "en") == "20,000 models"
    assert i18n.format_number(0.973, "nl", digits=2) == "0,97"
    assert i18n.format_size(17.9e6, "nl") == "17,9 MB"
    assert i18n.format_money(1999, "eur", "nl").replace("\xa0", " ") == "€ 19,99"
    assert i18n.format_date(datetime(2026, 11, 25, 20, 5, tzinfo=UTC), "nl").replace(",", "") == "25-11-2026 20:05"
    assert i18n.format_duration(3 * 60, "nl") == "3 minuten"


def test_language_choice_and_fields():
    assert i18n.normalise_lang("nl-NL") == "nl" and i18n.normalise_lang("de-DE") == "en"
    assert i18n.normalise_lang(None) == "en"
    assert i18n.translate("Log in", "nl") == "Inloggen"
    assert i18n.translate("Signed in as {email}", "en", email="a@b.nl") == "Signed in as a@b.nl"


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_errors_render_from_their_code_in_either_language(lang):
    from core.errors import render_code
    from core.jobs.errors import TooManyViews

    exc = TooManyViews(given=9, limit=4, premium=64)
    stored = render_code(exc.code, exc.context, lang)
    assert stored == exc.render(lang)
    assert ("9" in stored) and ("4" in stored)


#: English words of 3D printing whose literal Dutch reading is wrong here: a polygon mesh is not a
#: fishing net ("net"), and a worker process is not the GDPR's "verwerker" (a processor).
FALSE_FRIENDS = {"mesh": re.compile(r"\bnet(ten)?\b", re.I), "worker": re.compile(r"\bverwerkers?\b", re.I)}


def test_dutch_catalog_has_no_false_friends():
    with (i18n.LOCALE_DIR / "nl" / "LC_MESSAGES" / "vorm.po").open("rb") as fh:
        catalog = read_po(fh, locale="nl")
    wrong = [(msg.id, msg.string) for msg in catalog if isinstance(msg.id, str) and isinstance(msg.string, str)
             for word, dutch in FALSE_FRIENDS.items() if word in msg.id.lower() and dutch.search(msg.string)]
    assert wrong == []
    assert i18n.translate("The mesh", "nl") == "Het model"
    assert i18n.translate_in_context("button", "Upload", "nl") == "Uploaden"
    assert i18n.translate("Skip to main content", "nl") == "Naar de hoofdinhoud"
