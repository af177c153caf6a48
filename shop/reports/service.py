"""Sales reports for staff (revenue, orders, top products, funnel, returns) over whole days of
the shop's time zone, and the claim that makes the daily summary go out once a day.

Figures come from the orders, payments, refunds and returns tables as they are; the only
things recorded for reports alone are the funnel's first two steps (shop/reports/funnel.py).
Definitions are on `SalesReport` (shop/reports/types.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from shop.auth import Actor, Permission, require
from shop.db.base import utcnow
from shop.money import Money
from shop.orders.models import Order, OrderLine, Return
from shop.payments.models import Payment, Refund
from shop.reports.funnel import FunnelRecorder, FunnelStep
from shop.reports.models import FunnelEvent
from shop.reports.types import DayFigures, Funnel, Period, SalesReport, TopProduct

TOP_PRODUCTS = 5
_DAYS = {Period.TODAY: (0, 1), Period.YESTERDAY: (1, 1), Period.WEEK: (6, 7),
         Period.MONTH: (29, 30)}  # (days back to the first day, number of days)


def _div_half_up(numerator: int, denominator: int) -> int:
    """numerator ÷ denominator rounded half up, in integers (both not negative)."""
    return (2 * numerator + denominator) // (2 * denominator)


def period_days(period: Period, today: date) -> tuple[date, date]:
    """The first and last local day (inclusive) of `period` seen from `today`."""
    back, count = _DAYS[period]
    first = today - timedelta(days=back)
    return first, first + timedelta(days=count - 1)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local day starts (DST-aware: a day may last 23 or 25 hours)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


@dataclass
class _Products:
    """Top products, accumulated line by line (the newest title wins after a rename)."""

    units: dict[object, int] = field(default_factory=dict)
    revenue: dict[object, int] = field(default_factory=dict)
    titles: dict[object, tuple[datetime, int, str]] = field(default_factory=dict)
    ids: dict[object, int | None] = field(default_factory=dict)

    def add(self, product_id: int | None, title: str, quantity: int, unit_price: int,
            paid_at: datetime, line_id: int) -> None:
        key: object = product_id if product_id is not None else ("title", title)
        self.units[key] = self.units.get(key, 0) + quantity
        self.revenue[key] = self.revenue.get(key, 0) + unit_price * quantity
        self.ids[key] = product_id
        if key not in self.titles or self.titles[key][:2] < (paid_at, line_id):
            self.titles[key] = (paid_at, line_id, title)

    def top(self, currency: str, limit: int) -> tuple[TopProduct, ...]:
        ranked = sorted(self.units, key=lambda k: (-self.revenue[k], -self.units[k],
                                                    self.titles[k][2]))
        return tuple(TopProduct(self.ids[k], self.titles[k][2], self.units[k],
                                Money(currency, self.revenue[k])) for k in ranked[:limit])


class ReportService:
    """Sales reports for staff with the reports permission (owner, manager); the daily
    summary's schedule is in shop.reports.daily."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, timezone: str,
                 currency: str, clock: Callable[[], datetime] = utcnow,
                 long_reads: async_sessionmaker[AsyncSession] | None = None) -> None:
        self._sessions = sessions
        # A report's queries scan weeks of rows: off the event loop on SQLite (see
        # shop.db.engine.create_long_read_engine).
        self._long_reads = long_reads or sessions
        self._zone = ZoneInfo(timezone)
        self._timezone = timezone
        self._currency = currency
        self._clock = clock
        self.funnel = FunnelRecorder(sessions, clock=clock)

    def searched(self, customer_id: int) -> None:
        """Note a customer's search for the funnel (written in batches, see FunnelRecorder)."""
        self.funnel.searched(customer_id)

    async def report(self, actor: Actor, period: Period | str, *,
                     now: datetime | None = None) -> SalesReport:
        """The sales report for `period` (today, yesterday, week, month) in whole local
        days of the shop's time zone, as of `now` (default: the shop's clock).

        Raises NotAllowed without the reports permission, InvalidInput for an unknown
        period.
        """
        require(actor, Permission.REPORTS)
        chosen = Period.parse(period)
        await self.funnel.flush()  # this process's searches so far; other workers' within 1 s
        now = now or self._clock()
        first, last = period_days(chosen, now.astimezone(self._zone).date())
        start = local_midnight(first, self._zone)
        end = local_midnight(last + timedelta(days=1), self._zone)
        zero = Money(self._currency, 0)
        async with self._long_reads() as session:
            sales = await self._sales(session, start, end, first, last)
            refunded = await self._refunded(session, start, end)
            funnel = await self._funnel(session, start, end)
            returns = int(await session.scalar(
                select(func.count(func.distinct(Return.order_id))).where(
                    Return.created_at >= start, Return.created_at < end)) or 0)
        revenue, orders, top, days = sales
        return SalesReport(
            period=chosen, timezone=self._timezone, currency=self._currency,
            first_day=first, last_day=last, start=start, end=end, generated_at=now,
            revenue=Money(self._currency, revenue),
            refunded=Money(self._currency, refunded),
            net=Money(self._currency, revenue - refunded),
            orders_paid=orders,
            average_order_value=(Money(self._currency, _div_half_up(revenue, orders))
                                 if orders else zero),
            top_products=top, funnel=funnel, returns_requested=returns,
            return_rate_bp=_div_half_up(returns * 10_000, orders) if orders else None,
            days=days,
        )

    def _paid_in(self, start: datetime, end: datetime) -> ColumnElement[bool]:
        return ((Order.paid_at >= start) & (Order.paid_at < end)
                & (Order.currency == self._currency))

    async def _sales(self, session: AsyncSession, start: datetime, end: datetime,
                     first: date, last: date
                     ) -> tuple[int, int, tuple[TopProduct, ...], tuple[DayFigures, ...]]:
        """Gross revenue, orders paid, top products and the per-day series."""
        paid = (await session.execute(
            select(Order.total, Order.paid_at).where(self._paid_in(start, end)))).tuples().all()
        by_day = {first + timedelta(days=i): [0, 0] for i in range((last - first).days + 1)}
        for total, paid_at in paid:
            assert paid_at is not None  # the query asked for paid orders
            figures = by_day[paid_at.astimezone(self._zone).date()]
            figures[0] += total
            figures[1] += 1
        products = _Products()
        lines = await session.execute(
            select(OrderLine.product_id, OrderLine.title, OrderLine.quantity,
                   OrderLine.unit_price, Order.paid_at, OrderLine.id)
            .join(Order, Order.id == OrderLine.order_id).where(self._paid_in(start, end)))
        for product_id, title, quantity, unit_price, paid_at, line_id in lines.tuples():
            assert paid_at is not None
            products.add(product_id, title, quantity, unit_price, paid_at, line_id)
        days = tuple(DayFigures(day, Money(self._currency, revenue), count)
                     for day, (revenue, count) in sorted(by_day.items()))
        return (sum(total for total, _ in paid), len(paid),
                products.top(self._currency, TOP_PRODUCTS), days)

    async def _refunded(self, session: AsyncSession, start: datetime, end: datetime) -> int:
        """Refunds issued in the period, in minor units of the shop currency.

        Only refunds of the payment that paid an order reverse revenue. Recording the
        payment that pays an order stamps the order's paid_at and the payment's created_at
        with one instant; payments recorded later for the same order (a second invoice paid)
        are refunded as extras and were never revenue, so the paying payment is the first
        one stamped with paid_at. Money paid for an order that was never paid (too late,
        stock gone) has no paid_at and is left out the same way.
        """
        other = aliased(Payment)
        paying = (select(func.min(other.id))
                  .where(other.order_id == Order.id, other.created_at == Order.paid_at)
                  .scalar_subquery())
        rows = await session.execute(
            select(Refund.amount, Refund.currency, Payment.amount, Order.total)
            .join(Payment, Payment.id == Refund.payment_id)
            .join(Order, Order.id == Refund.order_id)
            .where(Refund.created_at >= start, Refund.created_at < end,
                   Refund.status != "failed", Order.currency == self._currency,
                   Payment.id == paying))
        total = 0
        for amount, currency, paid, order_total in rows.tuples():
            # A payment in Stars (or any currency other than the order's) paid the whole
            # order total: its refund is worth the same share of that total.
            total += (amount if currency == self._currency
                      else _div_half_up(order_total * amount, paid))
        return total

    async def _funnel(self, session: AsyncSession, start: datetime, end: datetime) -> Funnel:
        steps = {kind: (int(count), int(people)) for kind, count, people in (
            await session.execute(
                select(FunnelEvent.kind, func.count(),
                       func.count(func.distinct(FunnelEvent.customer_id)))
                .where(FunnelEvent.at >= start, FunnelEvent.at < end)
                .group_by(FunnelEvent.kind))).tuples()}
        checkouts, checked_out = (await session.execute(
            select(func.count(), func.count(func.distinct(Order.customer_id)))
            .where(Order.created_at >= start, Order.created_at < end))).tuples().one()
        paid_orders, paid = (await session.execute(
            select(func.count(), func.count(func.distinct(Order.customer_id)))
            .where(Order.paid_at >= start, Order.paid_at < end))).tuples().one()
        searches, searched = steps.get(FunnelStep.SEARCH, (0, 0))
        cart_adds, carted = steps.get(FunnelStep.CART, (0, 0))
        return Funnel(searched=searched, added_to_cart=carted, checked_out=int(checked_out),
                      paid=int(paid), searches=searches, cart_adds=cart_adds,
                      checkouts=int(checkouts), paid_orders=int(paid_orders))
