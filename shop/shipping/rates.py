"""Shipping rates: which methods deliver a parcel to a country, and at what price.

Prices by kind: pickup costs nothing; flat costs its price; weight bands cost
the first band whose `max_grams` is at least the parcel's weight (a parcel
heavier than the last band is not offered). A method with `free_over` costs
nothing once the goods total (after discount) reaches it. A method priced in
another currency than the goods is not offered.

A digital-only cart needs no shipping at all: the checkout skips this module
for it rather than asking for a zero-weight quote. Without a country (no
address yet) only the methods that need no address are offered: pickup.

Both functions work inside a session the caller owns.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shop.customers.types import parse_country
from shop.errors import InputReason, InvalidInput, ShippingUnavailable
from shop.money import Money
from shop.shipping.models import ShippingMethod
from shop.shipping.types import ShippingKind, ShippingMethodInfo, ShippingQuote, WeightBand


def method_info(row: ShippingMethod) -> ShippingMethodInfo:
    return ShippingMethodInfo(
        id=row.id,
        code=row.code,
        name=row.name,
        kind=row.kind,
        currency=row.currency,
        price=Money(row.currency, row.price),
        free_over=Money(row.currency, row.free_over) if row.free_over is not None else None,
        bands=tuple(WeightBand(int(grams), Money(row.currency, int(price)))
                    for grams, price in row.bands or ()),
        countries=tuple(row.countries),
        active=row.active,
        position=row.position,
        needs_address=row.needs_address,
    )


def _kg(grams: int) -> str:
    whole, rest = divmod(grams, 1000)
    return f"{whole}.{rest:03d}".rstrip("0").rstrip(".") + " kg"


def price_for(method: ShippingMethodInfo, *, country: str | None, weight_grams: int,
              goods_total: Money) -> ShippingQuote:
    """The quote of one method for this parcel, or ShippingUnavailable saying why (no I/O).

    `country` None: there is no delivery address, which only a pickup method accepts.
    """
    name = method.name
    if not method.active:
        raise ShippingUnavailable(f"{name} is no longer offered", reason="inactive",
                                  method=name)
    if country is None:
        if method.needs_address:
            raise ShippingUnavailable(f"{name} needs a delivery address",
                                      reason="needs_address", method=name)
    elif not method.delivers_to(country):
        raise ShippingUnavailable(f"{name} does not deliver to {country}", reason="country",
                                  method=name, country=country)
    if method.currency != goods_total.currency:
        raise ShippingUnavailable(
            f"{name} is priced in {method.currency}, not {goods_total.currency}",
            reason="currency", method=name, currency=method.currency,
        )
    if method.kind == ShippingKind.PICKUP:
        price = 0
    elif method.kind == ShippingKind.FLAT:
        price = method.price.minor
    else:
        band = next((b for b in method.bands if weight_grams <= b.max_grams), None)
        if band is None:
            limit = method.max_grams or 0
            raise ShippingUnavailable(
                f"{method.name} takes parcels up to {_kg(limit)}; this one weighs "
                f"{_kg(weight_grams)}", reason="too_heavy", method=method.name,
                max_grams=limit, weight_grams=weight_grams,
            )
        price = band.price.minor
    if method.free_over is not None and goods_total.minor >= method.free_over.minor:
        price = 0
    return ShippingQuote(method.id, method.code, method.name, method.kind,
                         Money(method.currency, price), free=price == 0,
                         needs_address=method.needs_address)


def _check_weight(weight_grams: int) -> None:
    if isinstance(weight_grams, bool) or not isinstance(weight_grams, int) or weight_grams < 0:
        raise InvalidInput("a parcel weight is a whole number of grams, 0 or more",
                           field="weight_grams", reason=InputReason.OUT_OF_RANGE, minimum=0)


async def shipping_quotes(session: AsyncSession, *, country: str | None, weight_grams: int,
                          goods_total: Money) -> list[ShippingQuote]:
    """Every active method that can take this parcel to the country, in display order.

    `country` is an ISO alpha-2 code (InvalidInput otherwise); an empty list
    means nothing delivers there. `country` None lists the methods that need no
    address (pickup).
    """
    code = None if country is None else parse_country(country)
    _check_weight(weight_grams)
    rows = (
        await session.execute(
            select(ShippingMethod)
            .where(ShippingMethod.active.is_(True))
            .order_by(ShippingMethod.position, ShippingMethod.id)
        )
    ).scalars()
    quotes: list[ShippingQuote] = []
    for row in rows:
        try:
            quotes.append(price_for(method_info(row), country=code, weight_grams=weight_grams,
                                    goods_total=goods_total))
        except ShippingUnavailable:
            continue
    return quotes


async def quote(session: AsyncSession, method_id: int, *, country: str | None,
                weight_grams: int, goods_total: Money) -> ShippingQuote:
    """The price of the chosen method, or ShippingUnavailable with the reason.

    Reasons: the method does not exist or is no longer offered, does not
    deliver to the country, needs an address and `country` is None, is priced
    in another currency, or the parcel is too heavy for its bands.
    """
    code = None if country is None else parse_country(country)
    _check_weight(weight_grams)
    row = await session.get(ShippingMethod, method_id)
    if row is None:
        raise ShippingUnavailable(f"shipping method {method_id} does not exist",
                                  reason="unknown", method_id=method_id)
    return price_for(method_info(row), country=code, weight_grams=weight_grams,
                     goods_total=goods_total)
