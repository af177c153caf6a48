"""Checkout flows called directly: address step by step, shipping, summary, payment, receipt."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.flows.actions import Action
from bot.flows.context import Capabilities
from bot.flows.inputs import Location
from bot.flows.payment import receipt_screen
from shop.auth import CustomerActor
from shop.bootstrap import Shop
from shop.customers.types import AddressInput
from shop.demo.loader import load_demo
from shop.orders.states import OrderStatus
from tests.conftest import Database
from tests.fakes.stripe_server import FakeStripe
from tests.support.flows import Chat
from tests.support.shop import Clock, make_shop

TEE = "TEE-CLS-BLK-M"


async def demo_shop(database: Database, **settings: Any) -> Shop:
    shop = make_shop(database, Clock(datetime.now(UTC)), **settings)
    await load_demo(shop)
    await shop.catalog.load_index()
    return shop


@pytest.fixture
async def shop(database: Database) -> Shop:
    return await demo_shop(database)


async def stock(shop: Shop, sku: str) -> int:
    return (await shop.catalog.variant(sku=sku)).stock


async def orders_of(shop: Shop, chat: Chat) -> list[Any]:
    return await shop.orders.orders(CustomerActor(chat.convo.customer_id))


async def with_address(shop: Shop, chat: Chat) -> int:
    address = await shop.customers.add_address(chat.convo.customer_id, AddressInput(
        name="Bob Martin", street="3 Place Bellecour", city="Lyon", postcode="69002",
        country="FR"))
    return address.id


async def test_full_journey_with_typed_address(shop: Shop) -> None:
    chat = await Chat.open(shop, "200")
    found = await chat.send("clasic tee")
    assert "Results for" in found.text.plain
    await chat.press(re.compile("^Classic Organic Cotton Tee"))
    await chat.press("M")
    await chat.press("Black")
    await chat.press("➕ Add to cart")
    await chat.press("🛒 Go to cart")
    await chat.press("🏷 Promo code")
    await chat.send("WELCOME10")
    before = await stock(shop, TEE)

    # No saved address: straight to the first step (or pickup); Cancel goes back to the cart.
    name_step = await chat.press("✅ Checkout")
    assert "New address · step 1 of 5" in name_step.text.plain
    assert "Or collect the order yourself: no address needed." in name_step.text.plain
    assert name_step.labels() == ["🏬 Pickup at the shop — free", "« Back", "Cancel"]
    await chat.send("Ada Lovelace")
    await chat.send("12 Rue de Rivoli")
    cancelled = await chat.press("Cancel")
    assert "Your cart" in cancelled.text.plain
    assert "Results for" in (await chat.send("mug")).text.plain  # the step was left

    await chat.send("/cart")
    await chat.press("✅ Checkout")
    await chat.send("Ada Lovelace")
    street = chat.last
    assert "step 2 of 5" in street.text.plain and "Ada Lovelace" in street.text.plain
    back = await chat.press("« Back")
    assert "step 1 of 5" in back.text.plain
    assert "Your cart" in (await chat.press("« Back")).text.plain  # no saved address yet
    await chat.press("✅ Checkout")
    await chat.send("Ada King Lovelace")
    place = await chat.do(Location(48.86, 2.35))
    assert "please type the address" in place.text.plain and "step 2 of 5" in place.text.plain
    await chat.send("12 Rue de Rivoli")
    await chat.send("Paris")
    bad = await chat.send("!!")
    assert "step 4 of 5" in bad.text.plain and "is not a postcode" in bad.text.plain
    await chat.send("75001")
    wrong = await chat.send("Atlantis")
    assert "step 5 of 5" in wrong.text.plain and "not a country code" in wrong.text.plain
    methods = await chat.send("France")
    assert "Ada King Lovelace, 12 Rue de Rivoli, 75001 Paris, FR" in methods.text.plain
    # Delivery to an address: pickup (offered before the address) is not among them.
    assert methods.labels() == ["Courier (1–2 days) — €6.00", "Post (3–5 days) — €3.00",
                                "« Other address", "Cancel"]

    summary = await chat.press("Courier (1–2 days) — €6.00")
    text = summary.text.plain
    for expected in ("Classic Organic Cotton Tee (M / Black) × 1 — €24.90", "Subtotal: €24.90",
                     "Discount (WELCOME10): −€2.49", "Shipping (Courier (1–2 days)): €6.00",
                     "Total: €28.41", "Deliver to: Ada King Lovelace"):
        assert expected in text, expected
    assert summary.labels() == ["💳 Pay €28.41", "« Back", "Cancel"]
    pay_button = chat.button("💳 Pay €28.41")

    payment = await chat.press("💳 Pay €28.41")
    assert re.search(r"Order #\d+ is placed", payment.text.plain)
    assert "We keep your items for 30 minutes." in payment.text.plain
    assert payment.new_message and payment.invoice is None
    assert await stock(shop, TEE) == before - 1  # reserved
    again = await chat.press_action(pay_button.action)  # a double tap on Pay
    assert "is placed" in again.text.plain
    assert len(await orders_of(shop, chat)) == 1
    test_pay = chat.button("💳 Pay €28.41 (test)")

    receipt = await chat.press("💳 Pay €28.41 (test)")
    text = receipt.text.plain
    assert re.search(r"Thank you! Order #\d+ is paid", text)
    assert "Total paid: €28.41" in text and "Courier (1–2 days)" in text
    assert "12 Rue de Rivoli, 75001 Paris, FR" in text
    assert receipt.labels() == ["📦 My orders", "« Menu"]
    assert await stock(shop, TEE) == before - 1
    [order] = await orders_of(shop, chat)
    assert order.status == OrderStatus.PAID

    twice = await chat.press_action(test_pay.action)
    assert "This order is already paid." in twice.text.plain and "is paid" in twice.text.plain
    stale = await chat.press_action(pay_button.action)  # the old summary's Pay
    assert "already paid" in stale.text.plain
    assert len(await orders_of(shop, chat)) == 1
    assert (await shop.carts.view(chat.convo.customer_id)).is_empty


async def test_saved_address_and_refusals(shop: Shop) -> None:
    chat = await Chat.open(shop, "201")
    empty = await chat.press_action(Action.make("co"))
    assert "There is nothing to check out." in empty.text.plain
    address_id = await with_address(shop, chat)
    tee = await shop.catalog.variant(sku=TEE)
    await shop.carts.add(chat.convo.customer_id, tee.id, 2)
    await shop.catalog.set_stock(tee.id, 1, actor="test", reason="test")
    refused = await chat.press_action(Action.make("co"))
    assert "cannot be bought as they are" in refused.text.plain
    assert "Classic Organic Cotton Tee — only 1 left" in refused.text.plain
    assert refused.labels() == ["🛒 Back to cart", "« Menu"]
    await shop.catalog.set_stock(tee.id, 10, actor="test", reason="test")
    choose = await chat.press_action(Action.make("co"))
    assert "Where should we deliver?" in choose.text.plain
    assert choose.labels()[0].startswith("📍 Bob Martin, 3 Place Bellecour")
    assert "➕ New address" in choose.labels()
    assert "🏬 Pickup at the shop — free" in choose.labels()
    await chat.press(re.compile("^📍 Bob Martin"))
    summary = await chat.press(re.compile("^Courier"))
    assert "Shipping (Courier (1–2 days)): €6.00" in summary.text.plain
    old_pay = chat.button(re.compile("^💳 Pay"))
    await shop.carts.set_quantity(chat.convo.customer_id, tee.id, 1)
    changed = await chat.press_action(old_pay.action)
    assert "Your cart changed since this summary." in changed.text.plain
    assert await orders_of(shop, chat) == []
    await chat.press_action(Action.make("coaddr", address_id))
    await chat.press(re.compile("^Courier"))
    back = await chat.press("« Back")
    assert "Choose a shipping method:" in back.text.plain
    # Someone else's address (or a forged id) is refused by the core.
    other = await Chat.open(shop, "202")
    stolen = await other.press_action(Action.make("coaddr", address_id))
    assert "Sorry, that cannot be done here." in stolen.text.plain
    missing = await other.press_action(Action.make("coaddr", -4))
    assert "Sorry, that is no longer available." in missing.text.plain
    # A shipping button with no checkout in progress starts it again.
    restarted = await other.press_action(Action.make("coship", 1))
    assert "There is nothing to check out." in restarted.text.plain


async def test_digital_only_skips_address(shop: Shop) -> None:
    chat = await Chat.open(shop, "203")
    await chat.send("/start p_les-miserables-ebook")
    await chat.press("➕ Add to cart")
    await chat.send("/cart")
    summary = await chat.press("✅ Checkout")
    assert "Delivery: digital, here in the chat" in summary.text.plain
    assert "Total: €2.99" in summary.text.plain
    payment = await chat.press("💳 Pay €2.99")
    assert "is placed" in payment.text.plain
    receipt = await chat.press("💳 Pay €2.99 (test)")
    assert "digital delivery here in the chat" in receipt.text.plain
    [order] = await orders_of(shop, chat)
    assert order.status == OrderStatus.PAID


async def test_invoices_card_and_stars(database: Database) -> None:
    shop = await demo_shop(database, payment_provider_token="284685063:TEST:abc")
    chat = await Chat.open(shop, "204")
    chat.convo.capabilities = Capabilities(invoices=True)
    address_id = await with_address(shop, chat)
    tee = await shop.catalog.variant(sku=TEE)
    await shop.carts.add(chat.convo.customer_id, tee.id, 1)
    await chat.press_action(Action.make("coaddr", address_id))
    await chat.press(re.compile("^Courier"))
    card = await chat.press(re.compile("^💳 Pay"))
    assert card.invoice is not None and card.new_message
    assert card.invoice.currency == "EUR" and card.invoice.provider_token
    assert "is placed" in card.text.plain and "✕ Cancel order" in card.labels()

    reader = await Chat.open(shop, "205")
    reader.convo.capabilities = Capabilities(invoices=True)
    await reader.send("/start p_les-miserables-ebook")
    await reader.press("➕ Add to cart")
    await reader.press_action(Action.make("co"))
    stars = await reader.press(re.compile("^💳 Pay"))
    assert stars.invoice is not None and stars.invoice.currency == "XTR"
    assert stars.invoice.provider_token is None


async def test_invoices_without_card_token_fall_back_to_test(shop: Shop) -> None:
    chat = await Chat.open(shop, "206")
    chat.convo.capabilities = Capabilities(invoices=True)
    address_id = await with_address(shop, chat)
    tee = await shop.catalog.variant(sku=TEE)
    await shop.carts.add(chat.convo.customer_id, tee.id, 1)
    await chat.press_action(Action.make("coaddr", address_id))
    await chat.press(re.compile("^Courier"))
    payment = await chat.press(re.compile("^💳 Pay"))
    assert payment.invoice is None
    assert any(label.endswith("(test)") for label in payment.labels())


async def test_two_customers_race_for_the_last_unit(shop: Shop) -> None:
    mug = await shop.catalog.variant(sku=TEE)
    chats = [await Chat.open(shop, "207"), await Chat.open(shop, "208")]
    for chat in chats:
        address_id = await with_address(shop, chat)
        await shop.carts.add(chat.convo.customer_id, mug.id, 1)
        await chat.press_action(Action.make("coaddr", address_id))
        await chat.press(re.compile("^Courier"))
    await shop.catalog.set_stock(mug.id, 1, actor="test", reason="last one")
    first, second = chats
    won = await first.press(re.compile("^💳 Pay"))
    assert "is placed" in won.text.plain
    lost = await second.press(re.compile("^💳 Pay"))
    assert "Sorry, someone was faster" in lost.text.plain
    assert "Nothing was reserved or charged." in lost.text.plain
    assert lost.toast == "Sorry, out of stock."
    assert await orders_of(shop, second) == []
    assert len(await orders_of(shop, first)) == 1
    assert await stock(shop, TEE) == 0
    receipt = await first.press(re.compile(r"\(test\)$"))
    assert "is paid" in receipt.text.plain


async def test_new_choices_after_cancel_or_change_make_a_new_order(shop: Shop) -> None:
    chat = await Chat.open(shop, "209")
    address_id = await with_address(shop, chat)
    tee = await shop.catalog.variant(sku=TEE)
    before = tee.stock
    await shop.carts.add(chat.convo.customer_id, tee.id, 1)

    async def checkout(method: str) -> None:
        await chat.press_action(Action.make("co"))
        if method == "Pickup":
            await chat.press(re.compile("^🏬 Pickup"))
        else:
            await chat.press_action(Action.make("coaddr", address_id))
            await chat.press(re.compile(f"^{method}"))
        assert "is placed" in (await chat.press(re.compile("^💳 Pay"))).text.plain

    await checkout("Courier")
    await chat.press("✕ Cancel order")
    await chat.press("Yes, cancel it")
    assert await stock(shop, TEE) == before
    # The same cart again, after its order was cancelled: a new order, not the old one.
    await checkout("Pickup")
    await checkout("Courier")  # changed the method before paying
    orders = await orders_of(shop, chat)
    assert [o.status for o in orders] == [OrderStatus.AWAITING_PAYMENT, OrderStatus.CANCELLED,
                                          OrderStatus.CANCELLED]
    newest = await shop.orders.order(chat.convo.actor, orders[0].id)
    assert newest.shipping_method == "Courier (1–2 days)"
    assert await stock(shop, TEE) == before - 1
    receipt = await chat.press(re.compile(r"\(test\)$"))
    assert f"Order #{newest.number} is paid" in receipt.text.plain


@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
async def test_stripe_link_when_no_invoices(database: Database) -> None:
    key = "sk_test_chatshop_4242424242424242"
    async with FakeStripe(key) as fake:
        shop = await demo_shop(database, stripe_api_key=key, stripe_api_base=fake.base_url)
        assert shop.stripe is not None
        try:
            chat = await Chat.open(shop, "210")
            await chat.send("/start p_les-miserables-ebook")
            await chat.press("➕ Add to cart")
            await chat.press_action(Action.make("co"))
            payment = await chat.press(re.compile("^💳 Pay"))
            link = chat.button("💳 Pay €2.99")
            assert link.url and link.url.startswith("http") and link.action is None
            assert "is placed" in payment.text.plain and "📦 Order status" in payment.labels()
        finally:
            await shop.stripe.aclose()


async def test_pickup_skips_the_address(database: Database) -> None:
    shop = await demo_shop(database, payment_provider_token="284685063:TEST:abc")
    chat = await Chat.open(shop, "211")
    address_id = await with_address(shop, chat)
    tee = await shop.catalog.variant(sku=TEE)
    await shop.carts.add(chat.convo.customer_id, tee.id, 1)
    choose = await chat.press_action(Action.make("co"))
    assert "Or collect the order yourself: no address needed." in choose.text.plain
    summary = await chat.press("🏬 Pickup at the shop — free")
    text = summary.text.plain
    assert "Shipping (Pickup at the shop): free" in text and "Total: €24.90" in text
    assert "Pickup: Pickup at the shop" in text and "Deliver to" not in text
    assert summary.labels() == ["💳 Pay €24.90", "« Back", "Cancel"]
    back = await chat.press("« Back")
    assert "Where should we deliver?" in back.text.plain
    await chat.press("🏬 Pickup at the shop — free")
    chat.convo.capabilities = Capabilities(invoices=True)
    placed = await chat.press("💳 Pay €24.90")
    assert placed.invoice is not None and placed.invoice.currency == "EUR"
    assert not placed.invoice.need_shipping_address and not placed.invoice.is_flexible
    [listed] = await orders_of(shop, chat)
    order = await shop.orders.order(chat.convo.actor, listed.id)
    assert order.pickup and order.address is None
    assert order.shipping_method == "Pickup at the shop"
    # Choosing an address afterwards is a delivery: pickup is not offered there.
    methods = await chat.press_action(Action.make("coaddr", address_id))
    assert not any("Pickup" in label for label in methods.labels())


async def test_pickup_receipt_and_order_detail(shop: Shop) -> None:
    chat = await Chat.open(shop, "212")
    tee = await shop.catalog.variant(sku=TEE)
    await shop.carts.add(chat.convo.customer_id, tee.id, 1)
    first = await chat.press_action(Action.make("co"))  # no saved address: step 1 …
    assert "step 1 of 5" in first.text.plain
    await chat.press("🏬 Pickup at the shop — free")  # … or pickup, with no address at all
    await chat.press(re.compile("^💳 Pay"))
    receipt = await chat.press(re.compile(r"\(test\)$"))
    text = receipt.text.plain
    assert "Pickup: Pickup at the shop" in text and "ready to collect" in text
    assert "Next: we prepare your order and tell you here when you can collect it." in text
    assert "Total paid: €24.90" in text
    assert await shop.customers.addresses(chat.convo.customer_id) == []
    [order] = await orders_of(shop, chat)
    detail = await chat.press_action(Action.make("order", order.id))
    assert "Pickup: Pickup at the shop" in detail.text.plain
    assert "Paid: €24.90" in detail.text.plain


async def test_an_older_pay_button_does_not_pay_for_another_method(shop: Shop) -> None:
    chat = await Chat.open(shop, "213")
    address_id = await with_address(shop, chat)
    tee = await shop.catalog.variant(sku=TEE)
    await shop.carts.add(chat.convo.customer_id, tee.id, 1)
    await chat.press_action(Action.make("coaddr", address_id))
    await chat.press(re.compile("^Courier"))
    courier_pay = chat.button(re.compile("^💳 Pay"))
    await chat.press("« Back")
    await chat.press(re.compile("^Post"))
    stale = await chat.press_action(courier_pay.action)
    assert "This button is out of date" in stale.text.plain
    assert "Shipping (Post (3–5 days)): €3.00" in stale.text.plain
    assert stale.toast and "out of date" in stale.toast
    assert await orders_of(shop, chat) == []
    placed = await chat.press("💳 Pay €27.90")
    assert "is placed" in placed.text.plain
    [order] = await orders_of(shop, chat)
    assert (await shop.orders.order(chat.convo.actor, order.id)).shipping_method == (
        "Post (3–5 days)")


async def test_stars_receipt_and_order_show_the_stars_paid(shop: Shop) -> None:
    chat = await Chat.open(shop, "214")
    chat.convo.capabilities = Capabilities(invoices=True)
    await chat.send("/start p_les-miserables-ebook")
    await chat.press("➕ Add to cart")
    await chat.press_action(Action.make("co"))
    placed = await chat.press(re.compile("^💳 Pay"))
    invoice = placed.invoice
    assert invoice is not None and invoice.currency == "XTR"
    await shop.payments.telegram_payment(
        payload=invoice.payload, currency="XTR", total_amount=invoice.total,
        telegram_payment_charge_id="stars-214", provider_payment_charge_id=None)
    [listed] = await orders_of(shop, chat)
    order = await shop.orders.order(chat.convo.actor, listed.id)
    assert order.paid == order.total and order.paid_stars == invoice.total
    stars = f"{invoice.total} ⭐"
    receipt = receipt_screen(chat.convo, order).text.plain
    assert f"Paid: {stars}" in receipt and "Total: €2.99" in receipt
    assert "€0.00" not in receipt
    detail = await chat.press_action(Action.make("order", order.id))
    assert f"Paid: {stars}" in detail.text.plain and "€0.00" not in detail.text.plain
    chat.convo.language = "fr"
    assert f"Payé : {stars}" in receipt_screen(chat.convo, order).text.plain
