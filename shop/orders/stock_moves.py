"""Stock that follows an order: reserved at checkout, released on expiry, restocked on return."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from shop.catalog.stock import apply_stock_delta
from shop.errors import NotFound, OutOfStock
from shop.orders.models import Order, OrderLine


async def reserve(session: AsyncSession, order: Order, lines: Iterable[OrderLine]) -> None:
    """Take every line's units from stock, all or nothing (the caller's transaction).

    Each line is one conditional UPDATE, so no interleaving can oversell; when a
    line cannot be had the caller rolls back and the earlier lines come back too.
    """
    for line in lines:
        if line.variant_id is None:
            raise NotFound(f"{line.title} is no longer sold", what="product", title=line.title)
        try:
            await apply_stock_delta(
                session, line.variant_id, -line.quantity,
                actor=f"order:{order.number}", reason=f"reserved for order #{order.number}",
            )
        except OutOfStock as error:
            raise OutOfStock(title=line.title, available=error.available,
                             requested=line.quantity) from None
        except NotFound:
            raise NotFound(f"{line.title} is no longer sold", what="product",
                           title=line.title) from None


async def give_back(session: AsyncSession, order: Order, lines: Iterable[tuple[OrderLine, int]],
                    *, reason: str, actor: str) -> None:
    """Return units to stock (released reservation, cancelled or returned goods)."""
    for line, quantity in lines:
        if line.variant_id is None or quantity <= 0:
            continue  # the variant was deleted since: nothing to give back to
        await apply_stock_delta(session, line.variant_id, quantity, actor=actor,
                                reason=f"{reason} #{order.number}")
