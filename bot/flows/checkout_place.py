"""A place the customer shared at the address step, read as far as it goes.

We do not geocode (no outside service, no guess from coordinates): a shared place fills only
what its own text says. WhatsApp sends a place's `name` and `address` when the customer picked
a place rather than a bare pin ("12 Rue de la Paix, 75002 Paris, France"); the street, the
postcode and city and the country are read from that text when they are clearly there, each
checked by the core's own rules, and the customer types only what is missing. The recipient's
name never comes from a place. The coordinates are kept with the saved address, for the
courier.
"""

from __future__ import annotations

import re

from bot.flows.countries import country_code
from shop.customers.service import validate_address
from shop.customers.types import AddressInput
from shop.errors import InvalidInput

PLACE_MAX = 300
# "75002 Paris", "00-624 Warszawa", "10115 Berlin": the postcode first.
_CODE_CITY = re.compile(r"^(?P<code>\d{2}-\d{3}|\d{4,5})\s+(?P<city>\D.*)$")
# "London SW1A 2AA", "Amsterdam 1012 AB"... and a US state with its ZIP ("CA 94043").
_CITY_CODE = re.compile(
    r"^(?P<city>\D.*?)\s+(?P<code>[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}|\d{4}\s?[A-Z]{2}"
    r"|\d{5}(?:-\d{4})?)$")
_STATE = re.compile(r"^[A-Z]{2}$")
_PLACEHOLDER = AddressInput(name="x", street="x", city="x", postcode="00000", country="FR")


def _valid(field: str, value: str) -> str | None:
    """The value as the core would save it, or None when the core refuses it."""
    try:
        clean = validate_address(AddressInput(**{
            **{f: getattr(_PLACEHOLDER, f) for f in ("name", "street", "city", "postcode",
                                                     "country")}, field: value}))
    except InvalidInput:
        return None
    found = getattr(clean, field)
    return found if isinstance(found, str) else None


def place_fields(address: str) -> dict[str, str]:
    """The address fields a place's text clearly holds: street, city, postcode, country."""
    parts = [p.strip() for p in re.split(r"[,\n]", address[:PLACE_MAX]) if p.strip()]
    found: dict[str, str] = {}
    if len(parts) > 1:
        country = _valid("country", country_code(parts[-1]))
        if country is not None:
            found["country"] = country
            parts.pop()
    for index in range(len(parts) - 1, -1, -1):
        part = parts[index]
        city, code = _city_and_code(part)
        if code is None:
            continue
        if city is not None and _STATE.match(city) and index > 0:
            city = parts[index - 1]  # "Mountain View, CA 94043": the city is before
            del parts[index - 1]
            index -= 1
        del parts[index]
        if (clean := _valid("postcode", code)) is not None:
            found["postcode"] = clean
        if city is not None and (clean := _valid("city", city)) is not None:
            found["city"] = clean
        break
    street = next((p for p in parts if any(c.isdigit() for c in p)), None)
    if street is not None and "postcode" in found and (
            clean := _valid("street", street)) is not None:
        found["street"] = clean  # a street alone, with no postcode, may be anything
    return found


def _city_and_code(part: str) -> tuple[str | None, str | None]:
    matched = _CODE_CITY.match(part) or _CITY_CODE.match(part)
    if matched is None:
        return None, None
    return matched["city"].strip(), matched["code"]


def place_text(name: str, address: str) -> str:
    """What to show of the place: its name and its address, as WhatsApp sent them."""
    parts = [" ".join(p.split()) for p in (name, address) if p and p.strip()]
    return " — ".join(parts)[:PLACE_MAX]
