"""Read side of the catalog: categories, listings, product details, search documents."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shop.catalog.models import Category, Product, ProductImage, Variant
from shop.catalog.search import SearchDoc
from shop.catalog.types import (
    CategoryInfo,
    LowStock,
    Page,
    ProductDetail,
    ProductSummary,
    VariantInfo,
)
from shop.errors import InputReason, InvalidInput, NotFound
from shop.money import Money

MAX_PAGE_SIZE = 100


def check_page(page: int, page_size: int) -> None:
    if page < 1:
        raise InvalidInput(f"page must be 1 or more, not {page}", field="page",
                           reason=InputReason.OUT_OF_RANGE, minimum=1)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}",
                           field="page_size", reason=InputReason.OUT_OF_RANGE, minimum=1,
                           maximum=MAX_PAGE_SIZE)


async def list_categories(session: AsyncSession) -> list[CategoryInfo]:
    categories = (await session.execute(select(Category).order_by(Category.path))).scalars()
    direct = dict(
        (
            await session.execute(
                select(Product.category_id, func.count())
                .where(Product.active.is_(True), Product.category_id.is_not(None))
                .group_by(Product.category_id)
            )
        ).tuples().all()
    )
    rows = list(categories)
    by_id = {c.id: c for c in rows}
    totals: dict[int, int] = defaultdict(int)
    for category_id, count in direct.items():
        node: Category | None = by_id.get(category_id) if category_id is not None else None
        while node is not None:
            totals[node.id] += count
            node = by_id.get(node.parent_id) if node.parent_id is not None else None
    return [
        CategoryInfo(c.id, c.name, c.path, c.parent_id, c.path.count("/"), totals[c.id])
        for c in rows
    ]


def _in_category(path: str) -> Select[tuple[int]]:
    return select(Category.id).where(or_(Category.path == path, Category.path.like(
        path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%", escape="\\"
    )))


# Search results, category pages and carts read these on most updates, so they are Core
# statements built once (SQLAlchemy memoizes their cache keys) returning plain rows: the
# ORM's compilation of the same select cost several times as much CPU.
PRODUCTS = Product.__table__
VARIANTS = Variant.__table__
_IMAGES = ProductImage.__table__
_CATEGORIES = Category.__table__
# A product's first image, as a column of a query over products.
FIRST_IMAGE = (select(_IMAGES.c.url).where(_IMAGES.c.product_id == PRODUCTS.c.id)
               .order_by(_IMAGES.c.position, _IMAGES.c.id).limit(1)
               .correlate(PRODUCTS).scalar_subquery())
_SUMMARY = (
    select(
        PRODUCTS.c.id,
        PRODUCTS.c.handle,
        PRODUCTS.c.title,
        _CATEGORIES.c.path,
        func.min(VARIANTS.c.price),
        func.max(VARIANTS.c.price),
        func.min(VARIANTS.c.currency),
        func.coalesce(func.sum(VARIANTS.c.stock), 0),
        func.min(cast(VARIANTS.c.digital, Integer)),
        FIRST_IMAGE,
    )
    .join_from(PRODUCTS, VARIANTS, VARIANTS.c.product_id == PRODUCTS.c.id)
    .outerjoin(_CATEGORIES, _CATEGORIES.c.id == PRODUCTS.c.category_id)
    .group_by(PRODUCTS.c.id, PRODUCTS.c.handle, PRODUCTS.c.title, _CATEGORIES.c.path)
)
_SUMMARIES_BY_ID = _SUMMARY.where(PRODUCTS.c.id.in_(bindparam("ids", expanding=True)))


async def summaries(session: AsyncSession, product_ids: Sequence[int]) -> list[ProductSummary]:
    """Summaries for these products, in the order given (unknown ids are left out)."""
    if not product_ids:
        return []
    rows = (await session.execute(_SUMMARIES_BY_ID, {"ids": list(product_ids)})).all()
    by_id = {row[0]: _summary(row) for row in rows}
    return [by_id[i] for i in product_ids if i in by_id]


def _summary(row: Sequence[object]) -> ProductSummary:
    pid, handle, title, path, low, high, currency, stock, all_digital, image = row
    assert isinstance(pid, int) and isinstance(currency, str)
    return ProductSummary(
        id=pid,
        handle=str(handle),
        title=str(title),
        category_path=str(path or ""),
        min_price=Money(currency, int(str(low))),
        max_price=Money(currency, int(str(high))),
        stock=int(str(stock)),
        image_url=None if image is None else str(image),
        digital=bool(all_digital),
    )


async def list_products(
    session: AsyncSession, category_path: str | None, page: int, page_size: int
) -> Page[ProductSummary]:
    check_page(page, page_size)
    condition: ColumnElement[bool] = Product.active.is_(True)
    if category_path:
        condition = and_(condition, Product.category_id.in_(_in_category(category_path)))
    has_variant = select(Variant.id).where(Variant.product_id == Product.id).exists()
    total = (
        await session.execute(select(func.count()).select_from(Product).where(condition,
                                                                             has_variant))
    ).scalar_one()
    rows = (
        await session.execute(
            _SUMMARY
            .where(condition)
            .order_by(PRODUCTS.c.title, PRODUCTS.c.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    ).all()
    return Page([_summary(row) for row in rows], page, page_size, total)


# The product card is read on nearly every button press (the ORM's selectin loading of it
# cost about five times as much CPU as these statements).
VARIANT_COLUMNS = (VARIANTS.c.id, VARIANTS.c.product_id, VARIANTS.c.sku,
                    VARIANTS.c.option1, VARIANTS.c.option2, VARIANTS.c.option3,
                    VARIANTS.c.currency, VARIANTS.c.price, VARIANTS.c.stock,
                    VARIANTS.c.low_stock_threshold, VARIANTS.c.weight_grams,
                    VARIANTS.c.digital, VARIANTS.c.image_url)
# Rows of VARIANT_COLUMNS are this wide; the product's OPTION_NAMES often follow them.
VARIANT_WIDTH = len(VARIANT_COLUMNS)
OPTION_NAMES = (PRODUCTS.c.option1_name, PRODUCTS.c.option2_name, PRODUCTS.c.option3_name)
_PRODUCT_ROW = (
    select(PRODUCTS.c.id, PRODUCTS.c.handle, PRODUCTS.c.title, PRODUCTS.c.description,
           PRODUCTS.c.active, *OPTION_NAMES, _CATEGORIES.c.path)
    .select_from(PRODUCTS.outerjoin(_CATEGORIES, _CATEGORIES.c.id == PRODUCTS.c.category_id))
)
_PRODUCT_BY_ID = _PRODUCT_ROW.where(PRODUCTS.c.id == bindparam("ref"))
_PRODUCT_BY_HANDLE = _PRODUCT_ROW.where(PRODUCTS.c.handle == bindparam("ref"))
_PRODUCT_VARIANTS = (select(*VARIANT_COLUMNS)
                     .where(VARIANTS.c.product_id == bindparam("product_id"))
                     .order_by(VARIANTS.c.position, VARIANTS.c.id))
_PRODUCT_IMAGES = (select(_IMAGES.c.url).where(_IMAGES.c.product_id == bindparam("product_id"))
                   .order_by(_IMAGES.c.position))
_VARIANT_ROW = (select(*VARIANT_COLUMNS, *OPTION_NAMES)
                .join_from(VARIANTS, PRODUCTS, PRODUCTS.c.id == VARIANTS.c.product_id))
_VARIANT_BY_ID = _VARIANT_ROW.where(VARIANTS.c.id == bindparam("ref"))
_VARIANT_BY_SKU = _VARIANT_ROW.where(func.upper(VARIANTS.c.sku) == bindparam("ref"))


def variant_from_row(row: Sequence[Any], option_names: Sequence[str | None]) -> VariantInfo:
    (variant_id, product_id, sku, option1, option2, option3, currency, price, stock, threshold,
     weight, digital, image_url) = row[:VARIANT_WIDTH]
    options = tuple((name or "", value) for name, value
                    in zip(option_names, (option1, option2, option3), strict=True) if value)
    return VariantInfo(id=variant_id, product_id=product_id, sku=sku, options=options,
                       price=Money(currency, price), stock=stock,
                       low_stock_threshold=threshold, weight_grams=weight,
                       digital=bool(digital), image_url=image_url)


async def product_detail(
    session: AsyncSession, *, product_id: int | None = None, handle: str | None = None
) -> ProductDetail:
    ref: int | str
    if product_id is not None:
        query, ref = _PRODUCT_BY_ID, product_id
    elif handle is not None:
        query, ref = _PRODUCT_BY_HANDLE, handle
    else:
        raise InvalidInput("a product id or handle is needed", field="product",
                           reason=InputReason.REQUIRED)
    row = (await session.execute(query, {"ref": ref})).one_or_none()
    if row is None:
        raise NotFound(f"product {handle if product_id is None else product_id} does not exist",
                       what="product", ref=handle if product_id is None else product_id)
    pid, found_handle, title, description, active, name1, name2, name3, path = row
    names = (name1, name2, name3)
    variants = (await session.execute(_PRODUCT_VARIANTS, {"product_id": pid})).all()
    images = (await session.execute(_PRODUCT_IMAGES, {"product_id": pid})).scalars().all()
    return ProductDetail(
        id=pid,
        handle=found_handle,
        title=title,
        description=description,
        category_path=path or "",
        option_names=tuple(n for n in names if n),
        images=tuple(images),
        active=bool(active),
        variants=tuple(variant_from_row(v, names) for v in variants),
    )


async def variant_by(
    session: AsyncSession, *, variant_id: int | None = None, sku: str | None = None
) -> VariantInfo:
    ref: int | str
    if variant_id is not None:
        query, ref = _VARIANT_BY_ID, variant_id
    elif sku is not None:
        query, ref = _VARIANT_BY_SKU, sku.strip().upper()
    else:
        raise InvalidInput("a variant id or SKU is needed", field="variant",
                           reason=InputReason.REQUIRED)
    row = (await session.execute(query, {"ref": ref})).one_or_none()
    if row is None:
        raise NotFound(f"variant {sku if variant_id is None else variant_id} does not exist",
                       what="variant", ref=sku if variant_id is None else variant_id)
    return variant_from_row(row, row[VARIANT_WIDTH:])


async def low_stock(session: AsyncSession, limit: int | None = None) -> LowStock:
    """Variants at or below their low-stock threshold, emptiest first (at most `limit`), and
    how many there are in all (one scan: the count is a window over the whole result)."""
    query = (_VARIANT_ROW.add_columns(func.count().over())
             .where(PRODUCTS.c.active.is_(True),
                    VARIANTS.c.stock <= VARIANTS.c.low_stock_threshold)
             .order_by(VARIANTS.c.stock, VARIANTS.c.sku))
    if limit is not None:
        query = query.limit(limit)
    rows = (await session.execute(query)).all()
    names = slice(VARIANT_WIDTH, VARIANT_WIDTH + len(OPTION_NAMES))
    return LowStock([variant_from_row(row, row[names]) for row in rows],
                    int(rows[0][-1]) if rows else 0)


async def search_docs(
    session: AsyncSession, product_ids: Sequence[int] | None = None
) -> list[SearchDoc]:
    """Search documents of active products (all, or only these)."""
    query = (
        select(Product.id, Product.title, Category.path, Variant.option1, Variant.option2,
               Variant.option3, Variant.sku, Variant.price, Variant.stock)
        .join(Variant, Variant.product_id == Product.id)
        .outerjoin(Category, Category.id == Product.category_id)
        .where(Product.active.is_(True))
        .order_by(Product.id, Variant.position)
    )
    if product_ids is not None:
        query = query.where(Product.id.in_(product_ids))
    docs: list[SearchDoc] = []
    current: list[tuple[object, ...]] = []
    for row in (await session.execute(query)).tuples():
        if current and current[0][0] != row[0]:
            docs.append(_doc(current))
            current = []
        current.append(tuple(row))
    if current:
        docs.append(_doc(current))
    return docs


def _doc(rows: list[tuple[object, ...]]) -> SearchDoc:
    pid, title, path = rows[0][:3]
    options: dict[str, None] = {}
    for row in rows:
        for value in row[3:6]:
            if value:
                options[str(value)] = None
    prices = [int(str(row[7])) for row in rows]
    return SearchDoc(
        product_id=int(str(pid)),
        title=str(title),
        category_path=str(path or ""),
        option_values=tuple(options),
        skus=tuple(str(row[6]) for row in rows),
        min_price=min(prices),
        max_price=max(prices),
        in_stock=any(int(str(row[8])) > 0 for row in rows),
    )
