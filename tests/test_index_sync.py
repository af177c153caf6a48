"""Every worker's search index follows catalog changes made by another process."""

from __future__ import annotations

import asyncio
from pathlib import Path

from shop.catalog.importer import import_catalog
from shop.catalog.index_sync import IndexSync, announce_catalog_change
from shop.catalog.search import SearchFilters
from shop.catalog.service import CatalogService
from shop.catalog.stock import apply_stock_delta
from tests.conftest import Database
from tests.support.catalog import ProductSpec, VariantSpec, add_products
from tests.support.waiting import eventually

FIXTURES = Path(__file__).parent / "fixtures"
IN_STOCK = SearchFilters(in_stock_only=True)


async def _worker(database: Database, **options: object) -> tuple[CatalogService, IndexSync]:
    catalog = CatalogService(database.sessions)
    await catalog.load_index()
    sync = IndexSync(database.sessions, catalog, **options)  # type: ignore[arg-type]
    await sync.start_from_now()
    return catalog, sync


async def _found(catalog: CatalogService, query: str, filters: SearchFilters | None = None
                 ) -> list[str]:
    page = await catalog.search(query, filters)
    return [product.title for product in page.products]


async def test_selling_out_and_restocking_reach_the_other_workers_index(
        database: Database) -> None:
    await add_products(database.sessions, ProductSpec("mug", "Enamel Mug", "Home", variants=[
        VariantSpec("MUG", 1250, 1)]))
    other, other_sync = await _worker(database)
    variant = await other.variant(sku="MUG")
    assert await _found(other, "enamel mug", IN_STOCK) == ["Enamel Mug"]

    # Another process sells the last one.
    async with database.sessions.begin() as session:
        await apply_stock_delta(session, variant.id, -1, actor="order:1", reason="reserved")
    assert await _found(other, "enamel mug", IN_STOCK) == ["Enamel Mug"]  # not yet synced
    assert await other_sync.sync_once() == 1
    assert await _found(other, "enamel mug", IN_STOCK) == []
    assert await _found(other, "enamel mug") == ["Enamel Mug"]

    async with database.sessions.begin() as session:
        await apply_stock_delta(session, variant.id, 5, actor="staff:1", reason="delivery")
    await other_sync.sync_once()
    assert await _found(other, "enamel mug", IN_STOCK) == ["Enamel Mug"]

    # A change that keeps the product in stock is not logged, so a pass refreshes nothing
    # beyond the recent window's rows (already applied, harmless to apply again).
    async with database.sessions.begin() as session:
        await apply_stock_delta(session, variant.id, -1, actor="order:2", reason="reserved")
    assert await _found(other, "enamel mug", IN_STOCK) == ["Enamel Mug"]


async def test_an_import_elsewhere_shows_up_in_the_other_workers_search(
        database: Database) -> None:
    other, other_sync = await _worker(database)
    assert await _found(other, "organic cotton tee") == []
    report = await import_catalog(database.sessions, FIXTURES / "native_catalog.csv",
                                  fmt="native", currency="EUR", low_stock_threshold=5)
    assert report.committed and report.changed_product_ids
    await other_sync.sync_once()
    assert "Classic Organic Cotton Tee" in await _found(other, "organic cotton tee")


async def test_a_large_import_rebuilds_the_index_once(database: Database) -> None:
    from shop.catalog.changes import FULL_RELOAD_OVER

    other, other_sync = await _worker(database)
    specs = [ProductSpec(f"p{n}", f"Gadget {n}", "Bulk", variants=[
        VariantSpec(f"G-{n}", 100 + n, 1)]) for n in range(FULL_RELOAD_OVER + 1)]
    await add_products(database.sessions, *specs)
    from shop.catalog.changes import record_products

    async with database.sessions.begin() as session:
        record_products(session, range(1, FULL_RELOAD_OVER + 2))
    assert await other_sync.sync_once() == -1  # one rebuild, not 501 refreshes
    assert len(other.index) == FULL_RELOAD_OVER + 1


async def test_redis_announcement_wakes_every_worker_before_its_poll(
        database: Database, redis_url: str) -> None:
    await add_products(database.sessions, ProductSpec("mug", "Enamel Mug", "Home", variants=[
        VariantSpec("MUG", 1250, 1)]))
    # The poll is an hour: only the announcement through Redis can make this pass in time.
    first, first_sync = await _worker(database, redis_url=redis_url, poll_interval_s=3600)
    second, second_sync = await _worker(database, redis_url=redis_url, poll_interval_s=3600)
    stop = asyncio.Event()
    loops = [asyncio.create_task(sync.run(stop)) for sync in (first_sync, second_sync)]
    try:
        await eventually(lambda: _subscribed(second_sync), within=10)
        variant = await first.variant(sku="MUG")
        async with database.sessions.begin() as session:
            await apply_stock_delta(session, variant.id, -1, actor="order:1", reason="reserved")
        await announce_catalog_change(redis_url)  # what `chatshop catalog import` does

        async def second_sees_it() -> bool:
            return await _found(second, "enamel mug", IN_STOCK) == []

        await eventually(second_sees_it, within=10)
    finally:
        stop.set()
        await asyncio.gather(*loops)


async def _subscribed(sync: IndexSync) -> bool:
    return sync.subscribed
