"""Whole-shop running totals for monitoring (`/metrics`): orders by status, payments by
provider and currency, and webhook updates parked until handled. Aggregate queries, read-only,
cheap enough for every scrape; on SQLite they run off the event loop (`Shop.long_reads`), as
they scan every order and payment."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.messaging.models import ParkedUpdate
from shop.orders.models import Order
from shop.payments.models import Payment


@dataclass(frozen=True, slots=True)
class PaymentTotals:
    """Payments recorded for one provider in one currency; amounts in minor units."""

    provider: str
    currency: str
    count: int
    amount: int
    refunded: int


@dataclass(frozen=True, slots=True)
class ShopCounts:
    orders_by_status: dict[str, int]
    payments: tuple[PaymentTotals, ...]
    # Answered before they were handled (shop.messaging.parked): a number that stays up
    # means workers die while handling updates.
    parked_updates: int = 0


async def shop_counts(sessions: async_sessionmaker[AsyncSession]) -> ShopCounts:
    """How many orders are in each status now, and the payments ledger summed by provider
    and currency (every payment ever recorded, and how much of it was refunded)."""
    async with sessions() as session:
        orders = await session.execute(
            select(Order.status, func.count()).group_by(Order.status).order_by(Order.status)
        )
        payments = await session.execute(
            select(Payment.provider, Payment.currency, func.count(),
                   func.coalesce(func.sum(Payment.amount), 0),
                   func.coalesce(func.sum(Payment.refunded), 0))
            .group_by(Payment.provider, Payment.currency)
            .order_by(Payment.provider, Payment.currency)
        )
        parked = await session.scalar(select(func.count()).select_from(ParkedUpdate))
        return ShopCounts(
            orders_by_status={status: int(count) for status, count in orders.tuples()},
            payments=tuple(PaymentTotals(provider, currency, int(count), int(amount),
                                         int(refunded))
                           for provider, currency, count, amount, refunded
                           in payments.tuples()),
            parked_updates=int(parked or 0),
        )
