"""Money as integer minor units plus an ISO 4217 currency code. Never floats."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from shop.errors import InputReason, InvalidMoney

# Active ISO 4217 codes with two decimal places unless listed below. XTR is
# Telegram Stars (whole units).
_ISO_CODES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
    KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
    MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT
    TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW
    ZWL XTR
    """.split()
)
_EXPONENTS = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF XTR".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}
_DECIMAL = re.compile(r"^\d+(\.\d+)?$")


def is_known_currency(code: str) -> bool:
    return code in _ISO_CODES


def exponent(currency: str) -> int:
    """Digits after the decimal point for a currency (2 for EUR, 0 for JPY, 3 for KWD)."""
    if currency not in _ISO_CODES:
        raise InvalidMoney(f"unknown currency {currency!r}", field="currency",
                           reason=InputReason.FORMAT, value=currency)
    return _EXPONENTS.get(currency, 2)


def parse_currency(raw: str) -> str:
    code = raw.strip().upper()
    if not is_known_currency(code):
        raise InvalidMoney(f"unknown currency {raw!r} (expected an ISO 4217 code such as EUR)",
                           field="currency", reason=InputReason.FORMAT, value=raw)
    return code


def to_minor(amount: str, currency: str) -> int:
    """Convert a decimal string in major units (`19.99`) to minor units, exactly.

    Thousands separators, currency signs, commas as decimal points and more
    decimals than the currency has are refused rather than guessed.
    """
    text = amount.strip()
    if not _DECIMAL.match(text):
        raise InvalidMoney(
            f"price {amount!r} is not a plain decimal number such as 19.99 "
            "(no currency sign, no comma)", field="price", reason=InputReason.FORMAT,
            value=amount
        )
    digits = exponent(currency)
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex already vetted it
        raise InvalidMoney(f"price {amount!r} is not a number", field="price",
                           reason=InputReason.FORMAT, value=amount) from None
    minor = value.scaleb(digits)
    if minor != minor.to_integral_value():
        raise InvalidMoney(
            f"price {amount!r} has more than {digits} decimal places for {currency}",
            field="price", reason=InputReason.FORMAT, value=amount
        )
    return int(minor)


def to_major_str(minor: int, currency: str) -> str:
    """The exact decimal string in major units (`1999`, EUR → `19.99`)."""
    digits = exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount in minor units of one currency."""

    currency: str
    minor: int

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.currency, self.minor + other.minor)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.currency, self.minor - other.minor)

    def times(self, quantity: int) -> Money:
        return Money(self.currency, self.minor * quantity)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidMoney(f"cannot mix {self.currency} and {other.currency}")

    def __str__(self) -> str:
        return f"{to_major_str(self.minor, self.currency)} {self.currency}"
