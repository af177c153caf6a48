from __future__ import annotations

import pytest
from sqlalchemy import select

from shop.auth import CustomerActor, Permission, SystemActor, require
from shop.bootstrap import Shop
from shop.errors import IllegalTransition, InvalidInput, NotAllowed, NotFound, NotYourOrder
from shop.events.models import OutboxEvent
from shop.money import Money
from shop.orders.states import TRANSITIONS, OrderAction, OrderStatus, next_status
from tests.conftest import Database
from tests.support.shop import (
    MANAGER,
    OWNER,
    SUPPORT,
    Clock,
    buy,
    customer,
    make_shop,
    pay,
    seed_basics,
)


@pytest.fixture
async def shop(database: Database) -> Shop:
    return make_shop(database, Clock())


def test_every_transition_outside_the_diagram_is_refused() -> None:
    allowed = 0
    for status in OrderStatus:
        for action in OrderAction:
            if (status, action) in TRANSITIONS:
                assert next_status(status, action) == TRANSITIONS[(status, action)]
                allowed += 1
                continue
            with pytest.raises(IllegalTransition) as refused:
                next_status(status, action)
            assert refused.value.current == status and refused.value.action == action
    assert allowed == len(TRANSITIONS) == 15
    with pytest.raises(IllegalTransition):
        next_status("no-such-status", OrderAction.PAY)


def test_roles() -> None:
    require(OWNER, Permission.STAFF)
    require(MANAGER, Permission.ORDERS)
    require(SUPPORT, Permission.RETURNS)
    require(SystemActor("sweeper"), Permission.ORDERS)
    for actor, permission in [(SUPPORT, Permission.ORDERS), (MANAGER, Permission.STAFF),
                              (CustomerActor(1), Permission.ORDERS)]:
        with pytest.raises(NotAllowed):
            require(actor, permission)


async def test_confirm_ship_deliver_with_history_and_events(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["courier"], {ids["TEE-L"]: 1})
    await pay(shop, alice, order.id)
    await shop.orders.confirm(MANAGER, order.id)
    with pytest.raises(InvalidInput, match="tracking number"):
        await shop.orders.ship(MANAGER, order.id, carrier="DHL", tracking_number="")
    with pytest.raises(InvalidInput, match="http"):
        await shop.orders.ship(MANAGER, order.id, carrier="DHL", tracking_number="JD0001",
                               tracking_url="javascript:alert(1)")
    shipped = await shop.orders.ship(MANAGER, order.id, carrier="DHL", tracking_number="JD0001",
                                     tracking_url="https://dhl.example/track?n=JD0001")
    assert (shipped.carrier, shipped.tracking_number) == ("DHL", "JD0001")
    delivered = await shop.orders.deliver(OWNER, order.id)
    assert delivered.status == OrderStatus.DELIVERED and delivered.delivered_at is not None
    assert [h.kind for h in delivered.history] == [
        "placed", "pay", "confirm", "ship", "deliver"]
    assert delivered.history[2].actor == "staff:2"
    async with shop.sessions() as session:
        changes = (await session.execute(select(OutboxEvent.payload).where(
            OutboxEvent.topic == "order.status_changed").order_by(OutboxEvent.id))).scalars()
        assert [(c["from"], c["to"]) for c in changes] == [
            ("awaiting_payment", "paid"), ("paid", "confirmed"), ("confirmed", "shipped"),
            ("shipped", "delivered")]


async def test_illegal_steps_through_the_service(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["pickup"], {ids["TEE-L"]: 1})
    with pytest.raises(IllegalTransition, match="waiting for payment cannot be confirmed"):
        await shop.orders.confirm(MANAGER, order.id)
    with pytest.raises(IllegalTransition):
        await shop.orders.ship(MANAGER, order.id, carrier="DHL", tracking_number="X1")
    await pay(shop, alice, order.id)
    with pytest.raises(IllegalTransition):
        await shop.orders.deliver(MANAGER, order.id)
    assert (await shop.orders.order(alice, order.id)).status == OrderStatus.PAID


async def test_customers_only_reach_their_own_orders(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    mallory, _ = await customer(shop, "666")
    order = await buy(shop, alice, address, ids["pickup"], {ids["TEE-L"]: 1})
    with pytest.raises(NotYourOrder):
        await shop.orders.order(mallory, order.id)
    with pytest.raises(NotYourOrder):
        await shop.orders.cancel(mallory, order.id)
    with pytest.raises(NotAllowed):
        await shop.orders.confirm(mallory, order.id)
    with pytest.raises(NotFound):
        await shop.orders.order(mallory, 10**9)
    assert await shop.orders.orders(mallory) == []
    assert [o.id for o in await shop.orders.orders(alice)] == [order.id]
    assert [o.id for o in await shop.orders.orders(SUPPORT)] == [order.id]
    with pytest.raises(NotAllowed):  # support answers questions but does not run orders
        await shop.orders.confirm(SUPPORT, order.id)
    assert (await shop.orders.order(alice, order.id)).status == OrderStatus.AWAITING_PAYMENT


async def test_customer_cancels_unpaid_order_stock_comes_back(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["pickup"], {ids["MUG"]: 2})
    view, refund = await shop.orders.cancel(alice, order.id, reason="changed my mind")
    assert view.status == OrderStatus.CANCELLED and refund is None
    assert (await shop.catalog.variant(sku="MUG")).stock == 3
    with pytest.raises(IllegalTransition):
        await shop.orders.cancel(alice, order.id)


async def test_staff_cancel_paid_order_with_partial_refund(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["pickup"], {ids["MUG"]: 2})
    await pay(shop, alice, order.id)
    with pytest.raises(NotAllowed, match="only be cancelled by the shop"):
        await shop.orders.cancel(alice, order.id)
    await shop.orders.confirm(MANAGER, order.id)
    view, refund = await shop.orders.cancel(MANAGER, order.id, reason="cannot ship",
                                            refund_amount=2000)
    assert view.status == OrderStatus.CANCELLED
    assert refund is not None and refund.refunded == Money("EUR", 2000)
    assert view.refunded == Money("EUR", 2000) and view.paid == Money("EUR", 2500)
    assert (await shop.catalog.variant(sku="MUG")).stock == 3
    assert (await shop.orders.order_by_number(MANAGER, view.number)).id == order.id
