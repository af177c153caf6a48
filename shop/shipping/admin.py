"""Configuring shipping methods: create, update, list, and the demo set.

Every function works inside a session the caller owns. Amounts are minor units
of the method's currency.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shop.customers.types import is_country_code
from shop.errors import InputReason, InvalidInput, NotFound
from shop.money import exponent, parse_currency
from shop.shipping.models import ShippingMethod
from shop.shipping.rates import method_info
from shop.shipping.types import MethodSpec, ShippingKind, ShippingMethodInfo

_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,39}$")


class _Unset(Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET


@dataclass(frozen=True, slots=True)
class _Fields:
    name: str
    kind: str
    currency: str
    price: int
    free_over: int | None
    bands: list[list[int]] | None
    countries: list[str]
    position: int
    needs_address: bool


def _amount(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{field} must be a whole number of minor units, 0 or more",
                           field=field, reason=InputReason.OUT_OF_RANGE, minimum=0)
    return value


def _code(raw: str) -> str:
    code = raw.strip().lower()
    if not _CODE.match(code):
        raise InvalidInput(
            f"{raw.strip()!r} is not a usable method code: 2 to 40 letters a–z, digits, - or _",
            field="code", reason=InputReason.FORMAT, value=raw.strip()
        )
    return code


def _name(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > 120:
        raise InvalidInput("a shipping method needs a name of 1 to 120 characters",
                           field="name", reason=InputReason.TOO_LONG if name else
                           InputReason.REQUIRED, max_length=120)
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise InvalidInput("a shipping method name must be one line of text", field="name",
                           reason=InputReason.ONE_LINE)
    return name


def _bands(kind: ShippingKind, bands: Sequence[Sequence[int]] | None) -> list[list[int]] | None:
    if kind is not ShippingKind.WEIGHT_BANDS:
        if bands:
            raise InvalidInput(f"only weight-band methods have bands, not {kind.value}",
                               field="bands", reason=InputReason.FORMAT)
        return None
    if not bands:
        raise InvalidInput("a weight-band method needs at least one band [max_grams, price]",
                           field="bands", reason=InputReason.REQUIRED)
    clean: list[list[int]] = []
    for band in bands:
        if isinstance(band, str | bytes) or len(band) != 2:
            raise InvalidInput(f"a band is a pair [max_grams, price], not {band!r}",
                               field="bands", reason=InputReason.FORMAT)
        grams, price = band
        if isinstance(grams, bool) or not isinstance(grams, int) or grams < 1:
            raise InvalidInput(f"a band's max_grams must be a whole number of 1 or more, "
                               f"not {grams!r}", field="bands",
                               reason=InputReason.OUT_OF_RANGE, minimum=1)
        price = _amount(price, "a band's price")
        if clean and grams <= clean[-1][0]:
            raise InvalidInput("bands must be in ascending order of max_grams, each heavier "
                               f"than the one before ({grams} after {clean[-1][0]})",
                               field="bands", reason=InputReason.FORMAT)
        clean.append([grams, price])
    return clean


def _countries(countries: Iterable[str]) -> list[str]:
    items = [countries] if isinstance(countries, str) else list(countries)
    codes = list(dict.fromkeys(c.strip().upper() for c in items))
    if not codes:
        raise InvalidInput('a shipping method needs countries: ISO codes such as FR, or "*"',
                           field="countries", reason=InputReason.REQUIRED)
    if "*" in codes:
        if len(codes) > 1:
            raise InvalidInput('"*" (everywhere) cannot be combined with country codes',
                               field="countries", reason=InputReason.FORMAT)
        return codes
    unknown = [c for c in codes if not is_country_code(c)]
    if unknown:
        raise InvalidInput(f"not ISO country codes: {', '.join(unknown)}", field="countries",
                           reason=InputReason.FORMAT, value=", ".join(unknown))
    return codes


def _needs_address(kind: ShippingKind, value: bool | None) -> bool:
    """None: every kind but pickup needs an address. A pickup never does; another kind may
    be collected too (a priced collection point)."""
    if value is None:
        return kind is not ShippingKind.PICKUP
    if kind is ShippingKind.PICKUP and value:
        raise InvalidInput("a pickup method needs no delivery address", field="needs_address",
                           reason=InputReason.FORMAT)
    return bool(value)


def _validate(name: str, kind: str, currency: str, price: int, free_over: int | None,
              bands: Sequence[Sequence[int]] | None, countries: Iterable[str], position: int,
              needs_address: bool | None = None) -> _Fields:
    try:
        method_kind = ShippingKind(kind)
    except ValueError:
        raise InvalidInput(
            f"unknown shipping kind {kind!r} (expected pickup, flat or weight_bands)",
            field="kind", reason=InputReason.FORMAT, value=kind
        ) from None
    clean_price = _amount(price, "the price")
    if method_kind is not ShippingKind.FLAT and clean_price:
        raise InvalidInput(f"a {method_kind.value} method has no flat price (set 0)",
                           field="price", reason=InputReason.OUT_OF_RANGE, maximum=0)
    if isinstance(position, bool) or not isinstance(position, int):
        raise InvalidInput("a position is a whole number", field="position",
                           reason=InputReason.FORMAT)
    return _Fields(
        name=_name(name),
        kind=method_kind.value,
        currency=parse_currency(currency),
        price=clean_price,
        free_over=None if free_over is None else _amount(free_over, "free_over"),
        bands=_bands(method_kind, bands),
        countries=_countries(countries),
        position=position,
        needs_address=_needs_address(method_kind, needs_address),
    )


async def create_method(
    session: AsyncSession,
    *,
    code: str,
    name: str,
    kind: str,
    currency: str,
    price: int = 0,
    free_over: int | None = None,
    bands: Sequence[Sequence[int]] | None = None,
    countries: Iterable[str] = ("*",),
    position: int = 0,
    needs_address: bool | None = None,
) -> ShippingMethodInfo:
    """Create a shipping method after validating it; InvalidInput names what is wrong.

    `bands` are `(max_grams, price)` pairs in strictly ascending weight;
    `countries` ISO alpha-2 codes, or `("*",)` for everywhere; `needs_address` False for a
    method the customer collects (None: only the pickup kind needs none).
    """
    clean_code = _code(code)
    fields = _validate(name, kind, currency, price, free_over, bands, countries, position,
                       needs_address)
    row = ShippingMethod(code=clean_code, name=fields.name, kind=fields.kind,
                         currency=fields.currency, price=fields.price,
                         free_over=fields.free_over, bands=fields.bands,
                         countries=fields.countries, position=fields.position,
                         needs_address=fields.needs_address, active=True)
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise InvalidInput(f"a shipping method with code {clean_code} already exists",
                           field="code", reason=InputReason.DUPLICATE, value=clean_code) from None
    return method_info(row)


async def update_method(
    session: AsyncSession,
    method_id: int,
    *,
    name: str | _Unset = UNSET,
    kind: str | _Unset = UNSET,
    currency: str | _Unset = UNSET,
    price: int | _Unset = UNSET,
    free_over: int | _Unset | None = UNSET,
    bands: Sequence[Sequence[int]] | _Unset | None = UNSET,
    countries: Iterable[str] | _Unset = UNSET,
    position: int | _Unset = UNSET,
    active: bool | _Unset = UNSET,
    needs_address: bool | _Unset = UNSET,
) -> ShippingMethodInfo:
    """Change the fields given; the method as a whole is validated again (code is fixed).

    Orders keep the method's name and price they were placed with, so changes
    only affect quotes from now on.
    """
    row = await session.get(ShippingMethod, method_id)
    if row is None:
        raise NotFound(f"shipping method {method_id} does not exist", what="shipping_method",
                       ref=method_id)
    fields = _validate(
        row.name if isinstance(name, _Unset) else name,
        row.kind if isinstance(kind, _Unset) else kind,
        row.currency if isinstance(currency, _Unset) else currency,
        row.price if isinstance(price, _Unset) else price,
        row.free_over if isinstance(free_over, _Unset) else free_over,
        row.bands if isinstance(bands, _Unset) else bands,
        row.countries if isinstance(countries, _Unset) else countries,
        row.position if isinstance(position, _Unset) else position,
        # A new kind without a say on the address takes its kind's usual answer.
        (None if not isinstance(kind, _Unset) and kind != row.kind else row.needs_address)
        if isinstance(needs_address, _Unset) else needs_address,
    )
    row.name, row.kind, row.currency = fields.name, fields.kind, fields.currency
    row.price, row.free_over, row.bands = fields.price, fields.free_over, fields.bands
    row.countries, row.position = fields.countries, fields.position
    row.needs_address = fields.needs_address
    if not isinstance(active, _Unset):
        row.active = bool(active)
    await session.flush()
    return method_info(row)


async def list_methods(session: AsyncSession, *, include_inactive: bool = True
                       ) -> list[ShippingMethodInfo]:
    """The configured methods in display order."""
    query = select(ShippingMethod).order_by(ShippingMethod.position, ShippingMethod.id)
    if not include_inactive:
        query = query.where(ShippingMethod.active.is_(True))
    return [method_info(row) for row in (await session.execute(query)).scalars()]


def default_methods(currency: str) -> list[MethodSpec]:
    """Demo methods: pickup at the shop (no address needed), a courier free over 50, post by
    weight.

    Amounts are whole major units scaled to the currency (5 → 5.00 EUR, 5 JPY).
    """
    code = parse_currency(currency)
    unit = 10 ** exponent(code)
    return [
        MethodSpec("pickup", "Pickup at the shop", ShippingKind.PICKUP.value, code,
                   countries=("*",), position=0, needs_address=False),
        MethodSpec("courier", "Courier (1–2 days)", ShippingKind.FLAT.value, code,
                   price=6 * unit, free_over=50 * unit, position=1),
        MethodSpec("post", "Post (3–5 days)", ShippingKind.WEIGHT_BANDS.value, code,
                   bands=((500, 3 * unit), (2_000, 7 * unit), (10_000, 13 * unit)),
                   position=2),
    ]


async def install_methods(session: AsyncSession, specs: Iterable[MethodSpec]
                          ) -> list[ShippingMethodInfo]:
    """Create the methods whose codes do not exist yet (safe to run again); returns those made."""
    existing = set((await session.execute(select(ShippingMethod.code))).scalars())
    made: list[ShippingMethodInfo] = []
    for spec in specs:
        if spec.code in existing:
            continue
        made.append(await create_method(
            session, code=spec.code, name=spec.name, kind=spec.kind, currency=spec.currency,
            price=spec.price, free_over=spec.free_over, bands=spec.bands,
            countries=spec.countries, position=spec.position, needs_address=spec.needs_address,
        ))
    return made
