from core.i18n import LANGS, TEXTS, normalise_lang, t


def test_every_text_has_dutch_and_english():
    missing = [key for key, entry in TEXTS.items() if any(not entry.get(lang) for lang in LANGS)]
    assert missing == []


def test_language_choice_and_fields():
    assert normalise_lang("nl-NL") == "nl" and normalise_lang("de-DE") == "en" and normalise_lang(None) == "en"
    assert t("login.title", "nl") == "Inloggen"
    assert t("app.signed_in_as", "en", email="a@b.nl") == "Signed in as a@b.nl"
