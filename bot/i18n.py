"""Texts for people in their language (gettext catalogs read with Babel) and prices per locale.

Catalogs live in `bot/locales/<lang>/LC_MESSAGES/messages.po` and are read as
they are, so there is no compile step to forget. Extract new texts with
`make i18n` (pybabel with the keyword `t`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from babel.core import Locale
from babel.messages.pofile import read_po
from babel.numbers import format_currency

from shop.money import Money, exponent

LOCALES_DIR = Path(__file__).with_name("locales")
LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français", "pl": "Polski"}
DEFAULT_LANGUAGE = "en"


def pick_language(code: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The supported language for a code such as Telegram's `language_code` (`pt-br` → default)."""
    if code:
        base = code.strip().lower().replace("_", "-").split("-")[0]
        if base in LANGUAGES:
            return base
    return default if default in LANGUAGES else DEFAULT_LANGUAGE


@cache
def _messages(language: str) -> dict[str, str]:
    path = LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    return {
        str(message.id): str(message.string)
        for message in catalog
        if message.id and isinstance(message.id, str) and message.string and not message.fuzzy
    }


@dataclass(frozen=True, slots=True)
class Translator:
    """`t("Hello, {name}", name=...)`: the text in this language, then filled in."""

    language: str

    def __call__(self, text: str, /, **values: Any) -> str:
        translated = _messages(self.language).get(text, text)
        return translated.format(**values) if values else translated

    def money(self, amount: Money) -> str:
        return format_money(amount, self.language)


def format_money(amount: Money, language: str) -> str:
    """`19,99 €` in French, `€19.99` in English; Telegram Stars as `900 ⭐`."""
    return _formatted(amount.minor, amount.currency, language)


# A cart screen shows a dozen or more prices, and Babel takes about 0.1 ms for each; a shop's
# prices are few, so their texts are remembered.
@lru_cache(maxsize=8192)
def _formatted(minor: int, currency: str, language: str) -> str:
    if currency == "XTR":
        return f"{minor} ⭐"
    value = Decimal(minor).scaleb(-exponent(currency))
    return format_currency(value, currency, locale=Locale.parse(language))
