"""Catalog export to the native CSV, byte for byte reproducible.

Products come in handle order and variants in position order; prices are exact
major-unit strings. The file is written next to the target under a temporary
name and renamed at the end, so a failed export leaves no half-written file.
Products without variants have no row to go in and are not exported.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.catalog.csv_native import native_header
from shop.catalog.models import Category, Product, Variant
from shop.errors import InvalidInput
from shop.money import to_major_str

BATCH = 500


class ExportFileError(InvalidInput):
    """The export file cannot be written where asked."""

    code = "export_file"


async def export_catalog(
    sessions: async_sessionmaker[AsyncSession],
    path: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the whole catalog as a native CSV at `path`; return the number of data rows.

    `progress(done, total)` counts variant rows. Raises `ExportFileError` when
    the target's folder is missing or not writable.
    """
    target = Path(path)
    handle, temp_name = _open_temp(target)
    try:
        # One transaction, so the export is one consistent snapshot.
        async with sessions() as session, session.begin():
            rows = await _write(session, handle, progress)
        handle.close()
        os.replace(temp_name, target)
    except BaseException:
        handle.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    return rows


def _open_temp(target: Path) -> tuple[IO[str], str]:
    if target.is_dir():
        raise ExportFileError(f"{target} is a directory; give a file name")
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                    suffix=".part")
    except FileNotFoundError:
        raise ExportFileError(f"{target.parent}: no such folder") from None
    except OSError as error:
        raise ExportFileError(f"{target}: cannot be written ({error.strerror})") from None
    return os.fdopen(fd, "w", encoding="utf-8", newline=""), name


async def _write(session: AsyncSession, handle: IO[str],
                 progress: Callable[[int, int], None] | None) -> int:
    total = await session.scalar(select(func.count()).select_from(Variant)) or 0
    with_option3 = bool(await session.scalar(
        select(func.count()).select_from(Product).where(Product.option3_name.is_not(None))))
    categories = dict((await session.execute(select(Category.id, Category.path))).tuples().all())
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(native_header(with_option3))
    written = 0
    async for product, variants in _products(session):
        category = categories.get(product.category_id, "") if product.category_id else ""
        names = (product.option1_name, product.option2_name, product.option3_name)
        for variant in variants:
            values = (variant.option1, variant.option2, variant.option3)
            row = [
                product.handle, product.title, product.description, category,
                names[0] or "", values[0] or "", names[1] or "", values[1] or "",
                variant.sku, to_major_str(variant.price, variant.currency), variant.currency,
                str(variant.stock), str(variant.low_stock_threshold),
                str(variant.weight_grams), variant.image_url or "",
                "true" if variant.digital else "false",
            ]
            if with_option3:
                row += [names[2] or "", values[2] or ""]
            writer.writerow(row)
            written += 1
        if progress is not None:
            progress(written, total)
    return written


async def _products(session: AsyncSession) -> AsyncIterator[tuple[Any, list[Any]]]:
    """Products in handle order with their variants, fetched a batch at a time."""
    # Byte order on every backend (PostgreSQL's default collation is the locale's).
    order = (Product.handle.collate("C") if session.bind.dialect.name == "postgresql"
             else Product.handle)
    after = ""
    while True:
        products = (await session.execute(
            select(Product.id, Product.handle, Product.title, Product.description,
                   Product.category_id, Product.option1_name, Product.option2_name,
                   Product.option3_name)
            .where(order > after).order_by(order).limit(BATCH)
        )).all()
        if not products:
            return
        variants: dict[int, list[Any]] = {}
        result = await session.execute(
            select(Variant.product_id, Variant.sku, Variant.option1, Variant.option2,
                   Variant.option3, Variant.price, Variant.currency, Variant.stock,
                   Variant.low_stock_threshold, Variant.weight_grams, Variant.image_url,
                   Variant.digital)
            .where(Variant.product_id.in_([p.id for p in products]))
            .order_by(Variant.product_id, Variant.position, Variant.id)
        )
        for row in result:
            variants.setdefault(row.product_id, []).append(row)
        for product in products:
            yield product, variants.get(product.id, [])
        after = products[-1].handle
