"""Translation catalogs: every text of the customer bot (bot/) and the staff bot (admin_bot/)
is translated into French and Polish, with the same placeholders; the catalog template matches
the code; prices and languages per locale.

When this fails after adding a text: run `make i18n` and translate the new entries in
bot/locales/fr/LC_MESSAGES/messages.po and bot/locales/pl/LC_MESSAGES/messages.po.
"""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LANGUAGES, LOCALES_DIR, Translator, format_money, pick_language
from shop.money import Money

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = LOCALES_DIR / "messages.pot"
TRANSLATED = [code for code in LANGUAGES if code != "en"]
HOW_TO_FIX = "run `make i18n` and translate the new entries in bot/locales/*/LC_MESSAGES"


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def _ids(catalog: Catalog) -> set[str]:
    return {str(message.id) for message in catalog if message.id}


def _fields(text: str) -> set[str]:
    """The placeholders with their conversion and format spec: "{units:+d}" is "units:+d"."""
    return {name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            for _, name, spec, conversion in string.Formatter().parse(text) if name is not None}


def _names(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


class _Value:
    """Fills in any placeholder, whatever its format spec ("{units:+d}" too)."""

    def __format__(self, spec: str) -> str:
        return "x"


def test_languages_are_english_french_polish() -> None:
    assert list(LANGUAGES) == ["en", "fr", "pl"]
    assert TRANSLATED == ["fr", "pl"]


SOURCES = ("bot", "admin_bot")   # the customer bot and the staff bot share the catalogs


def test_template_lists_every_text_in_the_code() -> None:
    """Texts marked with t("...") in bot/ and admin_bot/ are exactly those of messages.pot."""
    method_map = [("**.py", "python")]
    in_code: set[str] = set()
    for source in SOURCES:
        found = {message for _, _, message, _, _ in extract_from_dir(
            str(ROOT / source), method_map, keywords={"t": None}) if isinstance(message, str)}
        assert found, f"no texts found in {source}/: is the extraction broken?"
        in_code |= found
    in_template = _ids(_read(TEMPLATE))
    assert sorted(in_code - in_template) == [], f"texts missing from messages.pot: {HOW_TO_FIX}"
    assert sorted(in_template - in_code) == [], f"messages.pot has stale texts: {HOW_TO_FIX}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_text_is_translated_with_the_same_placeholders(language: str) -> None:
    template = _ids(_read(TEMPLATE))
    catalog = _read(LOCALES_DIR / language / "LC_MESSAGES" / "messages.po", language)
    assert str(catalog.locale) == language
    assert not catalog.fuzzy, "the catalog header is marked fuzzy"
    entries = {str(message.id): message for message in catalog if message.id}
    problems: list[str] = []
    for msgid in sorted(template):
        message = entries.get(msgid)
        translated = message.string if message is not None else None
        if message is None or not isinstance(translated, str) or not translated.strip():
            problems.append(f"untranslated: {msgid!r}")
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        if _fields(translated) != _fields(msgid):
            problems.append(f"placeholders {sorted(_fields(translated))} instead of "
                            f"{sorted(_fields(msgid))}: {msgid!r} → {translated!r}")
        try:
            translated.format(**dict.fromkeys(_names(msgid), _Value()))
        except (ValueError, IndexError, KeyError) as error:
            problems.append(f"cannot be filled in ({error}): {translated!r}")
        if msgid.endswith(" ") != translated.endswith(" "):
            # "Results for " is followed by the query: its trailing space matters.
            problems.append(f"trailing space lost or added: {translated!r}")
    assert problems == [], f"{language}: {HOW_TO_FIX}\n" + "\n".join(problems)


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalog_has_no_texts_the_code_lost(language: str) -> None:
    template = _ids(_read(TEMPLATE))
    catalog = _read(LOCALES_DIR / language / "LC_MESSAGES" / "messages.po", language)
    assert sorted(_ids(catalog) - template) == []
    assert not catalog.obsolete, "obsolete entries: run `make i18n` (it drops them)"


def test_translator_uses_the_catalogs() -> None:
    assert Translator("fr")("Language: English") == "Langue : Français"
    assert Translator("pl")("Language: English") == "Język: Polski"
    assert Translator("en")("Language: English") == "Language: English"
    assert Translator("fr")("Hello, {name}!", name="Zoé") == "Bonjour, Zoé !"
    assert Translator("pl")("Promo code {code} applied.", code="WELCOME10") == (
        "Kod rabatowy WELCOME10 zastosowany.")
    # A text not (yet) in a catalog shows in English rather than failing.
    assert Translator("fr")("No such text {n}", n=1) == "No such text 1"
    assert Translator("de")("Hello!") == "Hello!"


@pytest.mark.parametrize(("money", "language", "shown"), [
    (Money("EUR", 1999), "en", "€19.99"),
    (Money("EUR", 1999), "fr", "19,99\u00a0€"),
    (Money("EUR", 1999), "pl", "19,99\u00a0€"),
    (Money("PLN", 1999), "pl", "19,99\u00a0zł"),
    (Money("USD", 123456), "en", "$1,234.56"),
    (Money("USD", 123456), "pl", "1\u00a0234,56\u00a0USD"),
    (Money("JPY", 500), "en", "¥500"),
    (Money("EUR", 0), "fr", "0,00\u00a0€"),
    (Money("XTR", 900), "fr", "900 ⭐"),
])
def test_format_money_per_locale(money: Money, language: str, shown: str) -> None:
    assert format_money(money, language) == shown
    assert Translator(language).money(money) == shown


@pytest.mark.parametrize(("code", "default", "picked"), [
    ("fr", "en", "fr"),
    ("FR", "en", "fr"),
    ("pl-PL", "en", "pl"),
    ("pl_PL", "en", "pl"),
    (" en-GB ", "fr", "en"),
    ("pt-br", "en", "en"),
    ("pt-br", "pl", "pl"),
    ("", "fr", "fr"),
    (None, "en", "en"),
    (None, "de", "en"),   # an unsupported default falls back to English
    ("xx", "xx", "en"),
])
def test_pick_language(code: str | None, default: str, picked: str) -> None:
    assert pick_language(code, default) == picked
