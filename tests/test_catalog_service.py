from __future__ import annotations

import pytest

from shop.catalog.search import SearchFilters
from shop.catalog.service import CatalogService
from shop.errors import InvalidInput, InvalidQuery, NotFound, OutOfStock
from shop.money import Money
from tests.conftest import Database
from tests.support.catalog import ProductSpec, VariantSpec, add_products

CATALOG = [
    ProductSpec("classic-tee", "Classic Tee", "Clothing/T-shirts", option_names=("Size", "Colour"),
                images=("demo:classic-tee.png", "https://example.com/tee-2.jpg"),
                variants=[VariantSpec("TEE-S-BLK", 2490, 3, ("S", "Black")),
                          VariantSpec("TEE-M-BLK", 2690, 0, ("M", "Black"))]),
    ProductSpec("zip-hoodie", "Zip Hoodie", "Clothing/Hoodies",
                variants=[VariantSpec("HOOD-1", 5900, 12)]),
    ProductSpec("zolta-chusta", "Żółta Chusta Scarf", "Accessories",
                variants=[VariantSpec("SCARF-1", 3500, 1)]),
    ProductSpec("old-cap", "Old Cap", "Accessories", active=False,
                variants=[VariantSpec("CAP-1", 900, 5)]),
    ProductSpec("ebook", "Python E-book", "Digital/E-books",
                variants=[VariantSpec("EBOOK-1", 1500, 9999, digital=True, threshold=0)]),
]


@pytest.fixture
async def catalog(database: Database) -> CatalogService:
    await add_products(database.sessions, *CATALOG)
    service = CatalogService(database.sessions)
    await service.load_index()
    return service


async def test_categories_count_active_products_up_the_tree(catalog: CatalogService) -> None:
    counts = {c.path: (c.product_count, c.depth) for c in await catalog.categories()}
    assert counts == {
        "Clothing": (2, 0), "Clothing/T-shirts": (1, 1), "Clothing/Hoodies": (1, 1),
        "Accessories": (1, 0), "Digital": (1, 0), "Digital/E-books": (1, 1),
    }


async def test_listing_pages_and_subtrees(catalog: CatalogService) -> None:
    first = await catalog.products(page=1, page_size=2)
    second = await catalog.products(page=2, page_size=2)
    assert first.total == 4 and first.pages == 2 and first.has_next
    titles = [p.title for p in [*first.items, *second.items]]
    assert titles == ["Classic Tee", "Python E-book", "Zip Hoodie", "Żółta Chusta Scarf"]
    clothing = await catalog.products("Clothing")
    assert {p.handle for p in clothing.items} == {"classic-tee", "zip-hoodie"}
    tee = next(p for p in clothing.items if p.handle == "classic-tee")
    assert (tee.min_price, tee.max_price) == (Money("EUR", 2490), Money("EUR", 2690))
    assert tee.stock == 3 and tee.image_url == "demo:classic-tee.png" and not tee.digital
    assert (await catalog.products("Digital")).items[0].digital
    with pytest.raises(InvalidInput):
        await catalog.products(page=0)
    with pytest.raises(InvalidInput):
        await catalog.products(page_size=1000)


async def test_product_detail_and_variant_lookup(catalog: CatalogService) -> None:
    tee = await catalog.product(handle="classic-tee")
    assert tee.option_names == ("Size", "Colour")
    assert tee.images == ("demo:classic-tee.png", "https://example.com/tee-2.jpg")
    assert [v.label for v in tee.variants] == ["S / Black", "M / Black"]
    assert tee.variants[0].options == (("Size", "S"), ("Colour", "Black"))
    assert not tee.variants[1].in_stock
    by_sku = await catalog.variant(sku="tee-s-blk")
    assert by_sku.id == tee.variants[0].id and by_sku.price == Money("EUR", 2490)
    with pytest.raises(NotFound):
        await catalog.product(handle="nope")
    with pytest.raises(NotFound):
        await catalog.variant(variant_id=10**9)


async def test_search_with_typos_accents_and_filters(catalog: CatalogService) -> None:
    hits = await catalog.search("zolta chsta")
    assert hits.products[0].handle == "zolta-chusta"
    assert (await catalog.search("hoodei")).products[0].handle == "zip-hoodie"
    assert not any(p.handle == "old-cap" for p in (await catalog.search("cap")).products)
    cheap = await catalog.search("tee", SearchFilters(max_price=2000))
    assert all(p.handle != "classic-tee" for p in cheap.products)
    with pytest.raises(InvalidQuery):
        await catalog.search("   ")


async def test_stock_changes_keep_search_in_step(catalog: CatalogService) -> None:
    scarf = (await catalog.product(handle="zolta-chusta")).variants[0]
    in_stock = SearchFilters(in_stock_only=True)
    assert (await catalog.search("scarf", in_stock)).products[0].handle == "zolta-chusta"
    change = await catalog.adjust_stock(scarf.id, -1, actor="test", reason="sale")
    assert change.stock_after == 0
    assert all(p.handle != "zolta-chusta" for p in (await catalog.search("scarf", in_stock)
                                                     ).products)
    with pytest.raises(OutOfStock):
        await catalog.adjust_stock(scarf.id, -1, actor="test", reason="sale")
    await catalog.set_stock(scarf.id, 4, actor="staff:1", reason="found a box")
    assert (await catalog.search("scarf", in_stock)).products[0].handle == "zolta-chusta"


async def test_low_stock_listing(catalog: CatalogService) -> None:
    low = await catalog.low_stock()
    assert [v.sku for v in low.variants] == ["TEE-M-BLK", "SCARF-1", "TEE-S-BLK"]
    assert low.total == 3
    emptiest = await catalog.low_stock(limit=2)
    assert [v.sku for v in emptiest.variants] == ["TEE-M-BLK", "SCARF-1"]
    assert emptiest.total == 3  # all of them, not only those shown
    hoodie = (await catalog.product(handle="zip-hoodie")).variants[0]
    await catalog.set_low_stock_threshold(hoodie.id, 20)
    assert "HOOD-1" in [v.sku for v in (await catalog.low_stock()).variants]
    with pytest.raises(InvalidInput):
        await catalog.set_low_stock_threshold(hoodie.id, -2)
