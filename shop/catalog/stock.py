"""Stock changes: atomic conditional updates, a history row each, low-stock crossings.

These functions work inside a session the caller owns, so a reservation in the
orders core and its outbox event share one transaction. A change that crosses
the low-stock threshold appends the `stock.low` event itself, whoever made it.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shop.catalog.changes import record_change
from shop.catalog.models import StockAdjustment, Variant
from shop.catalog.types import StockChange
from shop.errors import InputReason, InvalidInput, NotFound, OutOfStock
from shop.events.outbox import Topic, publish
from shop.staff.audit import audit

MAX_STOCK = 1_000_000_000


def crossed_low_threshold(before: int, after: int, threshold: int) -> bool:
    """True only for the change that takes stock from above the threshold to at or below it.

    Later sales below the threshold are not crossings, so staff hear once per
    crossing; a restock above it re-arms the alert.
    """
    return before > threshold >= after


def _check_text(actor: str, reason: str) -> None:
    if not actor.strip():
        raise InvalidInput("a stock change needs an actor (who made it)", field="actor",
                           reason=InputReason.REQUIRED)
    if not reason.strip():
        raise InvalidInput("a stock change needs a reason", field="reason",
                           reason=InputReason.REQUIRED)


async def apply_stock_delta(
    session: AsyncSession, variant_id: int, delta: int, *, actor: str, reason: str
) -> StockChange:
    """Add `delta` (negative to take) to a variant's stock, never below zero.

    The check and the write are one conditional UPDATE, so concurrent callers
    can never oversell, on SQLite and on PostgreSQL.
    """
    _check_text(actor, reason)
    if delta == 0:
        raise InvalidInput("a stock change of 0 units changes nothing", field="delta",
                           reason=InputReason.OUT_OF_RANGE)
    if abs(delta) > MAX_STOCK:
        raise InvalidInput(f"a stock change of {delta} units is not plausible", field="delta",
                           reason=InputReason.OUT_OF_RANGE, maximum=MAX_STOCK)
    row = (
        await session.execute(
            update(Variant)
            .where(Variant.id == variant_id, Variant.stock + delta >= 0,
                   Variant.stock + delta <= MAX_STOCK)
            .values(stock=Variant.stock + delta)
            .returning(Variant.stock, Variant.low_stock_threshold, Variant.sku)
        )
    ).one_or_none()
    if row is None:
        current = (
            await session.execute(select(Variant.stock).where(Variant.id == variant_id))
        ).scalar_one_or_none()
        if current is None:
            raise NotFound(f"variant {variant_id} does not exist", what="variant",
                           ref=variant_id)
        if delta < 0:
            raise OutOfStock(available=current, requested=-delta)
        raise InvalidInput(f"stock cannot exceed {MAX_STOCK} units", field="stock",
                           reason=InputReason.OUT_OF_RANGE, minimum=0, maximum=MAX_STOCK)
    after, threshold, sku = row
    return await _record(session, variant_id, sku, delta, after, threshold, actor, reason)


async def set_stock(
    session: AsyncSession, variant_id: int, value: int, *, actor: str, reason: str
) -> StockChange | None:
    """Set a variant's stock to `value` (a stock count); None when it already was."""
    _check_text(actor, reason)
    if not 0 <= value <= MAX_STOCK:
        raise InvalidInput(f"stock must be between 0 and {MAX_STOCK}, not {value}",
                           field="stock", reason=InputReason.OUT_OF_RANGE, minimum=0,
                           maximum=MAX_STOCK)
    variant = (
        await session.execute(
            select(Variant.stock, Variant.low_stock_threshold, Variant.sku)
            .where(Variant.id == variant_id)
            .with_for_update()
        )
    ).one_or_none()
    if variant is None:
        raise NotFound(f"variant {variant_id} does not exist", what="variant", ref=variant_id)
    before, threshold, sku = variant
    if before == value:
        return None
    await session.execute(update(Variant).where(Variant.id == variant_id).values(stock=value))
    return await _record(session, variant_id, sku, value - before, value, threshold, actor,
                         reason)


async def _record(
    session: AsyncSession,
    variant_id: int,
    sku: str,
    delta: int,
    after: int,
    threshold: int,
    actor: str,
    reason: str,
) -> StockChange:
    crossed = crossed_low_threshold(after - delta, after, threshold)
    audit(session, actor, "stock.change", f"variant:{variant_id}", {"stock": after - delta},
          {"stock": after, "sku": sku, "reason": reason.strip()[:200]})
    if crossed:
        publish(session, Topic.STOCK_LOW, {"variant_id": variant_id, "sku": sku,
                                           "stock": after, "threshold": threshold})
    if (after == 0) != (after - delta == 0):
        # In stock became sold out or back: every worker's search index must hear of it.
        record_change(session, variant_id=variant_id)
    session.add(
        StockAdjustment(
            variant_id=variant_id,
            delta=delta,
            stock_after=after,
            actor=actor.strip()[:100],
            reason=reason.strip()[:500],
            crossed_low_threshold=crossed,
        )
    )
    return StockChange(variant_id, sku, delta, after, threshold, crossed)


async def set_low_stock_threshold(session: AsyncSession, variant_id: int, threshold: int,
                                  *, actor: str | None = None) -> None:
    if not 0 <= threshold <= MAX_STOCK:
        raise InvalidInput(f"a low-stock threshold must be 0 or more, not {threshold}",
                           field="threshold", reason=InputReason.OUT_OF_RANGE, minimum=0)
    before = (await session.execute(select(Variant.low_stock_threshold).where(
        Variant.id == variant_id).with_for_update())).scalar_one_or_none()
    if before is None:
        raise NotFound(f"variant {variant_id} does not exist", what="variant", ref=variant_id)
    await session.execute(
        update(Variant).where(Variant.id == variant_id).values(low_stock_threshold=threshold))
    if actor is not None:
        audit(session, actor, "stock.threshold", f"variant:{variant_id}",
              {"low_stock_threshold": before}, {"low_stock_threshold": threshold})
