"""Catalog export: exact round trips, third options, atomic writes, and a 50 MB import."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from shop.catalog.exporter import ExportFileError, export_catalog
from shop.catalog.models import Category, Product, ProductImage, StockAdjustment, Variant
from tests.conftest import Database
from tests.test_import_native import SAMPLE, counts, run_import, snapshot, variant

EXPECTED_FIRST_ROWS = (
    "handle,title,description,category,option1_name,option1_value,option2_name,option2_value,"
    "sku,price,currency,stock,low_stock_threshold,weight_grams,image_url,digital\n"
    'classic-tee,Classic Organic Cotton Tee,"Heavyweight organic cotton, pre-shrunk.\n'
    'Machine wash at 30 °C.",Clothing/T-shirts,Size,M,Colour,Black,TEE-M-BLK,24.90,EUR,12,5,'
    "180,https://cdn.example.com/img/tee-black.jpg,false\n"
)


async def empty_catalog(database: Database) -> None:
    async with database.sessions() as session, session.begin():
        for model in (StockAdjustment, ProductImage, Variant, Product):
            await session.execute(delete(model))
        # Children before parents: the tree's foreign key is RESTRICT.
        for depth in range(5, -1, -1):
            await session.execute(delete(Category).where(
                func.length(Category.path) - func.length(func.replace(Category.path, "/", ""))
                == depth))


async def test_export_format(database: Database, tmp_path: Path) -> None:
    await run_import(database, SAMPLE)
    target = tmp_path / "export.csv"

    rows = await export_catalog(database.sessions, target)

    data = target.read_bytes()
    assert rows == 7
    assert data.decode("utf-8").startswith(EXPECTED_FIRST_ROWS)
    assert not data.startswith(b"\xef\xbb\xbf") and b"\r" not in data
    text = data.decode("utf-8")
    handles = [line.split(",")[0] for line in text.splitlines()[1:] if line.count(",") > 10]
    assert handles == sorted(handles)
    assert "MATCHA-40,2480,JPY,40,10,60," in text
    assert "EBOOK-SD-PDF,9.99,EUR,1000,0,0,,true\n" in text
    assert "TEE-L-BLK,26.50,EUR,0,5,190," in text


async def test_round_trip_is_byte_identical(database: Database, tmp_path: Path) -> None:
    await run_import(database, SAMPLE)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    await export_catalog(database.sessions, first)

    again = await run_import(database, first)
    assert (again.products_unchanged, again.variants_unchanged) == (4, 7)
    assert again.products_updated == again.variants_updated == 0

    await empty_catalog(database)
    assert set((await counts(database)).values()) == {0}
    report = await run_import(database, first)
    assert report.committed and report.variants_created == 7
    await export_catalog(database.sessions, second)

    assert second.read_bytes() == first.read_bytes()


async def test_third_option_columns(database: Database, tmp_path: Path) -> None:
    source = tmp_path / "three.csv"
    header = SAMPLE.read_text().splitlines()[0]
    source.write_text(
        f"{header},option3_name,option3_value\n"
        "hoodie,Zip Hoodie,,Clothing/Hoodies,Size,M,Colour,Grey,HOOD-M-G-S,59.00,EUR,4,,600,,"
        "false,Fit,Slim\n"
        "hoodie,Zip Hoodie,,Clothing/Hoodies,Size,M,Colour,Grey,HOOD-M-G-R,59.00,EUR,6,,600,,"
        "false,Fit,Regular\n"
        "socks,Wool Socks,,Clothing/Socks,,,,,SOCKS-1,9.50,EUR,30,,80,,false,,\n")
    report = await run_import(database, source)
    assert report.committed, report.errors
    assert (await variant(database, "HOOD-M-G-R")).option3 == "Regular"
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"

    await export_catalog(database.sessions, first)
    lines = first.read_text().splitlines()
    assert lines[0].endswith(",digital,option3_name,option3_value")
    assert lines[1].endswith(",false,Fit,Slim")
    assert lines[3].endswith(",false,,")

    await empty_catalog(database)
    await run_import(database, first)
    await export_catalog(database.sessions, second)
    assert second.read_bytes() == first.read_bytes()


async def test_no_third_option_columns_without_third_options(database: Database,
                                                             tmp_path: Path) -> None:
    await run_import(database, SAMPLE)
    target = tmp_path / "out.csv"
    await export_catalog(database.sessions, target)
    assert target.read_text().splitlines()[0].endswith(",image_url,digital")


async def test_failed_export_leaves_no_file(database: Database, tmp_path: Path) -> None:
    await run_import(database, SAMPLE)
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "out.csv"
    target.write_text("previous export\n")

    def explode(done: int, total: int) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        await export_catalog(database.sessions, target, progress=explode)

    assert target.read_text() == "previous export\n"
    assert [p.name for p in folder.iterdir()] == ["out.csv"]


async def test_export_to_missing_folder(database: Database, tmp_path: Path) -> None:
    with pytest.raises(ExportFileError, match="no such folder"):
        await export_catalog(database.sessions, tmp_path / "nope" / "out.csv")
    with pytest.raises(ExportFileError, match="is a directory"):
        await export_catalog(database.sessions, tmp_path)


def write_large_catalog(path: Path, products: int = 50_000, variants: int = 5) -> int:
    """About 50 MB of native CSV: returns the line of the last data row."""
    rnd = random.Random(7)
    sizes, colours = ["XS", "S", "M", "L", "XL"], ["Black", "White", "Navy", "Olive", "Sand"]
    header = SAMPLE.read_text().splitlines()[0]
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(header + "\n")
        for p in range(products):
            rows = [
                f"item-{p:06d},Northwind Classic Item {p},\"Everyday piece number {p}, organic "
                f"cotton\",Clothing/Group {p % 40},Size,{sizes[v]},Colour,{colours[(p + v) % 5]},"
                f"NW-{p:06d}-{v},{rnd.randint(500, 20000) / 100:.2f},EUR,{rnd.randint(0, 300)},"
                f"5,{rnd.randint(50, 900)},https://cdn.example.com/img/item-{p:06d}-{v}.jpg,"
                "false\n"
                for v in range(variants)
            ]
            out.writelines(rows)
    return products * variants + 1


@pytest.mark.slow
async def test_large_file(database: Database, tmp_path: Path) -> None:
    if database.backend != "sqlite":
        pytest.skip("the 50 MB import is measured on SQLite only")
    path = tmp_path / "large.csv"
    last_line = write_large_catalog(path)
    assert path.stat().st_size > 45_000_000

    started = time.perf_counter()
    report = await run_import(database, path)
    elapsed = time.perf_counter() - started
    print(f"\n50 MB import: {elapsed:.1f} s")

    assert report.committed, report.errors[:3]
    assert (report.products_created, report.variants_created) == (50_000, 250_000)
    assert elapsed < 90
    first = await variant(database, "NW-000000-0")
    totals = await counts(database)
    assert totals["products"] == 50_000 and totals["variants"] == 250_000

    # A price change at the top and one bad row near the end: nothing may be written.
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(f"NW-000000-0,{first.price / 100:.2f},")
    lines = (head + "NW-000000-0,0.01," + rest).split("\n")
    lines[last_line - 3] = lines[last_line - 3].replace(",EUR,", ",EUR,-7,", 1).replace(
        ",5,", ",", 1)
    path.write_text("\n".join(lines), encoding="utf-8")

    report = await run_import(database, path)

    assert not report.committed
    assert [(e.line, e.message) for e in report.errors] == [(last_line - 2, "stock -7 is negative")]
    assert (await variant(database, "NW-000000-0")).price == first.price
    assert await counts(database) == totals


async def test_snapshot_helper_sees_changes(database: Database) -> None:
    """The snapshot comparison used above must notice a write (guards the guards)."""
    await run_import(database, SAMPLE)
    before = await snapshot(database)
    async with database.sessions() as session, session.begin():
        row = await session.scalar(select(Variant).where(Variant.sku == "MATCHA-40"))
        assert row is not None
        row.stock += 1
    assert await snapshot(database) != before
