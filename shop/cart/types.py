"""Plain typed objects the cart and promo code functions return (never ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shop.errors import PromoInvalid
from shop.money import Money, to_major_str

MAX_LINE_QUANTITY = 99  # per cart line; larger orders are a conversation with staff


class PromoKind(StrEnum):
    PERCENT = "percent"  # value: whole percent 1..100
    FIXED = "fixed"      # value: minor units of the promo's currency


class PromoReason(StrEnum):
    """Why a promo code does not apply; flows pick a translated text by it."""

    UNKNOWN = "unknown"
    INACTIVE = "inactive"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    CURRENCY = "currency"
    BELOW_MINIMUM = "below_minimum"
    USED_UP = "used_up"
    CUSTOMER_LIMIT = "customer_limit"


@dataclass(frozen=True, slots=True)
class PromoInfo:
    id: int
    code: str
    kind: str
    value: int
    currency: str | None
    min_total: int
    starts_at: datetime | None
    ends_at: datetime | None
    max_uses: int | None
    max_uses_per_customer: int | None
    used_count: int
    active: bool

    @property
    def label(self) -> str:
        """What the code gives, for people: `10% off` or `5.00 EUR off`."""
        if self.kind == PromoKind.PERCENT:
            return f"{self.value}% off"
        return f"{to_major_str(self.value, self.currency or 'EUR')} {self.currency} off"


@dataclass(frozen=True, slots=True)
class CartLine:
    variant_id: int
    product_id: int
    sku: str
    title: str
    options: str  # option values for people, `M / Black`; "" when the product has none
    unit_price: Money
    quantity: int
    line_total: Money
    weight_grams: int  # of one unit, like the order line's snapshot
    digital: bool
    # Units available for sale now, and what is wrong with the line if anything
    # ("only 2 left", "sold out", "no longer available", "priced in USD"): the
    # cart keeps such lines so the customer sees why checkout refuses.
    available: int
    issue: str | None
    image_url: str | None

    @property
    def ok(self) -> bool:
        return self.issue is None


@dataclass(frozen=True, slots=True)
class CartView:
    cart_id: int | None  # None until the customer first puts something in
    version: int
    currency: str
    lines: tuple[CartLine, ...]
    subtotal: Money
    discount: Money
    total: Money  # subtotal − discount, never below zero
    promo_code: str | None
    # Why the applied code gives nothing now (e.g. the total fell under its
    # minimum); the code stays applied and counts again once it fits.
    promo_problem: str | None
    weight_grams: int  # all units together
    digital_only: bool  # every line digital (no shipping needed); False when empty
    item_count: int  # units, not lines
    # The refusal behind `promo_problem`, with its reason and params for translated texts.
    promo_error: PromoInvalid | None = field(default=None, compare=False)

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def has_issues(self) -> bool:
        """Some line cannot be bought as it is; checkout must refuse until it is fixed."""
        return any(not line.ok for line in self.lines)

    def line(self, variant_id: int) -> CartLine | None:
        return next((line for line in self.lines if line.variant_id == variant_id), None)
