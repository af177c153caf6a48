"""What customers are told from the shop's events, in their language."""

from __future__ import annotations

import pytest

from bot.flows.context import Conversation
from bot.flows.notifications import TOPICS, notification
from shop.bootstrap import Shop
from shop.events.delivery import DeliveredEvent
from tests.conftest import Database
from tests.support.flows import deps_for
from tests.support.shop import MANAGER, Clock, buy, customer, make_shop, pay, seed_basics


@pytest.fixture
async def shop(database: Database) -> Shop:
    return make_shop(database, Clock())


async def test_each_step_of_an_order_is_told(shop: Shop) -> None:
    events: list[DeliveredEvent] = []

    async def collect(event: DeliveredEvent) -> None:
        events.append(event)

    shop.relay.subscribe("test_notifications", collect, TOPICS)
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["courier"], {ids["TEE-M"]: 1})
    await pay(shop, alice, order.id)
    await shop.orders.confirm(MANAGER, order.id)
    await shop.orders.ship(MANAGER, order.id, carrier="DHL", tracking_number="JD01",
                           tracking_url="https://dhl.example/t/JD01")
    await shop.orders.deliver(MANAGER, order.id)
    await shop.payments.refund(MANAGER, order.id, 500, "late delivery")
    await shop.relay.run_once()
    deps = deps_for(shop)
    texts = []
    for language in ("en", "fr"):
        convo = Conversation(alice.customer_id, language, "telegram")
        screens = [await notification(deps, convo, e.topic, e.payload) for e in events]
        texts.append([s for s in screens if s is not None])
    english = [s.text.plain for s in texts[0]]
    assert english == [
        "Good news: order #1001 is confirmed and being prepared.",
        "Your order #1001 is on its way!\nCarrier: DHL\nTracking number: JD01",
        "Order #1001 was delivered. Enjoy! If something is wrong, you can ask for a return "
        "from the order.",
        "We refunded €5.00 for order #1001.",
    ]
    shipped = texts[0][1]
    assert shipped.buttons[0][0].url == "https://dhl.example/t/JD01"
    assert all(s.new_message for s in texts[0])
    assert len(texts[1]) == 4  # the same events, told in French


async def test_expiry_is_explained_and_own_cancel_is_silent(shop: Shop) -> None:
    deps = deps_for(shop)
    convo = Conversation(1, "en", "telegram")
    expired = await notification(deps, convo, "order.status_changed", {
        "order_id": 5, "number": 1005, "to": "cancelled", "action": "expire",
        "actor": "system:reservations"})
    assert expired is not None and "not paid in time" in expired.text.plain
    assert await notification(deps, convo, "order.status_changed", {
        "order_id": 5, "number": 1005, "to": "cancelled", "action": "cancel",
        "actor": "customer:1"}) is None
    reply = await notification(deps, convo, "support.reply", {"text": "Hello!"})
    assert reply is not None and reply.text.plain == "Support answered:\nHello!"
