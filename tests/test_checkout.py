from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shop.bootstrap import Shop
from shop.cart.promo import create_promo
from shop.errors import CartEmpty, InvalidInput, OutOfStock
from shop.events.models import OutboxEvent
from shop.money import Money
from shop.orders.checkout import CheckoutRequest
from shop.orders.models import Order
from shop.orders.states import OrderStatus
from tests.conftest import Database
from tests.support.shop import Clock, buy, customer, make_shop, seed_basics


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def shop(database: Database, clock: Clock) -> Shop:
    return make_shop(database, clock)


async def stock(shop: Shop, sku: str) -> int:
    return (await shop.catalog.variant(sku=sku)).stock


async def topics(shop: Shop) -> list[str]:
    async with shop.sessions() as session:
        return list((await session.execute(select(OutboxEvent.topic).order_by(OutboxEvent.id))
                     ).scalars())


async def test_checkout_reserves_stock_and_snapshots_the_cart(shop: Shop, clock: Clock) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["courier"], {ids["TEE-M"]: 1, ids["MUG"]: 1})
    assert order.status == OrderStatus.AWAITING_PAYMENT
    assert order.number == 1001 and order.label == "#1001"
    assert order.subtotal == Money("EUR", 2000 + 1250)
    assert order.shipping_total == Money("EUR", 600)  # courier, under the free threshold
    assert order.total == Money("EUR", 3250 + 600)
    assert [(line.sku, line.title, line.options, line.quantity) for line in order.lines] == [
        ("TEE-M", "Classic Tee", "M", 1), ("MUG", "Enamel Mug", "", 1)]
    assert order.address is not None and order.address.city == "Paris"
    assert order.expires_at == clock.now + timedelta(minutes=30)
    assert (await stock(shop, "TEE-M"), await stock(shop, "MUG")) == (49, 2)
    # The mug went from 3 to 2, its threshold: staff hear about it once.
    assert await topics(shop) == ["stock.low", "order.placed"]
    # Prices change later; the order keeps what the customer saw.
    assert [h.kind for h in order.history] == ["placed"]


async def test_double_tap_yields_one_order(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    await shop.carts.add(alice.customer_id, ids["TEE-L"], 1)
    request = CheckoutRequest(alice.customer_id, address, ids["pickup"])
    first = await shop.orders.checkout(request)
    again = await shop.orders.checkout(request)
    racing = await asyncio.gather(*(shop.orders.checkout(request) for _ in range(5)))
    assert {first.id, again.id, *(o.id for o in racing)} == {first.id}
    assert await stock(shop, "TEE-L") == 49
    async with shop.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 1


async def test_changed_cart_replaces_the_unpaid_order(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    first = await buy(shop, alice, address, ids["pickup"], {ids["MUG"]: 3})
    assert await stock(shop, "MUG") == 0
    await shop.carts.set_quantity(alice.customer_id, ids["MUG"], 2)
    second = await shop.orders.checkout(CheckoutRequest(alice.customer_id, address,
                                                        ids["pickup"]))
    assert second.id != first.id
    assert (await shop.orders.order(alice, first.id)).status == OrderStatus.CANCELLED
    assert await stock(shop, "MUG") == 1  # 3 released, 2 reserved again


async def test_digital_only_needs_no_address(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, _ = await customer(shop, "100")
    await shop.carts.add(alice.customer_id, ids["EBOOK"], 1)
    order = await shop.orders.checkout(CheckoutRequest(alice.customer_id))
    assert order.digital_only and order.address is None and order.shipping_total.minor == 0
    assert order.total == Money("EUR", 900)


async def test_physical_goods_need_address_and_method(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, _ = await customer(shop, "100")
    await shop.carts.add(alice.customer_id, ids["TEE-M"], 1)
    with pytest.raises(InvalidInput, match="address and a shipping method"):
        await shop.orders.checkout(CheckoutRequest(alice.customer_id))


async def test_empty_cart_and_sold_out_are_refused_with_nothing_written(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    bob, bob_address = await customer(shop, "200")
    with pytest.raises(CartEmpty):
        await shop.orders.checkout(CheckoutRequest(alice.customer_id, address, ids["pickup"]))
    await shop.carts.add(alice.customer_id, ids["MUG"], 2)
    await shop.carts.add(bob.customer_id, ids["MUG"], 2)
    await shop.orders.checkout(CheckoutRequest(bob.customer_id, bob_address, ids["pickup"]))
    with pytest.raises(OutOfStock, match="Enamel Mug: only 1 left"):
        await shop.orders.checkout(CheckoutRequest(alice.customer_id, address, ids["pickup"]))
    assert await stock(shop, "MUG") == 1
    async with shop.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 1


async def test_promo_code_discount_and_free_shipping_over_threshold(shop: Shop) -> None:
    ids = await seed_basics(shop)
    async with shop.sessions.begin() as session:
        await create_promo(session, code="WELCOME10", kind="percent", value=10)
    alice, address = await customer(shop, "100")
    for _ in range(3):
        await shop.carts.add(alice.customer_id, ids["TEE-L"], 1)  # 66.00
    await shop.carts.apply_promo(alice.customer_id, "welcome10")
    order = await shop.orders.checkout(CheckoutRequest(alice.customer_id, address,
                                                       ids["courier"]))
    assert order.discount == Money("EUR", 660)
    assert order.shipping_total == Money("EUR", 0)  # 59.40 of goods is over 50.00
    assert order.total == Money("EUR", 6600 - 660)
    assert order.promo_code == "WELCOME10"


async def test_expired_reservation_releases_stock(shop: Shop, clock: Clock) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["pickup"], {ids["TEE-M"]: 5})
    assert await stock(shop, "TEE-M") == 45
    clock.advance(minutes=29)
    assert await shop.orders.expire_due() == 0
    clock.advance(minutes=2)
    assert await shop.orders.expire_due() == 1
    assert await shop.orders.expire_due() == 0
    view = await shop.orders.order(alice, order.id)
    assert view.status == OrderStatus.CANCELLED
    assert view.history[-1].kind == "expire" and view.history[-1].actor == "system:reservations"
    assert await stock(shop, "TEE-M") == 50


async def test_new_order_after_cancel_or_another_shipping_method(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    first = await buy(shop, alice, address, ids["pickup"], {ids["TEE-M"]: 1})
    await shop.orders.cancel(alice, first.id)
    again = await shop.orders.checkout(CheckoutRequest(alice.customer_id, address,
                                                       ids["pickup"]))
    assert again.id != first.id and again.status == OrderStatus.AWAITING_PAYMENT
    by_courier = await shop.orders.checkout(CheckoutRequest(alice.customer_id, address,
                                                            ids["courier"]))
    assert by_courier.id != again.id and by_courier.shipping_method == "Courier (1–2 days)"
    assert (await shop.orders.order(alice, again.id)).status == OrderStatus.CANCELLED
    assert await stock(shop, "TEE-M") == 49
