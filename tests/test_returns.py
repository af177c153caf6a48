from __future__ import annotations

import pytest
from sqlalchemy import select

from shop.auth import CustomerActor
from shop.bootstrap import Shop
from shop.errors import IllegalTransition, InvalidInput, NotAllowed, NotYourOrder
from shop.events.models import OutboxEvent
from shop.money import Money
from shop.orders.returns import ReturnItem
from shop.orders.states import OrderStatus
from shop.orders.types import OrderView
from tests.conftest import Database
from tests.support.shop import (
    MANAGER,
    SUPPORT,
    Clock,
    buy,
    customer,
    make_shop,
    pay,
    seed_basics,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def shop(database: Database, clock: Clock) -> Shop:
    return make_shop(database, clock)


async def delivered_order(shop: Shop, external_id: str = "100"
                          ) -> tuple[OrderView, CustomerActor]:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, external_id)
    order = await buy(shop, alice, address, ids["pickup"], {ids["TEE-M"]: 2, ids["MUG"]: 1})
    await pay(shop, alice, order.id)
    await shop.orders.confirm(MANAGER, order.id)
    await shop.orders.ship(MANAGER, order.id, carrier="Post", tracking_number="RR1")
    return await shop.orders.deliver(MANAGER, order.id), alice


async def test_return_requested_approved_received_refunded(shop: Shop) -> None:
    order, alice = await delivered_order(shop)
    tee = order.lines[0]
    ret = await shop.returns.request(alice, order.id, [ReturnItem(tee.id, 1)],
                                     "too small", photo_ids=["photo-1"])
    assert ret.status == "requested" and ret.value == Money("EUR", 2000)
    assert (await shop.orders.order(MANAGER, order.id)).status == OrderStatus.RETURN_REQUESTED
    with pytest.raises(IllegalTransition):  # not received yet
        await shop.returns.refund(MANAGER, ret.id)
    await shop.returns.approve(SUPPORT, ret.id, "send it to our shop")
    assert (await shop.catalog.variant(sku="TEE-M")).stock == 48
    await shop.returns.receive(SUPPORT, ret.id)
    assert (await shop.catalog.variant(sku="TEE-M")).stock == 49  # back in stock
    refunded, result = await shop.returns.refund(SUPPORT, ret.id)
    assert refunded.status == "refunded" and result.refunded == Money("EUR", 2000)
    final = await shop.orders.order(alice, order.id)
    assert final.status == OrderStatus.REFUNDED and final.refunded == Money("EUR", 2000)
    async with shop.sessions() as session:
        topics = list((await session.execute(select(OutboxEvent.topic).where(
            OutboxEvent.topic.like("return.%")).order_by(OutboxEvent.id))).scalars())
    assert topics == ["return.requested", "return.status_changed", "return.status_changed",
                      "return.status_changed"]


async def test_rejected_return_can_be_asked_again(shop: Shop) -> None:
    order, alice = await delivered_order(shop)
    ret = await shop.returns.request(alice, order.id, [ReturnItem(order.lines[1].id, 1)],
                                     "chipped")
    with pytest.raises(InvalidInput, match="why"):
        await shop.returns.reject(SUPPORT, ret.id, "  ")
    rejected = await shop.returns.reject(SUPPORT, ret.id, "no photo of the damage")
    assert rejected.staff_note == "no photo of the damage"
    assert (await shop.orders.order(MANAGER, order.id)).status == OrderStatus.RETURN_REJECTED
    again = await shop.returns.request(alice, order.id, [ReturnItem(order.lines[1].id, 1)],
                                       "chipped, photo attached", photo_ids=["p2"])
    assert again.status == "requested"


async def test_return_rules(shop: Shop, clock: Clock) -> None:
    order, alice = await delivered_order(shop)
    mallory, _ = await customer(shop, "666")
    tee, mug = order.lines
    with pytest.raises(NotYourOrder):
        await shop.returns.request(mallory, order.id, [ReturnItem(tee.id, 1)], "mine now")
    with pytest.raises(InvalidInput, match="only 2"):
        await shop.returns.request(alice, order.id, [ReturnItem(tee.id, 3)], "x")
    with pytest.raises(InvalidInput, match="not part of this order"):
        await shop.returns.request(alice, order.id, [ReturnItem(10**9, 1)], "x")
    with pytest.raises(InvalidInput, match="why"):
        await shop.returns.request(alice, order.id, [ReturnItem(tee.id, 1)], " ")
    with pytest.raises(NotAllowed):
        await shop.returns.approve(mallory, 1, "")
    clock.advance(days=31)
    with pytest.raises(IllegalTransition, match="30-day return window"):
        await shop.returns.request(alice, order.id, [ReturnItem(mug.id, 1)], "late")


async def test_undelivered_orders_cannot_be_returned(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["pickup"], {ids["TEE-M"]: 1})
    await pay(shop, alice, order.id)
    with pytest.raises(IllegalTransition, match="paid cannot be returned"):
        await shop.returns.request(alice, order.id, [ReturnItem(order.lines[0].id, 1)], "x")
    assert await shop.returns.list(alice) == []
