"""Native catalog CSV import on SQLite and PostgreSQL: results, idempotence, every bad input."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from shop.catalog.csv_common import ImportFileError
from shop.catalog.importer import ImportReport, import_catalog
from shop.catalog.models import Category, Product, ProductImage, StockAdjustment, Variant
from shop.errors import InvalidInput
from tests.conftest import Database

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = FIXTURES / "native_catalog.csv"
TABLES = (Category, Product, ProductImage, Variant, StockAdjustment)


async def run_import(database: Database, path: Path, fmt: str = "native",
                     **kwargs: Any) -> ImportReport:
    return await import_catalog(database.sessions, path, fmt=fmt,  # type: ignore[arg-type]
                                currency="EUR", low_stock_threshold=5, **kwargs)


async def snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every catalog row, timestamps included: equal snapshots mean nothing was written."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with database.sessions() as session:
        for model in TABLES:
            table = model.__table__
            rows = await session.execute(select(table).order_by(table.c.id))  # type: ignore[attr-defined]
            tables[model.__tablename__] = [tuple(row) for row in rows]
    return tables


async def counts(database: Database) -> dict[str, int]:
    async with database.sessions() as session:
        return {m.__tablename__: await session.scalar(select(func.count()).select_from(m)) or 0
                for m in TABLES}


async def variant(database: Database, sku: str) -> Variant:
    async with database.sessions() as session:
        found = await session.scalar(select(Variant).where(Variant.sku == sku))
        assert found is not None, sku
        return found


async def product(database: Database, handle: str) -> Product:
    async with database.sessions() as session:
        found = await session.scalar(select(Product).where(Product.handle == handle))
        assert found is not None, handle
        return found


def edited(tmp_path: Path, old: str, new: str, source: Path = SAMPLE) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "edited.csv"
    path.write_text(text.replace(old, new, 1), encoding="utf-8", newline="")
    return path


async def test_import_sample(database: Database) -> None:
    report = await run_import(database, SAMPLE)

    assert report.committed and not report.errors
    assert (report.products_created, report.variants_created) == (4, 7)
    assert len(report.changed_product_ids) == 4
    tee = await product(database, "classic-tee")
    assert tee.description == "Heavyweight organic cotton, pre-shrunk.\nMachine wash at 30 °C."
    assert (tee.option1_name, tee.option2_name, tee.option3_name) == ("Size", "Colour", None)
    assert tee.active
    large = await variant(database, "TEE-L-BLK")
    assert (large.price, large.currency, large.option1) == (2650, "EUR", "L")
    # Empty cells take the defaults: shop currency, settings threshold, not digital.
    assert (large.stock, large.low_stock_threshold, large.digital) == (0, 5, False)
    matcha = await variant(database, "MATCHA-40")
    assert (matcha.price, matcha.currency, matcha.option1) == (2480, "JPY", None)
    ebook = await variant(database, "EBOOK-SD-EPUB")
    assert (ebook.price, ebook.digital, ebook.image_url, ebook.position) == (999, True, None, 1)
    async with database.sessions() as session:
        categories = dict((await session.execute(
            select(Category.path, Category.parent_id))).tuples().all())
        ids = dict((await session.execute(select(Category.path, Category.id))).tuples().all())
        images = (await session.scalars(select(ProductImage.url).where(
            ProductImage.product_id == tee.id).order_by(ProductImage.position))).all()
        moves = (await session.execute(select(StockAdjustment.delta, StockAdjustment.actor,
                                              StockAdjustment.reason))).all()
    assert categories["Clothing"] is None
    assert categories["Clothing/T-shirts"] == ids["Clothing"]
    assert categories["Clothing/Accessories"] == ids["Clothing"]
    assert categories["Food & Drink/Tea"] == ids["Food & Drink"]
    assert list(images) == ["https://cdn.example.com/img/tee-black.jpg",
                            "https://cdn.example.com/img/tee-white.jpg"]
    assert sorted(m.delta for m in moves) == [3, 12, 25, 40, 1000, 1000]
    assert {(m.actor, m.reason) for m in moves} == {("import", "catalog import native_catalog.csv")}


async def test_reimport_changes_nothing(database: Database) -> None:
    await run_import(database, SAMPLE)
    before = await snapshot(database)

    report = await run_import(database, SAMPLE)

    assert report.committed
    assert (report.products_created, report.products_updated) == (0, 0)
    assert (report.variants_created, report.variants_updated) == (0, 0)
    assert (report.products_unchanged, report.variants_unchanged) == (4, 7)
    assert report.changed_product_ids == []
    assert await snapshot(database) == before


async def test_modified_file_counts_updates(database: Database, tmp_path: Path) -> None:
    await run_import(database, SAMPLE)
    matcha_before = await product(database, "uji-matcha")
    tee_before = await product(database, "classic-tee")
    path = edited(tmp_path, "BEANIE-CHA,19.00,EUR,25,", "BEANIE-CHA,21.00,EUR,25,")
    text = path.read_text().replace("TEE-M-BLK,24.90,EUR,12,", "TEE-M-BLK,24.90,EUR,4,")
    text += ("merino-beanie,Merino Rib Beanie,,Clothing/Accessories,Colour,Navy,,,BEANIE-NVY,"
             "19.00,EUR,10,5,85,https://cdn.example.com/img/beanie.jpg,false\n")
    path.write_text(text)

    report = await run_import(database, path)

    assert report.committed
    products = (report.products_created, report.products_updated, report.products_unchanged)
    variants = (report.variants_created, report.variants_updated, report.variants_unchanged)
    assert (products, variants) == ((0, 2, 2), (1, 2, 5))
    beanie = await product(database, "merino-beanie")
    assert sorted(report.changed_product_ids) == sorted([beanie.id, tee_before.id])
    assert (await variant(database, "BEANIE-CHA")).price == 2100
    assert (await variant(database, "BEANIE-NVY")).position == 1
    assert (await product(database, "uji-matcha")).updated_at == matcha_before.updated_at
    assert (await product(database, "classic-tee")).updated_at > tee_before.updated_at
    tee_black = await variant(database, "TEE-M-BLK")
    async with database.sessions() as session:
        move = (await session.execute(select(StockAdjustment).where(
            StockAdjustment.variant_id == tee_black.id).order_by(StockAdjustment.id.desc()))
        ).scalars().first()
    assert move is not None
    assert (move.delta, move.stock_after, move.crossed_low_threshold) == (-8, 4, True)


async def test_variants_missing_from_the_file_are_kept(database: Database, tmp_path: Path) -> None:
    await run_import(database, SAMPLE)
    lines = SAMPLE.read_text().splitlines(keepends=True)
    path = tmp_path / "fewer.csv"
    path.write_text("".join(line for line in lines if "EBOOK-SD-EPUB" not in line))

    report = await run_import(database, path)

    assert report.committed and report.variants_unchanged == 6
    assert (await variant(database, "EBOOK-SD-EPUB")).stock == 1000


async def test_dry_run_counts_but_writes_nothing(database: Database) -> None:
    report = await run_import(database, SAMPLE, dry_run=True)

    assert (report.products_created, report.variants_created) == (4, 7)
    assert not report.committed
    assert set((await counts(database)).values()) == {0}


async def test_progress_is_reported_to_the_end(database: Database) -> None:
    calls: list[tuple[int, int]] = []

    await run_import(database, SAMPLE, progress=lambda done, total: calls.append((done, total)))

    assert calls and calls[-1][0] == calls[-1][1]
    assert all(0 <= done <= total for done, total in calls)


BAD_CELLS = [
    ("BEANIE-CHA,19.00,", 'BEANIE-CHA,"19,99€",', 6,
     'price "19,99€" is not a plain decimal number such as 19.99'),
    ("BEANIE-CHA,19.00,", "BEANIE-CHA,abc,", 6,
     'price "abc" is not a plain decimal number such as 19.99'),
    ("BEANIE-CHA,19.00,", "BEANIE-CHA,,", 6, "price is empty"),
    ("BEANIE-CHA,19.00,", "BEANIE-CHA,-19.00,", 6, 'price "-19.00" is negative'),
    ("BEANIE-CHA,19.00,", "BEANIE-CHA,19.001,", 6,
     'price "19.001" has more than 2 decimal places for EUR'),
    ("MATCHA-40,2480,", "MATCHA-40,2480.5,", 7,
     'price "2480.5" has more than 0 decimal places for JPY'),
    ("BEANIE-CHA,19.00,EUR,25,", "BEANIE-CHA,19.00,EUR,-3,", 6, "stock -3 is negative"),
    ("BEANIE-CHA,19.00,EUR,25,", "BEANIE-CHA,19.00,EUR,2.5,", 6,
     'stock "2.5" is not a whole number'),
    ("EUR,25,5,85,", "EUR,25,5,heavy,", 6, 'weight_grams "heavy" is not a whole number'),
    ("EUR,25,5,85,", "EUR,25,few,85,", 6, 'low_stock_threshold "few" is not a whole number'),
    ("BEANIE-CHA,19.00,EUR,", "BEANIE-CHA,19.00,EURO,", 6,
     'currency "EURO" is unknown (expected an ISO 4217 code such as EUR)'),
    ("EBOOK-SD-EPUB", "EBOOK-SD-PDF", 9, 'SKU "EBOOK-SD-PDF" is already used on line 8'),
    ("merino-beanie,Merino", ",Merino", 6, "handle is empty"),
    ("merino-beanie,Merino Rib Beanie,", "merino-beanie,,", 6, "title is empty"),
    ("Charcoal,,,BEANIE-CHA,", "Charcoal,,,,", 6, "sku is empty"),
    ("classic-tee,Classic Organic Cotton Tee,,Clothing/T-shirts,Size,L",
     "classic-tee,Classic Tee,,Clothing/T-shirts,Size,L", 5,
     'title "Classic Tee" differs from "Classic Organic Cotton Tee" on line 2'),
    ("classic-tee,Classic Organic Cotton Tee,,Clothing/T-shirts,Size,L",
     "classic-tee,Classic Organic Cotton Tee,,Clothing/Tops,Size,L", 5,
     'category "Clothing/Tops" differs from "Clothing/T-shirts" on line 2'),
    ("merino-beanie,Merino", "m" * 201 + ",Merino", 6,
     "handle is 201 characters long (at most 200)"),
    ("Merino Rib Beanie", "B" * 301, 6, "title is 301 characters long (at most 300)"),
    ("BEANIE-CHA,", "B" * 101 + ",", 6, "sku is 101 characters long (at most 100)"),
    ("https://cdn.example.com/img/beanie.jpg", "https://cdn.example.com/" + "b" * 1977, 6,
     "image_url is 2001 characters long (at most 2000)"),
    ("img/beanie.jpg,false", "img/beanie.jpg,maybe", 6, 'digital "maybe" is not true or false'),
    ("Soft 100% merino wool; one size", "Soft, 100% merino wool; one size", 6,
     "the row has 17 values but the header has 16 columns"),
    ("Colour,Charcoal,,,BEANIE", "Colour,,,,BEANIE", 6,
     'option1_value is empty but the product has the option "Colour"'),
    ("TEE-L-BLK", "TEE-M-BLK", 5, 'SKU "TEE-M-BLK" is already used on line 2'),
    ("Size,L,Colour,Black,TEE-L-BLK", "Size,M,Colour,Black,TEE-L-BLK", 5,
     'options M / Black repeat line 2 of product "classic-tee"'),
    ("TEE-M-BLK,24.90,", "TEE-M-BLK,24.9O,", 2, 'price "24.9O" is not a plain decimal number'),
]


@pytest.mark.parametrize(("old", "new", "line", "message"), BAD_CELLS,
                         ids=[case[3][:40] for case in BAD_CELLS])
async def test_bad_cell_rejects_the_whole_file(database: Database, tmp_path: Path, old: str,
                                               new: str, line: int, message: str) -> None:
    await run_import(database, SAMPLE)
    before = await snapshot(database)
    # Valid changes elsewhere in the same file must not be written either.
    path = edited(tmp_path, old, new, edited(tmp_path, ",9.99,EUR,1000,", ",8.99,EUR,900,"))

    report = await run_import(database, path)

    assert not report.committed
    assert [(e.line, e.message[: len(message)]) for e in report.errors] == [(line, message)]
    assert report.rejected == 1
    assert await snapshot(database) == before


async def test_all_errors_are_reported_in_line_order(database: Database, tmp_path: Path) -> None:
    path = edited(tmp_path, "MATCHA-40,2480,", "MATCHA-40,-1,")
    path = edited(tmp_path, "TEE-M-WHT,24.90,EUR,3,", "TEE-M-WHT,24.90,EUR,lots,", path)

    report = await run_import(database, path)

    assert [e.line for e in report.errors] == [4, 7]
    assert report.rejected == 2
    assert set((await counts(database)).values()) == {0}


async def test_sku_of_another_product_is_refused(database: Database, tmp_path: Path) -> None:
    await run_import(database, SAMPLE)
    before = await snapshot(database)
    path = tmp_path / "other.csv"
    path.write_text(SAMPLE.read_text().splitlines()[0] + "\n"
                    "beanie-bundle,Beanie Bundle,,,,,,,BEANIE-CHA,30.00,EUR,5,,,,\n"
                    "wool-socks,Wool Socks,,,,,,,SOCKS-1,9.00,EUR,5,,,,\n")

    report = await run_import(database, path)

    assert [str(e) for e in report.errors] == [
        'line 2: SKU "BEANIE-CHA" already belongs to product "merino-beanie"']
    assert await snapshot(database) == before


async def test_missing_column_is_reported_once(database: Database, tmp_path: Path) -> None:
    lines = SAMPLE.read_text().splitlines()
    path = tmp_path / "no-price.csv"
    path.write_text("\n".join(line.replace(",price,", ",cost,") for line in lines) + "\n")

    report = await run_import(database, path)

    assert not report.committed
    assert len(report.errors) == 1
    assert report.errors[0].line == 1
    assert report.errors[0].message.startswith('the header has no "price" column')
    assert set((await counts(database)).values()) == {0}


async def test_many_missing_columns_are_one_line(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "two-columns.csv"
    path.write_text("handle,title\ntee,Tee\n")

    report = await run_import(database, path)

    assert [(e.line, e.message.split(" (expected")[0]) for e in report.errors] == [
        (1, 'the header has no "description", "category", "option1_name", "option1_value", '
            '"option2_name", "option2_value", "sku", "price", "currency", "stock", '
            '"low_stock_threshold", "weight_grams", "image_url", "digital" columns')]


async def test_bom_and_crlf(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    text = SAMPLE.read_text(encoding="utf-8")
    # Excel ends records with CRLF but keeps a bare LF inside a quoted cell.
    records = text.replace("pre-shrunk.\nMachine", "pre-shrunk.\x00Machine").split("\n")
    crlf = "\r\n".join(records).replace("\x00", "\n")
    path.write_bytes(b"\xef\xbb\xbf" + crlf.encode("utf-8"))

    report = await run_import(database, path)

    assert report.committed and report.variants_created == 7
    tee = await product(database, "classic-tee")
    assert tee.handle == "classic-tee"  # no BOM glued to the first column
    assert tee.description == "Heavyweight organic cotton, pre-shrunk.\nMachine wash at 30 °C."
    assert (await variant(database, "EBOOK-SD-EPUB")).digital is True

    bad = tmp_path / "excel-bad.csv"
    bad.write_bytes(b"\xef\xbb\xbf" + crlf.replace("MATCHA-40,2480,", "MATCHA-40,x,")
                    .encode("utf-8"))
    assert [e.line for e in (await run_import(database, bad)).errors] == [7]


async def test_multiline_cells_keep_line_numbers(database: Database, tmp_path: Path) -> None:
    path = edited(tmp_path, "Soft 100% merino wool; one size fits most.",
                  '"Soft 100% merino wool.\n\nOne size\nfits most."')
    path = edited(tmp_path, "MATCHA-40,2480,", "MATCHA-40,free,", path)

    report = await run_import(database, path)

    assert [e.line for e in report.errors] == [10]


HEADER = SAMPLE.read_bytes().split(b"\n")[0] + b"\n"


@pytest.mark.parametrize(("content", "message"), [
    (b"", "is empty"),
    (b"\xef\xbb\xbf", "is empty"),
    (b"\n\r\n\n", "is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "binary"),
    (HEADER + "caf\u00e9,Caf\u00e9\n".encode("cp1252"), "line 2 is not UTF-8 text"),
    (HEADER + b'"unterminated,' + b"x" * (1 << 20), "line 2 is longer than 1 MB"),
], ids=["empty", "bom-only", "blank-lines", "png", "cp1252", "huge-line"])
async def test_unreadable_files(database: Database, tmp_path: Path, content: bytes,
                                message: str) -> None:
    path = tmp_path / "catalog.csv"
    path.write_bytes(content)

    with pytest.raises(ImportFileError, match=message) as raised:
        await run_import(database, path)

    assert isinstance(raised.value, InvalidInput)
    assert set((await counts(database)).values()) == {0}


async def test_missing_file_and_directory(database: Database, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        await run_import(database, tmp_path / "nope.csv")
    with pytest.raises(ImportFileError, match="is a directory"):
        await run_import(database, tmp_path)


async def test_header_only_file_imports_nothing(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    shutil.copyfile(SAMPLE, path)
    path.write_text(SAMPLE.read_text().splitlines()[0] + "\n")

    report = await run_import(database, path)

    assert report.committed and report.products_created == 0 and not report.errors
