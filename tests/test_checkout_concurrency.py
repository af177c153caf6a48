"""1,000 customers check out at once for 50 units: exactly 50 orders, no oversell."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import func, insert, select

from shop.bootstrap import build_shop
from shop.cart.models import Cart, CartItem
from shop.customers.models import Address, Customer
from shop.db.engine import create_engine
from shop.errors import OutOfStock
from shop.orders.checkout import CheckoutRequest
from shop.orders.models import Order
from shop.settings import load_settings
from shop.shipping.admin import default_methods, install_methods
from tests.conftest import Database
from tests.support.catalog import ProductSpec, VariantSpec, add_products

CUSTOMERS = 1000
UNITS = 50


@pytest.mark.slow
async def test_thousand_concurrent_checkouts_for_fifty_units(database: Database) -> None:
    engine = create_engine(database.url, pool_size=20, max_overflow=0, pool_timeout=600)
    try:
        shop = build_shop(load_settings(database_url=database.url), engine)
        await add_products(shop.sessions, ProductSpec("drop", "Limited Sneaker", variants=[
            VariantSpec("DROP-42", 12900, UNITS, threshold=5)]))
        variant_id = (await shop.catalog.variant(sku="DROP-42")).id
        async with shop.sessions.begin() as session:
            pickup = (await install_methods(session, default_methods("EUR")))[0].id
            await session.execute(insert(Customer), [
                {"channel": "telegram", "external_id": str(9000 + i), "name": f"C{i}"}
                for i in range(CUSTOMERS)])
        async with shop.sessions.begin() as session:
            customer_ids = list((await session.execute(
                select(Customer.id).order_by(Customer.id))).scalars())
            await session.execute(insert(Address), [
                {"customer_id": c, "name": "C", "street": "1 Main St", "city": "Lyon",
                 "postcode": "69001", "country": "FR"} for c in customer_ids])
            await session.execute(insert(Cart), [{"customer_id": c} for c in customer_ids])
        async with shop.sessions.begin() as session:
            carts = (await session.execute(select(Cart.id, Cart.customer_id))).tuples().all()
            addresses = dict((await session.execute(
                select(Address.customer_id, Address.id))).tuples().all())
            await session.execute(insert(CartItem), [
                {"cart_id": cart_id, "variant_id": variant_id, "quantity": 1}
                for cart_id, _ in carts])

        async def checkout(customer_id: int) -> str:
            try:
                await shop.orders.checkout(CheckoutRequest(customer_id, addresses[customer_id],
                                                           pickup))
                return "order"
            except OutOfStock:
                return "sold out"

        outcomes = Counter(await asyncio.gather(*(checkout(c) for c in customer_ids)))
        assert outcomes == {"order": UNITS, "sold out": CUSTOMERS - UNITS}
        assert (await shop.catalog.variant(variant_id=variant_id)).stock == 0
        async with shop.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Order)) == UNITS
            numbers = list((await session.execute(select(Order.number))).scalars())
        assert len(set(numbers)) == UNITS
    finally:
        await engine.dispose()
