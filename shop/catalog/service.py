"""The catalog use cases: browse, look up, search and change stock.

One object per shop holds the session factory and the in-memory search index,
and keeps the index in step with every change it makes. Product cards and summaries are
kept for a couple of seconds (:mod:`shop.catalog.fresh_cache`), and forgotten as soon as
this process changes the product or hears of a change made elsewhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.auth import Actor, Permission, require
from shop.catalog import queries, stock
from shop.catalog.fresh_cache import FreshCache
from shop.catalog.search import SearchFilters, SearchIndex
from shop.catalog.types import (
    CategoryInfo,
    LowStock,
    Page,
    ProductDetail,
    ProductSummary,
    StockChange,
    VariantInfo,
)
from shop.db.engine import read_only


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of search results, hydrated for display."""

    query: str
    products: list[ProductSummary]
    page: int
    page_size: int
    total: int
    did_you_mean: str | None
    truncated: bool

    @property
    def has_next(self) -> bool:
        return self.page * self.page_size < self.total


# How long a product card may be shown without reading it again: a change made by another
# worker reaches this one through the change log within its poll (or at once with Redis);
# this bounds what it misses in between, such as a sale's stock count.
FRESH_FOR_S = 2.0


class CatalogService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 fresh_for_s: float = FRESH_FOR_S,
                 clock: Callable[[], float] = time.monotonic,
                 long_reads: async_sessionmaker[AsyncSession] | None = None) -> None:
        self._sessions = sessions
        self._long_reads = long_reads or sessions
        self.index = SearchIndex()
        self._details: FreshCache[int, ProductDetail] = FreshCache(fresh_for_s, clock=clock)
        self._summaries: FreshCache[int, ProductSummary] = FreshCache(fresh_for_s, 4096,
                                                                      clock=clock)

    async def load_index(self) -> int:
        """Build the search index from the database; returns the number of products."""
        async with self._sessions() as session:
            docs = await queries.search_docs(session)
        self.index = SearchIndex.build(docs)
        self._details.clear()
        self._summaries.clear()
        return len(self.index)

    async def refresh_index(self, product_ids: Iterable[int]) -> None:
        """Bring these products up to date in the index (removed when gone or inactive)."""
        ids = sorted(set(product_ids))
        if not ids:
            return
        self._details.forget(ids)
        self._summaries.forget(ids)
        async with self._sessions() as session:
            docs = await queries.search_docs(session, ids)
        fresh = {doc.product_id for doc in docs}
        for doc in docs:
            self.index.upsert(doc)
        for product_id in ids:
            if product_id not in fresh:
                self.index.remove(product_id)

    async def categories(self) -> list[CategoryInfo]:
        """Every category with the number of active products in it and below it."""
        async with self._sessions() as session:
            return await queries.list_categories(session)

    async def products(
        self, category_path: str | None = None, page: int = 1, page_size: int = 10
    ) -> Page[ProductSummary]:
        """Active products, by title, optionally within a category and its subcategories."""
        async with self._sessions() as session:
            return await queries.list_products(session, category_path, page, page_size)

    async def product(
        self, *, product_id: int | None = None, handle: str | None = None
    ) -> ProductDetail:
        """A product with its images and variants (possibly a couple of seconds old, see
        FRESH_FOR_S); raises NotFound."""
        if product_id is not None:
            cached = self._details.get(product_id)
            if cached is not None:
                return cached
        read_at = self._details.generation
        async with read_only(self._sessions) as session:
            detail = await queries.product_detail(session, product_id=product_id,
                                                  handle=handle)
        self._details.put(detail.id, detail, read_at)
        return detail

    async def summaries(self, product_ids: Sequence[int]) -> list[ProductSummary]:
        """Summaries for these products, in the order given (unknown ids left out; possibly a
        couple of seconds old, like cards)."""
        known = {pid: summary for pid in product_ids
                 if (summary := self._summaries.get(pid)) is not None}
        missing = [pid for pid in product_ids if pid not in known]
        if missing:
            read_at = self._summaries.generation
            async with read_only(self._sessions) as session:
                for summary in await queries.summaries(session, missing):
                    self._summaries.put(summary.id, summary, read_at)
                    known[summary.id] = summary
        return [known[pid] for pid in product_ids if pid in known]

    async def variant(self, *, variant_id: int | None = None, sku: str | None = None
                      ) -> VariantInfo:
        """A variant by id or SKU (case-insensitive); raises NotFound."""
        async with read_only(self._sessions) as session:
            return await queries.variant_by(session, variant_id=variant_id, sku=sku)

    async def low_stock(self, limit: int | None = None) -> LowStock:
        """Variants under their low-stock threshold, emptiest first (at most `limit`), and how
        many in all. It scans every variant: off the event loop on SQLite (`long_reads`)."""
        async with self._long_reads() as session:
            return await queries.low_stock(session, limit)

    async def search(
        self,
        query: str,
        filters: SearchFilters | None = None,
        page: int = 1,
        page_size: int = 10,
    ) -> SearchPage:
        """Typo-tolerant search; raises InvalidQuery for an empty or unusable query."""
        result = self.index.search(query, filters, page=page, page_size=page_size)
        products = await self.summaries([hit.product_id for hit in result.hits])
        return SearchPage(result.query, products, result.page, result.page_size, result.total,
                          result.did_you_mean, result.truncated)

    async def adjust_stock(self, variant_id: int, delta: int, *, actor: Actor | str,
                           reason: str) -> StockChange:
        """Add or take units (never below zero), recorded with who and why.

        A staff actor needs the stock permission; a plain label is a trusted caller
        (imports, tests, the CLI)."""
        async with self._sessions.begin() as session:
            change = await stock.apply_stock_delta(session, variant_id, delta,
                                                   actor=_label(actor), reason=reason)
        await self._refresh_variant(variant_id)
        return change

    async def set_stock(self, variant_id: int, value: int, *, actor: Actor | str, reason: str
                        ) -> StockChange | None:
        """Set a stock count (a count after a stocktake); None when nothing changed."""
        async with self._sessions.begin() as session:
            change = await stock.set_stock(session, variant_id, value, actor=_label(actor),
                                           reason=reason)
        if change is not None:
            await self._refresh_variant(variant_id)
        return change

    async def set_low_stock_threshold(self, variant_id: int, threshold: int, *,
                                      actor: Actor | str | None = None) -> None:
        """Change when a variant counts as low on stock; staff need the stock permission."""
        async with self._sessions.begin() as session:
            await stock.set_low_stock_threshold(
                session, variant_id, threshold,
                actor=None if actor is None else _label(actor))

    async def _refresh_variant(self, variant_id: int) -> None:
        variant = await self.variant(variant_id=variant_id)
        await self.refresh_index([variant.product_id])


def _label(actor: Actor | str) -> str:
    if isinstance(actor, str):
        return actor
    require(actor, Permission.STOCK)
    return actor.label
