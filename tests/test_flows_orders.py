"""My orders and returns called directly: list, detail with timeline and tracking, paying
again, cancelling, a return with quantities, reason and photos, and forged buttons."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bot.flows.actions import Action, decode
from bot.flows.inputs import Photo
from bot.flows.screens import Button, Screen
from shop.bootstrap import Shop
from shop.customers.types import AddressInput
from shop.demo.loader import load_demo
from shop.orders.checkout import CheckoutRequest
from shop.orders.states import OrderStatus
from tests.conftest import Database
from tests.support.flows import Chat
from tests.support.shop import MANAGER, Clock, make_shop, pay

TEE = "TEE-CLS-BLK-M"
A = Action.make


@pytest.fixture
async def shop(database: Database) -> Shop:
    # The flow hides "Return items" once the return window closed by the real clock.
    shop = make_shop(database, Clock(datetime.now(UTC)))
    await load_demo(shop)
    await shop.catalog.load_index()
    return shop


async def place(shop: Shop, chat: Chat, items: dict[str, int], *, paid: bool = True) -> int:
    """Cart → checkout through the flows to a saved address by courier; returns the order id."""
    saved = await shop.customers.addresses(chat.convo.customer_id)
    address_id = saved[0].id if saved else (await shop.customers.add_address(
        chat.convo.customer_id, AddressInput(name="Eve Nowak", street="Długa 5", city="Gdańsk",
                                             postcode="80-827", country="PL"))).id
    for sku, quantity in items.items():
        variant = await shop.catalog.variant(sku=sku)
        await shop.carts.add(chat.convo.customer_id, variant.id, quantity)
    await chat.press_action(A("co"))
    await chat.press_action(A("coaddr", address_id))
    await chat.press(re.compile("^Courier"))
    payment = await chat.press(re.compile("^💳 Pay"))
    assert "is placed" in payment.text.plain, payment.text.plain
    order_id = chat.button(re.compile(r"\(test\)$")).action
    assert order_id is not None
    if paid:
        assert "is paid" in (await chat.press(re.compile(r"\(test\)$"))).text.plain
    return order_id.int(0)


async def deliver(shop: Shop, order_id: int) -> None:
    await shop.orders.confirm(MANAGER, order_id)
    await shop.orders.ship(MANAGER, order_id, carrier="DHL", tracking_number="JD014600",
                           tracking_url="https://track.example/JD014600")
    await shop.orders.deliver(MANAGER, order_id)


def row_of(screen: Screen, label_part: str) -> tuple[Button, ...]:
    return next(row for row in screen.buttons if any(label_part in b.label for b in row))


async def test_list_and_detail_with_timeline_and_tracking(shop: Shop) -> None:
    chat = await Chat.open(shop, "300")
    empty = await chat.send("/orders")
    assert "You have no orders yet." in empty.text.plain
    order_id = await place(shop, chat, {TEE: 1})
    order = await shop.orders.order(chat.convo.actor, order_id)
    paid = await chat.send("/orders")
    label = paid.labels()[0]
    assert label.startswith(f"#{order.number} · ") and label.endswith(" · paid · €30.90")

    await deliver(shop, order_id)
    listing = await chat.press_action(A("orders"))
    assert " · delivered · €30.90" in listing.labels()[0]
    detail = await chat.press(re.compile(f"^#{order.number}"))
    text = detail.text.plain
    assert f"Order #{order.number} · delivered" in text
    assert "Classic Organic Cotton Tee (M / Black) × 1 — €24.90" in text
    assert "Shipping: €6.00" in text and "Total: €30.90" in text
    assert "Eve Nowak, Długa 5, 80-827 Gdańsk, PL" in text
    assert "Tracking: DHL JD014600" in text
    timeline = text.split("History", 1)[1]
    words = ["waiting for payment", "paid", "confirmed", "shipped", "delivered"]
    positions = [timeline.index(f"— {word}\n" if word != "delivered" else f"— {word}")
                 for word in words]
    assert positions == sorted(positions)
    track = chat.button("🚚 Track the parcel")
    assert track.url == "https://track.example/JD014600" and track.action is None
    assert chat.button("💬 Ask about this order").action == A("sup", order_id)
    assert "↩ Return items" in detail.labels()
    assert "💳 Pay" not in detail.labels()


async def test_return_with_quantities_reason_and_photo(shop: Shop) -> None:
    chat = await Chat.open(shop, "301")
    order_id = await place(shop, chat, {TEE: 2, "DIG-EBK-LMS": 1})
    await deliver(shop, order_id)
    await chat.press_action(A("order", order_id))
    pick = await chat.press("↩ Return items")
    assert "Return from order #" in pick.text.plain
    tee_row = row_of(pick, "0/2 · Classic Organic Cotton Tee")
    await chat.press_action(tee_row[2].action)  # +
    more = await chat.press_action(row_of(chat.last, "1/2 · Classic")[2].action)
    minus, middle, plus = row_of(more, "2/2 · Classic")
    assert plus.action == middle.action  # no more than was bought
    await chat.press_action(minus.action)
    assert row_of(chat.last, "1/2 · Classic")
    line_id = tee_row[0].action.int(1) if tee_row[0].action else 0
    for forged in (-3, 3, 999):
        refused = await chat.press_action(A("retq", order_id, line_id, forged))
        assert "That quantity cannot be returned." in refused.text.plain
    assert row_of(chat.last, "1/2 · Classic")  # the choice survived the forgeries

    reasons = await chat.press("Continue »")
    assert reasons.labels()[:5] == ["Wrong size", "Damaged", "Not as described",
                                    "Changed my mind", "Other — type it"]
    photos = await chat.press("Wrong size")
    assert "Skip photos" in photos.labels()
    nudge = await chat.send("here it is")
    assert "Please send a photo" in nudge.text.plain
    await chat.photo("photo-file-1")
    got = await chat.do(Photo("photo-file-2", "torn seam"))
    assert "Photos received: 2" in got.text.plain
    done = await chat.press("✅ Done — send the request")
    assert "Return requested for order #" in done.text.plain
    assert "Classic Organic Cotton Tee (M / Black) × 1" in done.text.plain

    [ret] = await shop.returns.list(chat.convo.actor)
    assert ret.order_id == order_id and ret.status == "requested"
    assert ret.reason == "Wrong size" and ret.photo_ids == ("photo-file-1", "photo-file-2")
    assert [(line.title, line.quantity) for line in ret.lines] == [
        ("Classic Organic Cotton Tee", 1)]
    order = await shop.orders.order(chat.convo.actor, order_id)
    assert order.status == OrderStatus.RETURN_REQUESTED
    detail = await chat.press("📦 View order")
    assert "Return: requested, waiting for our answer" in detail.text.plain
    assert "↩ Return items" not in detail.labels()
    # The old submit button after the request: a clear answer, nothing new.
    again = await chat.press_action(A("rets", order_id))
    assert "no longer in progress" in again.text.plain
    assert len(await shop.returns.list(chat.convo.actor)) == 1
    late = await chat.press_action(A("ret", order_id))
    assert "cannot be returned now" in late.text.plain


async def test_typed_reason_and_skipped_photos(shop: Shop) -> None:
    chat = await Chat.open(shop, "302")
    order_id = await place(shop, chat, {TEE: 1})
    await deliver(shop, order_id)
    pick = await chat.press_action(A("ret", order_id))
    early = await chat.press("Continue »")
    assert "Choose at least one item to return." in early.text.plain
    await chat.press_action(row_of(pick, "0/1")[2].action)
    await chat.press("Continue »")
    await chat.press("Other — type it")
    await chat.send("The colour is not what the photo showed")
    done = await chat.press("Skip photos")
    assert "Reason: The colour is not what the photo showed" in done.text.plain
    [ret] = await shop.returns.list(chat.convo.actor)
    assert ret.photo_ids == () and ret.reason.startswith("The colour")


async def test_pay_again_and_cancel_unpaid_order(shop: Shop) -> None:
    chat = await Chat.open(shop, "303")
    tee = await shop.catalog.variant(sku=TEE)
    order_id = await place(shop, chat, {TEE: 1}, paid=False)
    assert (await shop.catalog.variant(sku=TEE)).stock == tee.stock - 1
    detail = await chat.press_action(A("order", order_id))
    assert "waiting for payment" in detail.text.plain
    assert "↩ Return items" not in detail.labels()
    again = await chat.press("💳 Pay")
    assert "We keep your items until" in again.text.plain
    assert any(label.endswith("(test)") for label in again.labels())
    await chat.press_action(A("order", order_id))
    confirm = await chat.press("✕ Cancel order")
    assert "Cancel order #" in confirm.text.plain
    assert confirm.labels() == ["Yes, cancel it", "No, keep it"]
    yes = chat.button("Yes, cancel it")
    cancelled = await chat.press("Yes, cancel it")
    assert "is cancelled." in cancelled.text.plain and "cancelled" in cancelled.toast
    assert (await shop.catalog.variant(sku=TEE)).stock == tee.stock
    twice = await chat.press_action(yes.action)
    assert "is cancelled." in twice.text.plain
    late = await chat.press_action(A("paytest", order_id))
    assert "Nothing was charged." in late.text.plain
    assert (await shop.orders.order(chat.convo.actor, order_id)).status == OrderStatus.CANCELLED


async def test_forged_and_stale_buttons(shop: Shop) -> None:
    owner = await Chat.open(shop, "304")
    order_id = await place(shop, owner, {TEE: 1})
    await deliver(shop, order_id)
    order = await shop.orders.order(owner.convo.actor, order_id)
    line_id = order.lines[0].id
    thief = await Chat.open(shop, "305")
    for action in (A("order", order_id), A("opay", order_id), A("ocancel", order_id),
                   A("ocancely", order_id), A("paytest", order_id), A("ret", order_id),
                   A("retq", order_id, line_id, 1), A("retp", order_id)):
        screen = await thief.press_action(action)
        assert "not one of your orders" in screen.text.plain, action
    for data in ("orders:-5", "orders:abc", "order:99999", "retw:1:nonsense", "rets:1",
                 "retq:1", "paytest", "copay:abc", "coship:-1", f"retw:{order_id}:size"):
        screen = await owner.press_action(decode(data))
        assert screen.text.plain, data
    stale = await thief.do(Photo("x"))
    assert "Thanks for the photo" in stale.text.plain
    assert await shop.returns.list(owner.convo.actor) == []
    assert (await shop.orders.order(owner.convo.actor, order_id)).status == (
        OrderStatus.DELIVERED)


async def test_orders_are_paged_newest_first(shop: Shop) -> None:
    chat = await Chat.open(shop, "306")
    ebook = await shop.catalog.variant(sku="DIG-EBK-LMS")
    numbers = []
    for _ in range(6):
        await shop.carts.add(chat.convo.customer_id, ebook.id, 1)
        order = await shop.orders.checkout(CheckoutRequest(chat.convo.customer_id))
        await pay(shop, chat.convo.actor, order.id)
        numbers.append(order.number)
    first = await chat.send("/orders")
    order_labels = [label for label in first.labels() if label.startswith("#")]
    assert len(order_labels) == 5 and order_labels[0].startswith(f"#{numbers[-1]} ")
    assert "Older ›" in first.labels() and "‹ Newer" not in first.labels()
    second = await chat.press("Older ›")
    older = [label for label in second.labels() if label.startswith("#")]
    assert len(older) == 1 and older[0].startswith(f"#{numbers[0]} ")
    assert "‹ Newer" in second.labels() and "Older ›" not in second.labels()
    beyond = await chat.press_action(A("orders", 40))
    assert "Older ›" in beyond.labels()  # back to the first page
