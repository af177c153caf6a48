from __future__ import annotations

import pytest

from shop.errors import InvalidMoney
from shop.money import Money, exponent, parse_currency, to_major_str, to_minor


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("19.99", "EUR", 1999), ("0.10", "EUR", 10), ("7", "EUR", 700), ("1500", "JPY", 1500),
     ("1.234", "KWD", 1234), ("0.1", "USD", 10), ("100", "XTR", 100),
     ("12345678901.23", "EUR", 1234567890123)],
)
def test_exact_conversion(text: str, currency: str, minor: int) -> None:
    assert to_minor(text, currency) == minor


@pytest.mark.parametrize(
    "text", ["19,99€", "19,99", "€19.99", "-1.00", "1e3", "", "abc", "1.999", "1 000.00", "NaN"]
)
def test_refused_prices(text: str) -> None:
    with pytest.raises(InvalidMoney):
        to_minor(text, "EUR")


def test_jpy_has_no_decimals() -> None:
    with pytest.raises(InvalidMoney, match="more than 0 decimal places for JPY"):
        to_minor("10.50", "JPY")


def test_round_trip_strings() -> None:
    for currency, minor in [("EUR", 1999), ("EUR", 5), ("JPY", 1500), ("KWD", 1), ("EUR", 0)]:
        assert to_minor(to_major_str(minor, currency), currency) == minor
    assert to_major_str(5, "EUR") == "0.05"
    assert to_major_str(-250, "EUR") == "-2.50"


def test_currencies() -> None:
    assert parse_currency(" eur ") == "EUR"
    assert (exponent("EUR"), exponent("JPY"), exponent("BHD"), exponent("XTR")) == (2, 0, 3, 0)
    with pytest.raises(InvalidMoney, match="unknown currency"):
        parse_currency("EURO")


def test_money_arithmetic_refuses_mixed_currencies() -> None:
    assert Money("EUR", 100) + Money("EUR", 250) == Money("EUR", 350)
    assert Money("EUR", 199).times(3) == Money("EUR", 597)
    assert str(Money("EUR", 1999)) == "19.99 EUR"
    with pytest.raises(InvalidMoney):
        Money("EUR", 1) + Money("USD", 1)
