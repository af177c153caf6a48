"""Shopify product CSV export import, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from shop.catalog.csv_shopify import generated_sku, html_to_text
from shop.catalog.models import Category, ProductImage, Variant
from tests.conftest import Database
from tests.test_import_native import FIXTURES, counts, product, run_import, snapshot, variant

EXPORT = FIXTURES / "shopify_products.csv"
CDN = "https://cdn.shopify.com/s/files/1/0612/3456/7890/products/"


async def images_of(database: Database, handle: str) -> list[str]:
    found = await product(database, handle)
    async with database.sessions() as session:
        urls = await session.scalars(select(ProductImage.url).where(
            ProductImage.product_id == found.id).order_by(ProductImage.position))
        return list(urls)


async def test_import_shopify_export(database: Database) -> None:
    report = await run_import(database, EXPORT, fmt="shopify")

    assert report.committed and not report.errors
    assert (report.products_created, report.variants_created) == (5, 10)
    assert [str(w) for w in report.warnings] == [
        "line 3: Variant Inventory Qty is -2 (oversold in Shopify); imported as 0",
        "line 9: Variant SKU is empty; using WINTER-PARKA-S",
        "line 10: Variant SKU is empty; using WINTER-PARKA-M",
    ]
    tee = await product(database, "classic-tee")
    assert tee.title == "Classic Organic Tee"
    assert tee.description == (
        "Our everyday crew-neck in heavyweight organic cotton & a relaxed fit.\n"
        "- 180 g/m² jersey\n- Pre-shrunk\n\nMachine wash at 30\u00a0°C.\nDo not tumble dry.")
    assert (tee.option1_name, tee.option2_name, tee.active) == ("Size", "Color", True)
    assert await images_of(database, "classic-tee") == [
        CDN + "tee-black.jpg?v=1700000001", CDN + "tee-white.jpg?v=1700000002",
        CDN + "tee-detail.jpg?v=1700000003"]
    white = await variant(database, "NW-TEE-M-WHT")
    assert (white.stock, white.price, white.currency, white.option2) == (0, 2490, "EUR", "White")
    assert white.image_url == CDN + "tee-white.jpg?v=1700000002"
    large = await variant(database, "NW-TEE-L-BLK")
    assert (large.weight_grams, large.stock, large.position, large.digital) == (195, 6, 2, False)
    assert large.low_stock_threshold == 5

    mug = await product(database, "stoneware-mug")
    assert mug.option1_name is None
    assert mug.description == "Hand-thrown, 350\u202fml.\n\nDishwasher safe."
    mug_images = await images_of(database, "stoneware-mug")
    assert mug_images == [CDN + "mug-top.jpg", CDN + "mug-front.jpg"]
    mug_variant = await variant(database, "KC-MUG-350")
    assert (mug_variant.option1, mug_variant.price, mug_variant.stock) == (None, 1800, 3)

    parka = await product(database, "winter-parka")
    assert not parka.active
    assert (await variant(database, "WINTER-PARKA-M")).option1 == "M"
    assert not (await product(database, "old-logo-cap")).active
    assert (await variant(database, "NW-CAP-OLD")).price == 1500
    gift = await variant(database, "GIFT-50")
    assert (gift.digital, gift.price, gift.option1) == (True, 5000, "€50")

    async with database.sessions() as session:
        paths = set(await session.scalars(select(Category.path)))
    assert paths == {"T-shirts", "Gift Cards", "Accessories", "Home & Garden",
                     "Home & Garden/Kitchen & Dining", "Home & Garden/Kitchen & Dining/Tableware",
                     "Apparel & Accessories", "Apparel & Accessories/Clothing",
                     "Apparel & Accessories/Clothing/Outerwear"}


async def test_reimport_of_shopify_export_changes_nothing(database: Database) -> None:
    await run_import(database, EXPORT, fmt="shopify")
    before = await snapshot(database)

    report = await run_import(database, EXPORT, fmt="shopify")

    assert (report.products_unchanged, report.variants_unchanged) == (5, 10)
    assert report.products_updated == report.variants_updated == 0
    assert await snapshot(database) == before


async def test_shopify_bad_price_rejects_everything(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(EXPORT.read_bytes().replace(b",249.00,", b",\"249,00\",", 1))

    report = await run_import(database, path, fmt="shopify")

    assert not report.committed
    assert [str(e) for e in report.errors] == [
        'line 9: price "249,00" is not a plain decimal number such as 19.99']
    assert set((await counts(database)).values()) == {0}


async def test_shopify_without_handle_column(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(EXPORT.read_bytes().replace(b"Handle,", b"Slug,", 1))

    report = await run_import(database, path, fmt="shopify")

    assert [(e.line, e.message[:31]) for e in report.errors] == [
        (1, 'the header has no "Handle" colu')]
    assert set((await counts(database)).values()) == {0}


async def test_shopify_without_inventory_keeps_stock(database: Database, tmp_path: Path) -> None:
    await run_import(database, EXPORT, fmt="shopify")
    path = tmp_path / "export.csv"
    path.write_bytes(EXPORT.read_bytes().replace(b"Variant Inventory Qty,", b"Qty Elsewhere,", 1))

    report = await run_import(database, path, fmt="shopify")

    assert report.committed and report.variants_updated == 0
    assert report.warnings[0].line == 1
    async with database.sessions() as session:
        stock = await session.scalar(select(Variant.stock).where(Variant.sku == "NW-TEE-M-BLK"))
    assert stock == 14


def test_html_to_text_and_generated_skus() -> None:
    assert html_to_text("<p>A &amp; B</p><p>C<br/>D</p><script>x()</script>") == "A & B\n\nC\nD"
    assert html_to_text("") == ""
    assert generated_sku("classic-tee", ("M", "Black / Grey")) == "CLASSIC-TEE-M-BLACK-GREY"
    assert len(generated_sku("x" * 300, ())) == 100
