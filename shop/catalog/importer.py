"""Catalog import: a whole CSV file checked first, then written in one transaction, or not at all.

Products are matched by handle and variants by SKU. Each product and variant is
compared field by field, so a re-import of the same file writes nothing. A
product counts as updated when its own fields, its images or any of its
variants changed. Variants in the database but absent from the file are left
as they are (an import never deletes); a product's images are replaced to
match the file. Stock set by an import is recorded as a `StockAdjustment`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import Row, Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.catalog.categories import ensure_category_paths
from shop.catalog.changes import record_products
from shop.catalog.csv_common import (
    ParsedProduct,
    ParsedVariant,
    ParseResult,
    RowError,
    RowWarning,
    quoted,
)
from shop.catalog.csv_native import parse_native
from shop.catalog.csv_shopify import parse_shopify
from shop.catalog.models import Category, Product, ProductImage, StockAdjustment, Variant
from shop.db.base import utcnow

__all__ = ["ImportReport", "RowError", "RowWarning", "import_catalog"]

BATCH = 500
_WRITE_CHUNK = 5000
_PRODUCT_FIELDS = ("title", "description", "category_id", "option1_name", "option2_name",
                   "option3_name", "active")
_VARIANT_FIELDS = ("product_id", "position", "option1", "option2", "option3", "price",
                   "currency", "stock", "low_stock_threshold", "weight_grams", "digital",
                   "image_url")
_products = cast(Table, Product.__table__)
_variants = cast(Table, Variant.__table__)
_images = cast(Table, ProductImage.__table__)
_adjustments = cast(Table, StockAdjustment.__table__)


@dataclass
class ImportReport:
    """What an import did, or would do (dry run), or why it did nothing."""

    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    variants_created: int = 0
    variants_updated: int = 0
    variants_unchanged: int = 0
    rejected: int = 0  # data rows with at least one error
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowWarning] = field(default_factory=list)
    committed: bool = False
    # Products created or updated, so a caller can refresh its search index.
    changed_product_ids: list[int] = field(default_factory=list)


@dataclass
class _Existing:
    """What the database holds for one group of the file's products."""

    products: dict[str, dict[str, Any]]  # by handle
    images: dict[int, list[str]]  # by product id, in position order
    variants: dict[str, Row[Any]]  # by SKU, with the owning product's handle


@dataclass
class _Plan:
    categories: dict[int, str]  # every category's path, by id
    product_ids: dict[str, int] = field(default_factory=dict)  # existing products, by handle
    new_products: list[ParsedProduct] = field(default_factory=list)
    changed_products: list[tuple[ParsedProduct, bool]] = field(default_factory=list)  # + active
    image_products: list[ParsedProduct] = field(default_factory=list)
    new_variants: list[tuple[ParsedProduct, ParsedVariant, int]] = field(default_factory=list)
    variant_rows: list[dict[str, Any]] = field(default_factory=list)  # updates, by "_id"
    # (variant id, or None for a new variant, SKU, stock before, stock after, threshold)
    stock_moves: list[tuple[int | None, str, int, int, int]] = field(default_factory=list)
    category_paths: set[str] = field(default_factory=set)


