"""Product cards and summaries kept for a couple of seconds per process, forgotten on change
(shop.catalog.fresh_cache, CatalogService)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from shop.catalog.fresh_cache import FreshCache
from shop.catalog.index_sync import IndexSync
from shop.catalog.models import Product
from shop.catalog.service import CatalogService
from shop.catalog.stock import apply_stock_delta
from tests.conftest import Database
from tests.support.catalog import ProductSpec, VariantSpec, add_products


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_is_used_until_it_is_stale_then_read_again() -> None:
    clock = Clock()
    cache: FreshCache[int, str] = FreshCache(2.0, clock=clock)
    cache.put(1, "card", cache.generation)
    clock.now += 1.9
    assert cache.get(1) == "card"
    clock.now += 0.1
    assert cache.get(1) is None
    assert len(cache) == 0  # a stale entry is dropped, not kept


def test_entries_are_bounded_least_recently_used_first_and_can_be_forgotten() -> None:
    cache: FreshCache[int, str] = FreshCache(60.0, max_entries=3, clock=Clock())
    for key in (1, 2, 3):
        cache.put(key, f"card {key}", cache.generation)
    assert cache.get(1) == "card 1"  # 2 is now the least recently used
    cache.put(4, "card 4", cache.generation)
    assert (cache.get(2), cache.get(1), cache.get(3), cache.get(4)) == (
        None, "card 1", "card 3", "card 4")
    cache.forget([3, 99])
    assert cache.get(3) is None and cache.get(4) == "card 4"
    cache.clear()
    assert len(cache) == 0


def test_a_value_read_before_a_change_was_learned_is_not_kept() -> None:
    cache: FreshCache[int, str] = FreshCache(60.0, clock=Clock())
    read_at = cache.generation  # a read starts
    cache.forget([1])  # meanwhile the index sync hears that product 1 changed
    cache.put(1, "card read before the change", read_at)
    assert cache.get(1) is None
    cache.put(1, "card read after it", cache.generation)
    assert cache.get(1) == "card read after it"


def test_no_freshness_means_no_caching() -> None:
    cache: FreshCache[int, str] = FreshCache(0.0, clock=Clock())
    cache.put(1, "card", cache.generation)
    assert cache.get(1) is None


@pytest.fixture
async def shop_catalog(database: Database) -> tuple[CatalogService, Clock]:
    await add_products(database.sessions, ProductSpec(
        "mug", "Enamel Mug", "Home", variants=[VariantSpec("MUG", 1250, 2)]))
    clock = Clock()
    catalog = CatalogService(database.sessions, clock=clock)
    await catalog.load_index()
    return catalog, clock


async def _rename_behind_its_back(database: Database, product_id: int, title: str) -> None:
    async with database.sessions.begin() as session:
        await session.execute(update(Product).where(Product.id == product_id)
                              .values(title=title))


async def test_a_card_is_read_again_once_stale(database: Database,
                                               shop_catalog: tuple[CatalogService, Clock]
                                               ) -> None:
    catalog, clock = shop_catalog
    mug = (await catalog.search("mug")).products[0]
    assert (await catalog.product(product_id=mug.id)).title == "Enamel Mug"
    await _rename_behind_its_back(database, mug.id, "Tin Mug")
    assert (await catalog.product(product_id=mug.id)).title == "Enamel Mug"
    assert [p.title for p in (await catalog.search("mug")).products] == ["Enamel Mug"]
    clock.now += 2.0
    assert (await catalog.product(product_id=mug.id)).title == "Tin Mug"
    assert [p.title for p in (await catalog.search("mug")).products] == ["Tin Mug"]
    # A handle is looked up in the database each time (deep links are rare).
    await _rename_behind_its_back(database, mug.id, "Steel Mug")
    assert (await catalog.product(handle="mug")).title == "Steel Mug"


async def test_this_process_s_own_stock_change_shows_at_once(
        shop_catalog: tuple[CatalogService, Clock]) -> None:
    catalog, _ = shop_catalog
    variant = await catalog.variant(sku="MUG")
    assert (await catalog.product(product_id=variant.product_id)).variants[0].stock == 2
    assert (await catalog.summaries([variant.product_id]))[0].stock == 2
    await catalog.adjust_stock(variant.id, 5, actor="test", reason="delivery")
    assert (await catalog.product(product_id=variant.product_id)).variants[0].stock == 7
    assert (await catalog.summaries([variant.product_id]))[0].stock == 7


async def test_another_worker_s_sell_out_shows_at_the_next_sync_not_after_the_window(
        database: Database, shop_catalog: tuple[CatalogService, Clock]) -> None:
    catalog, _ = shop_catalog
    sync = IndexSync(database.sessions, catalog)
    await sync.start_from_now()
    variant = await catalog.variant(sku="MUG")
    assert (await catalog.product(product_id=variant.product_id)).variants[0].stock == 2
    async with database.sessions.begin() as session:  # another worker sells both
        await apply_stock_delta(session, variant.id, -2, actor="order:1", reason="reserved")
    assert (await catalog.product(product_id=variant.product_id)).variants[0].stock == 2
    assert await sync.sync_once() == 1
    assert (await catalog.product(product_id=variant.product_id)).variants[0].stock == 0
    assert (await catalog.summaries([variant.product_id]))[0].stock == 0


async def test_summaries_keep_the_order_asked_and_leave_out_unknown_products(
        shop_catalog: tuple[CatalogService, Clock]) -> None:
    catalog, _ = shop_catalog
    mug = (await catalog.variant(sku="MUG")).product_id
    assert [s.id for s in await catalog.summaries([mug])] == [mug]  # now cached
    assert [s.id for s in await catalog.summaries([424242, mug, mug])] == [mug, mug]
