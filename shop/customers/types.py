"""Plain typed objects the customer service takes and returns, and the country list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shop.errors import InputReason, InvalidInput


class Channel(StrEnum):
    """Where a customer talks to us; with the channel's own user id it names one customer."""

    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    WEB = "web"
    TERMINAL = "terminal"


# ISO 3166-1 alpha-2, the 249 officially assigned codes.
COUNTRY_CODES = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
    """.split()
)


def is_country_code(code: str) -> bool:
    """True for an upper-case ISO 3166-1 alpha-2 code."""
    return code in COUNTRY_CODES


def parse_country(raw: str) -> str:
    """The upper-cased ISO 3166-1 alpha-2 code, or InvalidInput naming what was given."""
    code = raw.strip().upper()
    if not is_country_code(code):
        raise InvalidInput(
            f"{raw.strip()!r} is not a country code; use the two-letter ISO code such as "
            "FR, DE or PL", field="country", reason=InputReason.FORMAT, value=raw.strip()
        )
    return code


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    id: int
    channel: str
    external_id: str
    name: str
    phone: str | None
    email: str | None
    language: str
    marketing_consent: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AddressInput:
    """A delivery address as typed by the customer; validated by the service."""

    name: str
    street: str
    city: str
    postcode: str
    country: str
    phone: str | None = None
    # Where the customer said they are (a place shared in the chat), for the courier.
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class AddressInfo:
    id: int
    customer_id: int
    name: str
    street: str
    city: str
    postcode: str
    country: str
    phone: str | None
    last_used_at: datetime
    latitude: float | None = None
    longitude: float | None = None

    @property
    def one_line(self) -> str:
        """`Ada Lovelace, 1 Rue X, 75001 Paris, FR` for a button or a summary."""
        return f"{self.name}, {self.street}, {self.postcode} {self.city}, {self.country}"
