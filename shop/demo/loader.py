"""Loads the packaged demo catalog into an empty shop."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from shop.bootstrap import Shop
from shop.catalog.importer import import_catalog
from shop.catalog.models import Product

DEMO_CATALOG = Path(__file__).with_name("catalog.csv")


async def load_demo(shop: Shop) -> str:
    """Import the demo catalog when the shop has no products; say what was done."""
    async with shop.sessions() as session:
        existing = (await session.execute(select(func.count()).select_from(Product))).scalar_one()
    if existing:
        return f"catalog: {existing} products already there, demo catalog not loaded"
    report = await import_catalog(
        shop.sessions,
        DEMO_CATALOG,
        fmt="native",
        currency=shop.settings.shop_currency,
        low_stock_threshold=shop.settings.low_stock_threshold,
    )
    if not report.committed:
        problems = "; ".join(f"line {e.line}: {e.message}" for e in report.errors[:3])
        raise RuntimeError(f"the packaged demo catalog is invalid: {problems}")
    return (
        f"catalog: demo loaded, {report.products_created} products and "
        f"{report.variants_created} variants"
    )
