"""Loads the packaged demo catalog into an empty shop."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from shop.bootstrap import Shop
from shop.cart.models import PromoCode
from shop.cart.promo import create_promo
from shop.catalog.importer import import_catalog
from shop.catalog.models import Product
from shop.shipping.admin import default_methods, install_methods

DEMO_CATALOG = Path(__file__).with_name("catalog.csv")


DEMO_PROMO = "WELCOME10"


async def load_demo(shop: Shop) -> str:
    """Import the demo catalog, shipping methods and a promo code into an empty shop;
    say what was done."""
    async with shop.sessions() as session:
        existing = (await session.execute(select(func.count()).select_from(Product))).scalar_one()
    if existing:
        return f"catalog: {existing} products already there, demo catalog not loaded"
    async with shop.sessions.begin() as session:
        methods = await install_methods(session, default_methods(shop.settings.shop_currency))
        if await session.scalar(select(func.count()).select_from(PromoCode)) == 0:
            await create_promo(session, code=DEMO_PROMO, kind="percent", value=10)
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
        f"{report.variants_created} variants; {len(methods)} shipping methods; "
        f"promo code {DEMO_PROMO} (10% off)"
    )
