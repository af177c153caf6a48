"""The shop's events reach subscribers through the relay; the background loop sweeps
expired reservations; orders export for accounting."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest

from shop.bootstrap import Shop
from shop.events.delivery import DeliveredEvent
from shop.orders.checkout import CheckoutRequest
from shop.orders.export import COLUMNS, export_orders
from shop.orders.states import OrderStatus
from tests.conftest import Database
from tests.support.shop import MANAGER, Clock, buy, customer, make_shop, pay, seed_basics
from tests.support.waiting import eventually


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def shop(database: Database, clock: Clock) -> Shop:
    return make_shop(database, clock)


async def test_staff_and_customer_consumers_hear_every_step(shop: Shop) -> None:
    staff: list[str] = []
    customers: list[tuple[str, object]] = []

    async def staff_alerts(event: DeliveredEvent) -> None:
        staff.append(event.topic)

    async def notify_customer(event: DeliveredEvent) -> None:
        customers.append((event.topic, event.payload.get("to")))

    shop.relay.subscribe("staff_alerts", staff_alerts,
                         ["order.paid", "stock.low", "payment.problem", "return.requested"])
    shop.relay.subscribe("customer_notifications", notify_customer, ["order.status_changed"])
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["pickup"], {ids["MUG"]: 1})
    await pay(shop, alice, order.id)
    await shop.orders.confirm(MANAGER, order.id)
    await shop.orders.ship(MANAGER, order.id, carrier="Post", tracking_number="RR2")
    await shop.relay.run_once()
    assert staff == ["stock.low", "order.paid"]
    assert customers == [("order.status_changed", "paid"), ("order.status_changed", "confirmed"),
                         ("order.status_changed", "shipped")]
    await shop.relay.run_once()
    assert len(staff) == 2 and len(customers) == 3  # delivered once


async def test_background_loop_expires_reservations_and_delivers(shop: Shop,
                                                                 clock: Clock) -> None:
    seen: list[str] = []

    async def record(event: DeliveredEvent) -> None:
        seen.append(event.payload["action"])

    shop.relay.subscribe("watch", record, ["order.status_changed"])
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["pickup"], {ids["TEE-M"]: 3})
    clock.advance(minutes=45)
    stop = asyncio.Event()
    loop = asyncio.create_task(shop.run_background(stop))

    async def expired() -> bool:
        view = await shop.orders.order(alice, order.id)
        return view.status == OrderStatus.CANCELLED and seen == ["expire"]

    try:
        await eventually(expired)
    finally:
        stop.set()
        await asyncio.wait_for(loop, 10)
    assert (await shop.catalog.variant(sku="TEE-M")).stock == 50


async def test_orders_export_for_accounting(shop: Shop, tmp_path: Path) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    first = await buy(shop, alice, address, ids["courier"], {ids["TEE-M"]: 1})
    await pay(shop, alice, first.id)
    await shop.payments.refund(MANAGER, first.id, 500, "goodwill")
    await shop.carts.add(alice.customer_id, ids["TEE-L"], 1)
    await shop.orders.checkout(CheckoutRequest(alice.customer_id, address, ids["pickup"]))
    target = tmp_path / "orders.csv"
    assert await export_orders(shop.sessions, target) == 2
    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == COLUMNS
    assert [(r["number"], r["status"], r["total"], r["paid"], r["refunded"], r["providers"])
            for r in rows] == [
        ("1001", "paid", "26.00", "26.00", "5.00", "test:EUR"),
        ("1002", "awaiting_payment", "22.00", "0.00", "0.00", "")]
    assert rows[0]["shipping"] == "6.00" and rows[0]["country"] == "FR"
