"""Plain objects describing orders and returns to callers (flows, staff bot, CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shop.money import Money
from shop.orders.states import OrderStatus


@dataclass(frozen=True, slots=True)
class OrderLineView:
    id: int
    variant_id: int | None
    sku: str
    title: str
    options: str
    unit_price: Money
    quantity: int
    line_total: Money
    digital: bool


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    kind: str
    from_status: str | None
    to_status: str | None
    actor: str
    note: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ShippingAddress:
    name: str
    street: str
    city: str
    postcode: str
    country: str
    phone: str | None


@dataclass(frozen=True, slots=True)
class OrderView:
    id: int
    number: int
    customer_id: int
    status: OrderStatus
    currency: str
    subtotal: Money
    discount: Money
    shipping_total: Money
    total: Money
    paid: Money
    refunded: Money
    promo_code: str | None
    digital_only: bool
    shipping_method: str | None
    address: ShippingAddress | None
    lines: tuple[OrderLineView, ...]
    expires_at: datetime | None
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    created_at: datetime
    paid_at: datetime | None
    delivered_at: datetime | None
    history: tuple[HistoryEntry, ...]
    # Telegram Stars received and refunded for this order (whole Stars, 0 when it was not
    # paid with Stars); `paid` and `refunded` give their worth in the order's currency.
    paid_stars: int = 0
    refunded_stars: int = 0

    @property
    def label(self) -> str:
        return f"#{self.number}"

    @property
    def pickup(self) -> bool:
        """Collected by the customer: physical goods with a shipping method and no address."""
        return not self.digital_only and self.address is None


@dataclass(frozen=True, slots=True)
class OrderSummary:
    id: int
    number: int
    customer_id: int
    status: OrderStatus
    total: Money
    item_count: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReturnLineView:
    order_line_id: int
    title: str
    options: str
    quantity: int
    unit_price: Money


@dataclass(frozen=True, slots=True)
class ReturnView:
    id: int
    order_id: int
    order_number: int
    customer_id: int
    status: str
    reason: str
    photo_ids: tuple[str, ...]
    staff_note: str
    lines: tuple[ReturnLineView, ...]
    value: Money  # what the returned lines cost
    refund_amount: Money
    created_at: datetime