async def import_catalog(
    sessions: async_sessionmaker[AsyncSession],
    path: str | Path,
    *,
    fmt: Literal["native", "shopify"],
    currency: str,
    low_stock_threshold: int,
    progress: Callable[[int, int], None] | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Import a catalog CSV: all rows or none.

    Every row is parsed and checked (including SKUs owned by other products in
    the database) before anything is written; with any error the report lists
    them all, sorted by line, and nothing is written. `progress(done, total)` is
    called on the event loop: reading the file covers the first half of
    `total`, writing the second. Raises `ImportFileError` when the file cannot
    be read as CSV at all. `dry_run` checks and counts but writes nothing.
    """
    file = Path(path)
    loop = asyncio.get_running_loop()
    report_progress: Callable[[int, int], None] | None = None
    if progress is not None:
        callback = progress

        def report_progress(done: int, total: int) -> None:
            loop.call_soon_threadsafe(callback, done, total * 2)

    parser = parse_native if fmt == "native" else parse_shopify
    # Parsing a large file takes seconds of CPU: off the event loop, so bots keep answering.
    parsed = await asyncio.to_thread(parser, file, currency=currency,
                                     low_stock_threshold=low_stock_threshold,
                                     progress=report_progress)
    report = ImportReport(warnings=sorted(parsed.warnings, key=lambda w: w.line))
    if any(error.line == 1 for error in parsed.errors):
        return _rejected(report, parsed)
    async with sessions() as session:
        rows = await session.execute(select(Category.id, Category.path))
        plan = _Plan(categories=dict(rows.tuples().all()))
        # A group at a time, so only a group's stored rows are in memory at once.
        for group in _groups(parsed.products):
            existing = await _load(session, group, lock=not dry_run)
            _check_owners(parsed, group, existing)
            _plan(plan, group, existing, report)
        if parsed.errors:
            await session.rollback()
            return _rejected(ImportReport(warnings=report.warnings), parsed)
        if dry_run:
            await session.rollback()
            return report
        writer = _Writer(session, plan, report, None if progress is None else
                         lambda done, total: progress(total + done, total * 2))
        await writer.run(file.name)
        record_products(session, report.changed_product_ids)
        await session.commit()
    report.changed_product_ids.sort()
    report.committed = True
    if progress is not None:
        progress(1, 1)
    return report


def _rejected(report: ImportReport, parsed: ParseResult) -> ImportReport:
    report.errors = sorted(parsed.errors, key=lambda e: e.line)
    report.rejected = len(parsed.rejected_lines)
    return report


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _groups(products: list[ParsedProduct]) -> Iterator[list[ParsedProduct]]:
    group: list[ParsedProduct] = []
    size = 0
    for product in products:
        group.append(product)
        size += len(product.variants)
        if size >= BATCH or len(group) >= BATCH:
            yield group
            group, size = [], 0
    if group:
        yield group


async def _load(session: AsyncSession, products: list[ParsedProduct], *, lock: bool) -> _Existing:
    existing = _Existing({}, {}, {})
    product_columns = [_products.c.id, _products.c.handle,
                       *(_products.c[f] for f in _PRODUCT_FIELDS)]
    query = select(*product_columns).where(_products.c.handle.in_([p.handle for p in products]))
    result = await session.execute(query)
    existing.products.update({row["handle"]: dict(row) for row in result.mappings()})
    if existing.products:
        result = await session.execute(
            select(ProductImage.product_id, ProductImage.url)
            .where(ProductImage.product_id.in_([p["id"] for p in existing.products.values()]))
            .order_by(ProductImage.product_id, ProductImage.position)
        )
        for product_id, url in result.tuples():
            existing.images.setdefault(product_id, []).append(url)
    variant_columns = [_variants.c.id, _variants.c.sku, *(_variants.c[f] for f in _VARIANT_FIELDS)]
    for chunk in _chunks([v.sku for p in products for v in p.variants]):
        query = (select(*variant_columns, _products.c.handle)
                 .join(_products, _products.c.id == _variants.c.product_id)
                 .where(_variants.c.sku.in_(chunk)))
        if lock:
            # Orders may move stock meanwhile; the delta recorded must be against what we replace.
            query = query.with_for_update(of=_variants)
        result = await session.execute(query)
        existing.variants.update({row.sku: row for row in result})
    return existing


def _check_owners(parsed: ParseResult, group: list[ParsedProduct], existing: _Existing) -> None:
    for product in group:
        for variant in product.variants:
            row = existing.variants.get(variant.sku)
            if row is not None and row.handle != product.handle:
                parsed.error(variant.line, f"SKU {quoted(variant.sku)} already belongs to "
                                           f"product {quoted(row.handle)}")


def _plan(plan: _Plan, products: list[ParsedProduct], existing: _Existing,
          report: ImportReport) -> None:
    for product in products:
        plan.category_paths.add(product.category_path)
        old = existing.products.get(product.handle)
        changed = False
        if old is None:
            plan.new_products.append(product)
            plan.image_products.append(product)
            report.products_created += 1
        else:
            plan.product_ids[product.handle] = old["id"]
            current = {f: old[f] for f in _PRODUCT_FIELDS}
            current["category_id"] = plan.categories.get(old["category_id"] or 0, "")
            changed = _product_values(product, old["active"]) != current
            if existing.images.get(old["id"], []) != product.images:
                plan.image_products.append(product)
                changed = True
        if _plan_variants(plan, product, existing, report) and old is not None:
            changed = True
        if old is not None and changed:
            plan.changed_products.append((product, old["active"]))
            report.products_updated += 1
            report.changed_product_ids.append(old["id"])
        elif old is not None:
            report.products_unchanged += 1


def _plan_variants(plan: _Plan, product: ParsedProduct, existing: _Existing,
                   report: ImportReport) -> bool:
    changed = False
    # Positions only need to increase in file order: keep the stored ones where they
    # already do, so an unchanged order is not rewritten.
    last_position = -1
    for variant in product.variants:
        row = existing.variants.get(variant.sku)
        if row is None:
            last_position += 1
            plan.new_variants.append((product, variant, last_position))
            if variant.stock:
                plan.stock_moves.append((None, variant.sku, 0, variant.stock, 0))
            report.variants_created += 1
            changed = True
            continue
        last_position = max(row.position, last_position + 1)
        values = _variant_values(variant, row.product_id, last_position, row.stock)
        if values == {f: row._mapping[f] for f in _VARIANT_FIELDS}:
            report.variants_unchanged += 1
            continue
        plan.variant_rows.append({"_id": row.id, **values})
        report.variants_updated += 1
        changed = True
        if values["stock"] != row.stock:
            plan.stock_moves.append((row.id, variant.sku, row.stock, values["stock"],
                                     values["low_stock_threshold"]))
    return changed


def _product_values(product: ParsedProduct, current_active: bool) -> dict[str, Any]:
    names = (*product.option_names, None, None, None)
    return {
        "title": product.title, "description": product.description,
        # A path here; turned into an id once categories exist.
        "category_id": product.category_path,
        "option1_name": names[0], "option2_name": names[1], "option3_name": names[2],
        "active": current_active if product.active is None else product.active,
    }


def _variant_values(variant: ParsedVariant, product_id: int, position: int,
                    current_stock: int) -> dict[str, Any]:
    options = (*variant.options, None, None, None)
    return {
        "product_id": product_id, "position": position,
        "option1": options[0], "option2": options[1], "option3": options[2],
        "price": variant.price, "currency": variant.currency,
        "stock": current_stock if variant.stock is None else variant.stock,
        "low_stock_threshold": variant.low_stock_threshold,
        "weight_grams": variant.weight_grams, "digital": variant.digital,
        "image_url": variant.image_url,
    }


class _Writer:
    """Applies a plan with bulk statements, reporting progress per chunk."""

    def __init__(self, session: AsyncSession, plan: _Plan, report: ImportReport,
                 progress: Callable[[int, int], None] | None) -> None:
        self.session = session
        self.plan = plan
        self.report = report
        self.progress = progress
        self.now = utcnow()
        self.done = 0
        self.total = max(1, len(plan.new_products) + len(plan.changed_products)
                         + len(plan.new_variants) + len(plan.variant_rows))
        self.category_ids: dict[str, int] = {}
        self.product_ids = dict(plan.product_ids)  # plus the created ones, once inserted

    def advance(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)

    def product_row(self, product: ParsedProduct, active: bool) -> dict[str, Any]:
        values = _product_values(product, active)
        values["category_id"] = self.category_ids.get(product.category_path)
        return values

    async def run(self, filename: str) -> None:
        self.category_ids = await ensure_category_paths(self.session, self.plan.category_paths)
        await self.products()
        await self.images()
        variant_ids = await self.variants()
        await self.stock_moves(variant_ids, f"catalog import {filename}"[:500])

    async def products(self) -> None:
        for chunk in _chunks(self.plan.new_products, _WRITE_CHUNK):
            rows = [{"handle": p.handle, "created_at": self.now, "updated_at": self.now,
                     **self.product_row(p, True)} for p in chunk]
            result = await self.session.execute(
                insert(_products).returning(_products.c.id, _products.c.handle), rows)
            for ident, handle in result.tuples():
                self.product_ids[handle] = ident
                self.report.changed_product_ids.append(ident)
            self.advance(len(chunk))
        statement = update(_products).where(_products.c.id == bindparam("_id")).values(
            {f: bindparam(f) for f in (*_PRODUCT_FIELDS, "updated_at")})
        for chunk in _chunks(self.plan.changed_products, _WRITE_CHUNK):
            await self.session.execute(statement, [
                {"_id": self.product_ids[p.handle], "updated_at": self.now,
                 **self.product_row(p, active)} for p, active in chunk])
            self.advance(len(chunk))

    async def images(self) -> None:
        replaced = [self.plan.product_ids[p.handle] for p in self.plan.image_products
                    if p.handle in self.plan.product_ids]
        for id_chunk in _chunks(replaced):
            await self.session.execute(
                delete(ProductImage).where(ProductImage.product_id.in_(id_chunk)))
        rows = [{"product_id": self.product_ids[p.handle], "position": i, "url": url}
                for p in self.plan.image_products for i, url in enumerate(p.images)]
        for chunk in _chunks(rows, _WRITE_CHUNK):
            await self.session.execute(insert(_images), list(chunk))

    async def variants(self) -> dict[str, int]:
        ids: dict[str, int] = {}
        for chunk in _chunks(self.plan.new_variants, _WRITE_CHUNK):
            rows = [{"sku": v.sku, **_variant_values(v, self.product_ids[p.handle], pos, 0)}
                    for p, v, pos in chunk]
            result = await self.session.execute(
                insert(_variants).returning(_variants.c.id, _variants.c.sku), rows)
            ids.update({sku: ident for ident, sku in result.tuples()})
            self.advance(len(chunk))
        statement = update(_variants).where(_variants.c.id == bindparam("_id")).values(
            {f: bindparam(f) for f in _VARIANT_FIELDS})
        for chunk in _chunks(self.plan.variant_rows, _WRITE_CHUNK):
            await self.session.execute(statement, list(chunk))
            self.advance(len(chunk))
        return ids

    async def stock_moves(self, new_ids: dict[str, int], reason: str) -> None:
        rows = [{"variant_id": new_ids[sku] if ident is None else ident, "delta": new - old,
                 "stock_after": new, "actor": "import", "reason": reason,
                 "crossed_low_threshold": old > threshold >= new, "created_at": self.now}
                for ident, sku, old, new, threshold in self.plan.stock_moves]
        for chunk in _chunks(rows, _WRITE_CHUNK):
            await self.session.execute(insert(_adjustments), list(chunk))
