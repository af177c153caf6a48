"""What a sales report says, as plain frozen values: no ORM rows, money in minor units."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from shop.errors import InvalidInput
from shop.money import Money


class Period(StrEnum):
    """Whole local days of the shop's time zone, ending today (or yesterday)."""

    TODAY = "today"
    YESTERDAY = "yesterday"
    WEEK = "week"    # the last 7 days, today included
    MONTH = "month"  # the last 30 days, today included

    @classmethod
    def parse(cls, value: Period | str) -> Period:
        """A Period from its name (`/report week`); InvalidInput for anything else."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            names = ", ".join(p.value for p in cls)
            raise InvalidInput(f"unknown report period {value!r} (one of {names})") from None


@dataclass(frozen=True, slots=True)
class TopProduct:
    """A product's units and line revenue (unit price × quantity, before order discounts
    and shipping) over the paid orders of the period."""

    product_id: int | None
    title: str
    units: int
    revenue: Money


@dataclass(frozen=True, slots=True)
class Funnel:
    """Distinct customers who took each step in the period, and the raw counts.

    searched / added_to_cart come from recorded funnel steps; checked_out is customers
    who created an order (checkout), paid those with an order paid in the period.
    """

    searched: int
    added_to_cart: int
    checked_out: int
    paid: int
    searches: int     # search steps (a customer searching three times counts three)
    cart_adds: int    # "add to cart" actions
    checkouts: int    # orders created
    paid_orders: int  # orders paid (any currency)

    def steps(self) -> tuple[tuple[str, int], ...]:
        """(step, distinct customers) from the top of the funnel down."""
        return (("searched", self.searched), ("added_to_cart", self.added_to_cart),
                ("checked_out", self.checked_out), ("paid", self.paid))


@dataclass(frozen=True, slots=True)
class DayFigures:
    """One local day of the period: gross revenue and orders paid that day."""

    day: date
    revenue: Money
    orders: int


@dataclass(frozen=True, slots=True)
class SalesReport:
    """Sales over whole local days [first_day, last_day] = [start, end) in UTC.

    Money is in the shop currency, from the orders (an order paid in Telegram Stars counts
    its total in the shop currency, which is what the Stars price was computed from):
    - revenue: gross, the totals of orders paid in the period (shipping included, after
      discounts), whatever happened to them later;
    - refunded: refunds issued in the period (not failed) of money that paid an order,
      whenever that order was paid; a Stars refund counts as its share of the order total;
    - net = revenue − refunded (may be negative on a quiet day after a big refund);
    - average_order_value = revenue ÷ orders_paid, rounded half up to a minor unit (0
      when nothing was paid).
    return_rate_bp: orders with a return requested in the period per order paid in the
    period, in basis points (1/100 of a percent, rounded half up; may exceed 10 000 in a
    short period), None when no order was paid.
    """

    period: Period
    timezone: str
    currency: str
    first_day: date
    last_day: date
    start: datetime
    end: datetime
    generated_at: datetime
    revenue: Money
    refunded: Money
    net: Money
    orders_paid: int
    average_order_value: Money
    top_products: tuple[TopProduct, ...]
    funnel: Funnel
    returns_requested: int
    return_rate_bp: int | None
    days: tuple[DayFigures, ...]

    @property
    def label(self) -> str:
        """`2026-11-23`, or `2026-11-17 – 2026-11-23` for several days."""
        if self.first_day == self.last_day:
            return self.first_day.isoformat()
        return f"{self.first_day.isoformat()} – {self.last_day.isoformat()}"
