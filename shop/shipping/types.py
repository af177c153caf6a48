"""Plain typed objects for shipping methods and the quotes computed from them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shop.money import Money


class ShippingKind(StrEnum):
    PICKUP = "pickup"              # collected at the shop: always free
    FLAT = "flat"                  # one price whatever the parcel
    WEIGHT_BANDS = "weight_bands"  # priced by the parcel's weight; too heavy: not offered


@dataclass(frozen=True, slots=True)
class WeightBand:
    max_grams: int  # inclusive: a parcel of exactly this weight is in the band
    price: Money


@dataclass(frozen=True, slots=True)
class ShippingMethodInfo:
    id: int
    code: str
    name: str
    kind: str
    currency: str
    price: Money  # the flat price; 0 for pickup and weight bands
    free_over: Money | None  # free when the goods total reaches this
    bands: tuple[WeightBand, ...]
    countries: tuple[str, ...]  # ISO alpha-2 codes, or ("*",) for everywhere
    active: bool
    position: int
    # False: collected by the customer (pickup), so no delivery address is asked for.
    needs_address: bool = True

    def delivers_to(self, country: str) -> bool:
        return "*" in self.countries or country in self.countries

    @property
    def max_grams(self) -> int | None:
        """The heaviest parcel this method takes; None when there is no limit."""
        return self.bands[-1].max_grams if self.bands else None


@dataclass(frozen=True, slots=True)
class ShippingQuote:
    method_id: int
    code: str
    name: str
    kind: str
    price: Money
    free: bool  # costs nothing for this order (pickup, or free over an amount)
    needs_address: bool = True  # False: collected by the customer, checkout asks for none


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """A shipping method to create (see `shop.shipping.admin.install_methods`)."""

    code: str
    name: str
    kind: str
    currency: str
    price: int = 0
    free_over: int | None = None
    bands: tuple[tuple[int, int], ...] | None = None  # (max_grams, price) ascending
    countries: tuple[str, ...] = ("*",)
    position: int = 0
    needs_address: bool | None = None  # None: all but the pickup kind need one

