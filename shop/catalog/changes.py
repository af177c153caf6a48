"""The catalog change log: how a change made by one process reaches every process's index.

Each worker keeps its own in-memory search index. A change that affects search (an import,
a product going out of stock or back) appends a row to ``catalog_changes`` in the same
transaction, and :class:`shop.catalog.index_sync.IndexSync` in every process reads the rows
after its watermark and refreshes those products. The database is the truth; Redis, when
configured, only wakes the other workers at once instead of at their next poll.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shop.catalog.models import CatalogChange, Variant

# Above this many products an import asks for a full rebuild instead of one row per product.
FULL_RELOAD_OVER = 500


def record_change(session: AsyncSession, *, product_id: int | None = None,
                  variant_id: int | None = None) -> None:
    """Log a change in the caller's transaction; with no ids, the whole catalog changed."""
    session.add(CatalogChange(product_id=product_id, variant_id=variant_id))


def record_products(session: AsyncSession, product_ids: Iterable[int]) -> None:
    """Log changes to these products: one row each, or one full-catalog row when many."""
    ids = sorted(set(product_ids))
    if len(ids) > FULL_RELOAD_OVER:
        record_change(session)
        return
    for product_id in ids:
        record_change(session, product_id=product_id)


@dataclass(frozen=True)
class ChangeBatch:
    """What changed since a watermark: products to refresh, or everything."""

    last_id: int
    product_ids: frozenset[int]
    everything: bool


async def latest_change_id(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.max(CatalogChange.id))) or 0)


async def changes_since(session: AsyncSession, after_id: int, *,
                        recent_since: datetime) -> ChangeBatch:
    """Changes with an id above ``after_id``, plus any made since ``recent_since``.

    PostgreSQL assigns ids at insert, not commit, so a row with a lower id can become visible
    after a higher one was read; re-reading the last moments catches it. Refreshing a product
    twice is harmless.
    """
    rows = (await session.execute(
        select(CatalogChange.id, CatalogChange.product_id, CatalogChange.variant_id)
        .where(or_(CatalogChange.id > after_id, CatalogChange.created_at >= recent_since))
    )).tuples().all()
    last_id = max([after_id, *(row[0] for row in rows)])
    everything = any(product is None and variant is None for _, product, variant in rows)
    products = {product for _, product, _ in rows if product is not None}
    variants = {variant for _, _, variant in rows if variant is not None}
    if variants and not everything:
        owners = await session.scalars(select(Variant.product_id).where(Variant.id.in_(variants)))
        products.update(owners)
    return ChangeBatch(last_id, frozenset(products), everything)


async def prune_changes(session: AsyncSession, *, before: datetime) -> int:
    """Forget changes older than ``before`` (every live worker has long read them)."""
    result = await session.execute(delete(CatalogChange).where(CatalogChange.created_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
