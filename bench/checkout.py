"""Concurrent checkouts (cart → order with reservation → payment) on SQLite or PostgreSQL.

Many customers race for fewer units than they want; every customer adds to the
cart, checks out and pays with the built-in test provider. Prints readable lines,
then one JSON line (DESIGN.md section 4): backend, checkouts, units, orders,
oversells, orders_per_s, p50_ms, p95_ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, insert, select

from shop.auth import CustomerActor
from shop.bootstrap import Shop, build_shop
from shop.cart.models import Cart, CartItem
from shop.catalog.models import Product, Variant
from shop.customers.models import Address, Customer
from shop.db.engine import create_engine
from shop.db.migrate import upgrade
from shop.errors import OutOfStock
from shop.orders.checkout import CheckoutRequest
from shop.orders.models import Order, OrderLine
from shop.settings import load_settings
from shop.shipping.admin import default_methods, install_methods


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def seed(shop: Shop, customers: int, variants: int, units_each: int, rng: random.Random
               ) -> tuple[list[int], dict[int, int], int]:
    async with shop.sessions.begin() as session:
        product = Product(handle="drop", title="Limited Drop", description="", active=True)
        product.variants = [
            Variant(position=i, sku=f"DROP-{i}", price=4900 + 100 * i, currency="EUR",
                    stock=units_each, low_stock_threshold=5, weight_grams=500)
            for i in range(variants)]
        session.add(product)
        pickup = (await install_methods(session, default_methods("EUR")))[0].id
        await session.execute(insert(Customer), [
            {"channel": "telegram", "external_id": str(10_000 + i), "name": f"B{i}"}
            for i in range(customers)])
    async with shop.sessions.begin() as session:
        ids = list((await session.execute(select(Customer.id).order_by(Customer.id))).scalars())
        variant_ids = list((await session.execute(select(Variant.id))).scalars())
        await session.execute(insert(Address), [
            {"customer_id": c, "name": "B", "street": "2 Market St", "city": "Krakow",
             "postcode": "30-001", "country": "PL"} for c in ids])
        await session.execute(insert(Cart), [{"customer_id": c} for c in ids])
    async with shop.sessions.begin() as session:
        carts = (await session.execute(select(Cart.id, Cart.customer_id))).tuples().all()
        await session.execute(insert(CartItem), [
            {"cart_id": cart, "variant_id": rng.choice(variant_ids),
             "quantity": rng.choice((1, 1, 2))} for cart, _ in carts])
        addresses = dict((await session.execute(
            select(Address.customer_id, Address.id))).tuples().all())
    return ids, addresses, pickup


async def run(backend: str, url: str, customers: int, concurrency: int, variants: int,
              units_each: int, seed_value: int) -> dict[str, object]:
    engine = create_engine(url, pool_size=concurrency, max_overflow=0, pool_timeout=600)
    try:
        await upgrade(engine)
        shop = build_shop(load_settings(database_url=url), engine)
        rng = random.Random(seed_value)
        ids, addresses, pickup = await seed(shop, customers, variants, units_each, rng)
        latencies: list[float] = []
        sold_out = 0
        gate = asyncio.Semaphore(concurrency)

        async def one(customer_id: int) -> None:
            nonlocal sold_out
            async with gate:
                started = time.perf_counter()
                try:
                    order = await shop.orders.checkout(
                        CheckoutRequest(customer_id, addresses[customer_id], pickup))
                except OutOfStock:
                    sold_out += 1
                    return
                actor = CustomerActor(customer_id)
                token = await shop.payments.test_confirmation(actor, order.id)
                await shop.payments.confirm_test_payment(token)
                latencies.append((time.perf_counter() - started) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(one(c) for c in ids))
        elapsed = time.perf_counter() - began
        async with shop.sessions() as session:
            paid = int(await session.scalar(select(func.count()).select_from(Order).where(
                Order.status == "paid")) or 0)
            sold = dict((await session.execute(
                select(OrderLine.variant_id, func.sum(OrderLine.quantity))
                .join(Order, Order.id == OrderLine.order_id).where(Order.status == "paid")
                .group_by(OrderLine.variant_id))).tuples().all())
            stock = dict((await session.execute(select(Variant.id, Variant.stock))
                          ).tuples().all())
        oversells = sum(max(0, int(sold.get(v, 0)) - units_each) for v in stock)
        oversells += sum(1 for v, left in stock.items()
                         if left != units_each - int(sold.get(v, 0)))
        return {
            "bench": "checkout", "backend": backend, "checkouts": customers,
            "concurrency": concurrency, "units": variants * units_each, "orders": paid,
            "sold_out_answers": sold_out, "oversells": oversells,
            "orders_per_s": round(paid / elapsed, 1),
            "p50_ms": round(statistics.median(latencies), 2) if latencies else 0.0,
            "p95_ms": round(percentile(latencies, 0.95), 2), "seconds": round(elapsed, 2),
        }
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--checkouts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--variants", type=int, default=4)
    parser.add_argument("--units-each", type=int, default=250)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    server = None
    with tempfile.TemporaryDirectory(prefix="chatshop-bench-") as tmp:
        if args.backend == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        else:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.support.postgres import PostgresServer

            server = PostgresServer.start()
            url = server.create_database("bench")
        try:
            result = asyncio.run(run(args.backend, url, args.checkouts, args.concurrency,
                                     args.variants, args.units_each, args.seed))
        finally:
            if server is not None:
                server.stop()
    print(f"backend {result['backend']}: {result['checkouts']} customers, "
          f"{result['units']} units, {args.concurrency} at a time")
    print(f"  paid orders {result['orders']}, sold-out answers {result['sold_out_answers']}, "
          f"oversells {result['oversells']}")
    print(f"  {result['orders_per_s']} orders/s; checkout+payment p50 {result['p50_ms']} ms, "
          f"p95 {result['p95_ms']} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
