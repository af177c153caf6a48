from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from shop.catalog.models import StockAdjustment, Variant
from shop.catalog.stock import apply_stock_delta, crossed_low_threshold, set_stock
from shop.errors import InvalidInput, NotFound, OutOfStock
from tests.conftest import Database
from tests.support.catalog import ProductSpec, VariantSpec, add_products


async def _variant_id(db: Database, sku: str) -> int:
    async with db.sessions() as session:
        return (await session.execute(select(Variant.id).where(Variant.sku == sku))).scalar_one()


async def _stock(db: Database, variant_id: int) -> int:
    async with db.sessions() as session:
        return (await session.execute(select(Variant.stock).where(Variant.id == variant_id))
                ).scalar_one()


def test_crossing_rule() -> None:
    assert crossed_low_threshold(6, 5, 5)
    assert crossed_low_threshold(9, 0, 5)
    assert not crossed_low_threshold(5, 4, 5)  # already below: no second alert
    assert not crossed_low_threshold(7, 6, 5)
    assert not crossed_low_threshold(3, 8, 5)  # a restock is never a crossing


async def test_delta_records_history_and_crossing_once(database: Database) -> None:
    await add_products(database.sessions, ProductSpec("mug", "Mug", variants=[
        VariantSpec("MUG-1", stock=7, threshold=5)]))
    vid = await _variant_id(database, "MUG-1")
    crossings = []
    for _ in range(4):
        async with database.sessions.begin() as session:
            change = await apply_stock_delta(session, vid, -1, actor="test", reason="sale")
        crossings.append(change.crossed_low_threshold)
    assert crossings == [False, True, False, False]  # 7→6, 6→5 crosses, 5→4, 4→3
    async with database.sessions.begin() as session:
        restock = await apply_stock_delta(session, vid, 10, actor="staff:1", reason="delivery")
        assert restock.stock_after == 13 and not restock.crossed_low_threshold
        again = await apply_stock_delta(session, vid, -8, actor="test", reason="sale")
        assert again.crossed_low_threshold  # re-armed by the restock
    async with database.sessions() as session:
        rows = (await session.execute(select(StockAdjustment).order_by(StockAdjustment.id))
                ).scalars().all()
    assert [(r.delta, r.stock_after, r.crossed_low_threshold) for r in rows] == [
        (-1, 6, False), (-1, 5, True), (-1, 4, False), (-1, 3, False), (10, 13, False),
        (-8, 5, True)]
    assert rows[4].actor == "staff:1" and rows[4].reason == "delivery"


async def test_never_below_zero(database: Database) -> None:
    await add_products(database.sessions, ProductSpec("pen", "Pen", variants=[
        VariantSpec("PEN-1", stock=2)]))
    vid = await _variant_id(database, "PEN-1")
    with pytest.raises(OutOfStock, match="only 2 left"):
        async with database.sessions.begin() as session:
            await apply_stock_delta(session, vid, -3, actor="test", reason="sale")
    assert await _stock(database, vid) == 2
    with pytest.raises(NotFound):
        async with database.sessions.begin() as session:
            await apply_stock_delta(session, 999_999, -1, actor="test", reason="sale")
    for bad in [(0, "x", "y"), (-1, "", "sale"), (-1, "test", "  ")]:
        with pytest.raises(InvalidInput):
            async with database.sessions.begin() as session:
                await apply_stock_delta(session, vid, bad[0], actor=bad[1], reason=bad[2])


async def test_concurrent_takes_never_oversell(database: Database) -> None:
    await add_products(database.sessions, ProductSpec("tee", "Tee", variants=[
        VariantSpec("TEE-1", stock=25, threshold=5)]))
    vid = await _variant_id(database, "TEE-1")

    async def take() -> bool:
        try:
            async with database.sessions.begin() as session:
                await apply_stock_delta(session, vid, -1, actor="test", reason="race")
            return True
        except OutOfStock:
            return False

    results = await asyncio.gather(*(take() for _ in range(60)))
    assert sum(results) == 25
    assert await _stock(database, vid) == 0
    async with database.sessions() as session:
        crossings = (await session.execute(
            select(func.count()).select_from(StockAdjustment)
            .where(StockAdjustment.crossed_low_threshold.is_(True)))).scalar_one()
    assert crossings == 1


async def test_set_stock(database: Database) -> None:
    await add_products(database.sessions, ProductSpec("hat", "Hat", variants=[
        VariantSpec("HAT-1", stock=9, threshold=3)]))
    vid = await _variant_id(database, "HAT-1")
    async with database.sessions.begin() as session:
        change = await set_stock(session, vid, 2, actor="staff:7", reason="count")
        assert change is not None
        assert (change.delta, change.stock_after, change.crossed_low_threshold) == (-7, 2, True)
        assert await set_stock(session, vid, 2, actor="staff:7", reason="count") is None
    with pytest.raises(InvalidInput):
        async with database.sessions.begin() as session:
            await set_stock(session, vid, -1, actor="staff:7", reason="count")


async def test_crossing_appends_one_stock_low_event(database: Database) -> None:
    from shop.events.models import OutboxEvent

    await add_products(database.sessions, ProductSpec("cap", "Cap", variants=[
        VariantSpec("CAP-9", stock=6, threshold=5)]))
    vid = await _variant_id(database, "CAP-9")
    for _ in range(3):
        async with database.sessions.begin() as session:
            await apply_stock_delta(session, vid, -1, actor="test", reason="sale")
    async with database.sessions() as session:
        payloads = list((await session.execute(
            select(OutboxEvent.payload).where(OutboxEvent.topic == "stock.low"))).scalars())
    assert payloads == [{"variant_id": vid, "sku": "CAP-9", "stock": 5, "threshold": 5}]
