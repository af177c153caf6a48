"""Stock that follows an order: reserved at checkout, released on expiry, restocked on return."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from shop.catalog.stock import apply_stock_delta
from shop.catalog.types import StockChange
from shop.errors import NotFound, OutOfStock
from shop.events.outbox import Topic, publish
from shop.orders.models import Order, OrderLine


def publish_low_stock(session: AsyncSession, change: StockChange) -> None:
    if change.crossed_low_threshold:
        publish(session, Topic.STOCK_LOW, {
            "variant_id": change.variant_id, "sku": change.sku,
            "stock": change.stock_after, "threshold": change.low_stock_threshold,
        })


async def reserve(session: AsyncSession, order: Order, lines: Iterable[OrderLine]) -> None:
    """Take every line's units from stock, all or nothing (the caller's transaction).

    Each line is one conditional UPDATE, so no interleaving can oversell; when a
    line cannot be had the caller rolls back and the earlier lines come back too.
    """
    for line in lines:
        if line.variant_id is None:
            raise NotFound(f"{line.title} is no longer sold")
        try:
            change = await apply_stock_delta(
                session, line.variant_id, -line.quantity,
                actor=f"order:{order.number}", reason=f"reserved for order #{order.number}",
            )
        except OutOfStock as error:
            raise OutOfStock(f"{line.title}: {error.message}") from None
        except NotFound:
            raise NotFound(f"{line.title} is no longer sold") from None
        publish_low_stock(session, change)


async def give_back(session: AsyncSession, order: Order, lines: Iterable[tuple[OrderLine, int]],
                    *, reason: str, actor: str) -> None:
    """Return units to stock (released reservation, cancelled or returned goods)."""
    for line, quantity in lines:
        if line.variant_id is None or quantity <= 0:
            continue  # the variant was deleted since: nothing to give back to
        await apply_stock_delta(session, line.variant_id, quantity, actor=actor,
                                reason=f"{reason} #{order.number}")
