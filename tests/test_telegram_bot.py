"""End to end: the real aiogram customer bot against the fake Telegram Bot API."""

from __future__ import annotations

import re

from shop.auth import CustomerActor
from shop.orders.states import OrderStatus
from tests.conftest import Database
from tests.fakes.telegram_users import Reply, TelegramUser
from tests.support.shop import MANAGER
from tests.support.telegram import running_customer_bot

ALICE = 2001


async def test_start_search_product_variant_cart(database: Database) -> None:
    async with running_customer_bot(database) as (tg, shop):
        alice = tg.user(ALICE, "Alice", language_code="en")
        start = await alice.send("/start")
        assert "Hello, Alice!" in start.text
        assert alice.buttons() == ["🛍 Catalog", "🔎 Search", "🛒 Cart", "📦 My orders",
                                   "💬 Support", "🌐 Language"]
        found = await alice.send("clasic tee")
        assert "Results for" in found.text
        card = await alice.press(re.compile("^Classic Organic Cotton Tee"))
        # A text message cannot become a photo: the card replaces it.
        assert card.latest is not None and card.latest.photo
        assert "Classic Organic Cotton Tee" in card.text
        sizes = await alice.press("M")
        assert sizes.latest is not None and sizes.latest.message_id == card.latest.message_id
        await alice.press("Black")
        added = await alice.press("➕ Add to cart")
        assert added.answer is not None and added.answer.text == "Added to cart"
        cart = await alice.press("🛒 Go to cart")
        assert "Classic Organic Cotton Tee (M / Black) × 1" in cart.text
        plus = await alice.press("+")
        assert "× 2" in plus.text
        assert (await shop.carts.view((await shop.customers.get_or_create(
            "telegram", str(ALICE))).id)).item_count == 2


async def test_deep_link_commands_and_other_updates(database: Database) -> None:
    async with running_customer_bot(database) as (tg, _shop):
        bob = tg.user(ALICE + 1, "Bob", language_code="pl")
        card = await bob.send("/start p_zolta-chusta-scarf")
        assert "Żółta Chusta Scarf" in card.text
        sticker = await bob.send_sticker(expect=1)
        assert "text" in sticker.text.lower() or sticker.text
        unknown = await bob.send("/nonsense")
        assert unknown.text
        stale = await bob.press_data("prod:999999", expect=1)
        assert stale.answer is not None
        forged = await bob.press_data("x" * 64, expect=1)
        assert forged.answer is not None
        assert tg.commands("pl"), "commands registered in Polish"


async def buy_in_telegram(user: TelegramUser, *, promo: str | None = None) -> Reply:
    """Search with a typo → tee M/Black → cart (→ promo) → new address → courier → invoice."""
    await user.send("clasic tee")
    await user.press(re.compile("^Classic Organic Cotton Tee"))
    await user.press("M")
    await user.press("Black")
    await user.press(re.compile("Add to cart|Ajouter|Dodaj"))
    await user.press(re.compile("cart|panier|koszyk", re.IGNORECASE))
    if promo:
        await user.press(re.compile("Promo"))
        await user.send(promo)
    await user.press(re.compile("^✅"))
    for line in ("Ada Lovelace", "12 Rue de Rivoli", "Paris", "75001", "FR"):
        await user.send(line)
    await user.press(re.compile("^Courier"))
    return await user.press(re.compile("^💳"), expect=2)


async def test_buy_with_a_telegram_invoice_and_get_a_receipt(database: Database) -> None:
    async with running_customer_bot(database,
                                    payment_provider_token="284685063:TEST:x") as (tg, shop):
        alice = tg.user(ALICE, "Alice", language_code="en")
        await alice.send("/start")
        placed = await buy_in_telegram(alice, promo="WELCOME10")
        invoice_message = next(m for m in placed.messages if m.invoice)
        assert invoice_message.invoice["currency"] == "EUR"
        result = await alice.pay_invoice(shipping_address={
            "country_code": "FR", "state": "", "city": "Paris", "street_line1": "12 Rue de "
            "Rivoli", "street_line2": "", "post_code": "75001"})
        assert result.shipping_answer is not None and result.shipping_answer["ok"]
        assert result.pre_checkout_answer is not None and result.pre_checkout_answer["ok"]
        assert result.paid
        assert "Thank you" in result.reply.text or "#1001" in result.reply.text
        customer = await shop.customers.get_or_create("telegram", str(ALICE))
        (order,) = await shop.orders.orders(CustomerActor(customer.id))
        assert order.status == OrderStatus.PAID and order.total.minor == 2490 - 249 + 600

        # Staff act; the customer hears about it in the chat.
        await shop.orders.confirm(MANAGER, order.id)
        await shop.orders.ship(MANAGER, order.id, carrier="DHL", tracking_number="JD014",
                               tracking_url="https://dhl.example/t/JD014")
        await tg.wait_for(lambda: any("JD014" in (m.body or "") for m in tg.chat(ALICE)),
                          what="the shipping notification")
        shipped = next(m for m in tg.chat(ALICE) if "JD014" in (m.body or ""))
        assert shipped.keyboard[0][0].url == "https://dhl.example/t/JD014"


async def test_two_customers_race_for_the_last_unit(database: Database) -> None:
    async with running_customer_bot(database,
                                    payment_provider_token="284685063:TEST:x") as (tg, shop):
        last = await shop.catalog.variant(sku="TEE-CLS-BLK-M")
        await shop.catalog.set_stock(last.id, 1, actor="test", reason="last one")
        alice, bob = tg.user(ALICE, "Alice"), tg.user(ALICE + 5, "Bob")
        for user in (alice, bob):
            await user.send("/start p_classic-tee")
            await user.press("M")
            await user.press("Black")
            await user.press("➕ Add to cart")
        await buy_in_telegram_from_cart(alice)
        # Alice's order holds the last unit now: Bob's cart says so and checkout refuses.
        await bob.send("/cart")
        assert "sold out" in bob.text()
        late = await bob.press(re.compile("^✅"))
        assert "sold out" in late.text
        assert not await shop.orders.orders(CustomerActor(
            (await shop.customers.get_or_create("telegram", str(ALICE + 5))).id))
        result = await alice.pay_invoice(shipping_address={
            "country_code": "FR", "state": "", "city": "Paris", "street_line1": "1 rue",
            "street_line2": "", "post_code": "75001"})
        assert result.paid
        assert (await shop.catalog.variant(sku="TEE-CLS-BLK-M")).stock == 0


async def buy_in_telegram_from_cart(user: TelegramUser) -> Reply:
    await user.send("/cart")
    await user.press(re.compile("^✅"))
    for line in ("Ada Lovelace", "12 Rue de Rivoli", "Paris", "75001", "FR"):
        await user.send(line)
    await user.press(re.compile("^Courier"))
    return await user.press(re.compile("^💳"), expect=2)
