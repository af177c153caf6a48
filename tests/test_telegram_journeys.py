"""End to end in Telegram, after the purchase: a return, support, other languages, inline mode
and the payment methods that need no card provider (test provider, Stars)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.i18n import format_money, pick_language
from shop.auth import CustomerActor
from shop.bootstrap import Shop
from shop.money import Money
from shop.orders.states import OrderStatus
from tests.conftest import Database
from tests.fakes.stripe_server import FakeStripe
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.telegram_users import Reply, TelegramUser
from tests.support.shop import MANAGER, SUPPORT, Clock
from tests.support.telegram import running_customer_bot
from tests.test_telegram_bot import buy_in_telegram_from_cart

ALICE, BOB = 3001, 3002
TOKEN = "284685063:TEST:x"
STRIPE_KEY = "sk_test_fake_key_0123456789"
PARIS = {"country_code": "FR", "state": "", "city": "Paris", "street_line1": "12 Rue de Rivoli",
         "street_line2": "", "post_code": "75001"}


async def actor_of(shop: Shop, user: TelegramUser) -> CustomerActor:
    return CustomerActor((await shop.customers.get_or_create("telegram", str(user.id))).id)


async def shown(tg: FakeTelegram, user: TelegramUser, *words: str) -> str:
    """Wait for a bot message in the chat holding every word; return its text."""
    def find() -> str | None:
        return next((m.body for m in reversed(tg.chat(user.id))
                     if all(w in m.body for w in words)), None)
    found = await tg.wait_for(find, what=f"a message with {words}")
    assert found is not None
    return found


async def tee_in_cart(user: TelegramUser, *, quantity: int = 1) -> None:
    await user.send("/start p_classic-tee")
    await user.press("M")
    await user.press("Black")
    for _ in range(quantity - 1):
        await user.press("+")
    await user.press("➕ Add to cart")


async def checkout_with_test_provider(user: TelegramUser) -> Reply:
    """Tee in the cart → new address → courier → the Pay step (no invoice without a token)."""
    await tee_in_cart(user)
    await user.send("/cart")
    await user.press(re.compile("^✅"))
    for line in ("Ada Lovelace", "12 Rue de Rivoli", "Paris", "75001", "FR"):
        await user.send(line)
    await user.press(re.compile("^Courier"))
    return await user.press(re.compile("^💳"))


async def test_return_end_to_end(database: Database) -> None:
    # The bot decides whether a return may be asked by the wall clock: keep the shop's in step.
    async with FakeStripe(STRIPE_KEY) as stripe, running_customer_bot(
            database, Clock(datetime.now(UTC)), payment_provider_token=TOKEN,
            stripe_api_key=STRIPE_KEY, stripe_api_base=stripe.base_url) as (tg, shop):
        alice = tg.user(ALICE, "Alice")
        await tee_in_cart(alice, quantity=2)
        await buy_in_telegram_from_cart(alice)
        actor = await actor_of(shop, alice)
        (order,) = await shop.orders.orders(actor)
        charge = stripe.create_charge(order.total.minor, "EUR")
        paid = await alice.pay_invoice(shipping_address=PARIS, provider_payment_charge_id=charge)
        assert paid.paid and paid.reply is not None and "#1001" in paid.reply.text

        await shop.orders.confirm(MANAGER, order.id)
        await shown(tg, alice, "#1001", "confirmed")
        await shop.orders.ship(MANAGER, order.id, carrier="DHL", tracking_number="JD77",
                               tracking_url="https://dhl.example/t/JD77")
        await shown(tg, alice, "JD77")
        await shop.orders.deliver(MANAGER, order.id)
        await shown(tg, alice, "#1001", "was delivered")

        await alice.send("/start")
        await alice.press("📦 My orders")
        detail = await alice.press(re.compile("^#1001"))
        assert "Order #1001" in detail.text and "delivered" in detail.text
        picking = await alice.press("↩ Return items")
        assert "0/2 · Classic Organic Cotton Tee" in " ".join(alice.buttons())
        assert picking.latest is not None
        await alice.press("+")
        await alice.press("+")
        assert any(b.startswith("2/2 · ") for b in alice.buttons())
        await alice.press("Continue »")
        await alice.press("Wrong size")
        assert "Skip photos" in alice.buttons()
        got = await alice.send_photo(caption="the label")
        assert "Photos received: 1" in got.text
        photo_id = next(m for m in reversed(tg.chat(ALICE, include_user=True))
                        if not m.from_bot and m.photo).photo_file_id
        done = await alice.press("✅ Done — send the request")
        assert "Return requested for order #1001." in done.text
        assert "Classic Organic Cotton Tee (M / Black) × 2" in done.text

        (ret,) = await shop.returns.list(SUPPORT)
        assert ret.status == "requested" and ret.reason == "Wrong size"
        assert list(ret.photo_ids) == [photo_id]
        assert [(line.quantity) for line in ret.lines] == [2]
        assert (await shop.orders.order(actor, order.id)).status == OrderStatus.RETURN_REQUESTED

        await shop.returns.approve(SUPPORT, ret.id, note="Use the prepaid label")
        approved = await shown(tg, alice, "#1001", "is approved")
        assert "Use the prepaid label" in approved
        await shop.returns.receive(SUPPORT, ret.id)
        await shown(tg, alice, "We received the items you returned from order #1001.")
        _, refund = await shop.returns.refund(SUPPORT, ret.id)
        amount = format_money(refund.refunded, "en")
        assert refund.refunded.minor == 2 * 2490
        await shown(tg, alice, f"We refunded {amount} for order #1001.")
        assert stripe.charges[charge]["amount_refunded"] == 2 * 2490
        refunded = await shown(tg, alice, "Your return for order #1001 is refunded.")
        assert "Note from the shop" not in refunded
        final = await alice.press("📦 View order", in_message=tg.chat(ALICE)[-1])
        assert "Return: refunded" in final.text and f"Refunded: {amount}" in final.text


async def test_support_about_an_order_and_in_general(database: Database) -> None:
    async with running_customer_bot(database) as (tg, shop):
        alice = tg.user(ALICE, "Alice")
        await checkout_with_test_provider(alice)
        await alice.press(re.compile(r"^💳 Pay .*\(test\)$"))
        (order,) = await shop.orders.orders(await actor_of(shop, alice))

        await alice.send("/orders")
        await alice.press(re.compile("^#1001"))
        asking = await alice.press("💬 Ask about this order")
        assert "Write to us about order #1001" in asking.text
        sent = await alice.send("Can it come before Friday?")
        assert "Sent" in sent.text
        await alice.press("✓ Done")
        await alice.send("/support")
        general = await alice.send("Do you ship to Kraków?")
        assert "Sent" in general.text
        # Free text after Done searches again instead of reaching support.
        await alice.press("✓ Done")

        threads = await shop.support.threads(SUPPORT)
        by_order = {thread.order_id: thread for thread in threads}
        assert set(by_order) == {order.id, None}
        about = await shop.support.thread(SUPPORT, by_order[order.id].id)
        assert [m.text for m in about.messages] == ["Can it come before Friday?"]
        assert about.summary.order_number == 1001 and about.summary.awaiting_reply
        general_thread = await shop.support.thread(SUPPORT, by_order[None].id)
        assert [m.text for m in general_thread.messages] == ["Do you ship to Kraków?"]

        await shop.support.staff_reply(SUPPORT, about.id, "Yes, it leaves on Wednesday.")
        answer = await shown(tg, alice, "Support answered:", "Yes, it leaves on Wednesday.")
        assert answer.startswith("Support answered:")
        assert "💬 Reply" in alice.buttons()


async def buy_in_language(tg: FakeTelegram, shop: Shop, user: TelegramUser,
                          words: dict[str, str]) -> None:
    """The whole purchase pressing the translated labels (a missing translation fails)."""
    language = pick_language(user.info.language_code)
    price = format_money(Money("EUR", 2490), language)
    start = await user.send("/start")
    assert words["hello"] in start.text and words["what"] in start.text
    assert words["catalog"] in user.buttons()
    found = await user.send("clasic tee")
    assert words["results"] in found.text and price in " ".join(user.buttons())
    await user.press(re.compile("^Classic Organic Cotton Tee"))
    await user.press("M")
    card = await user.press("Black")
    assert price in card.text
    await user.press(words["add"])
    cart = await user.press(words["go to cart"])
    assert words["your cart"] in cart.text and price in cart.text
    await user.press(words["checkout"])
    for line in ("Ada Lovelace", "12 Rue de Rivoli", "Paris", "75001", "FR"):
        await user.send(line)
    await user.press(re.compile("^Courier"))
    placed = await user.press(re.compile("^💳"), expect=2)
    assert words["invoice"] in placed.text or any(words["invoice"] in m.body
                                                  for m in placed.messages)
    assert any(m.invoice for m in placed.messages)
    result = await user.pay_invoice(shipping_address=PARIS)
    assert result.paid and result.reply is not None
    assert words["paid"] in result.reply.text and price in result.reply.text
    (order,) = await shop.orders.orders(await actor_of(shop, user))
    assert order.status == OrderStatus.PAID


async def test_the_purchase_in_french_and_polish(database: Database) -> None:
    assert format_money(Money("EUR", 2490), "fr") == "24,90\xa0€"
    async with running_customer_bot(database, payment_provider_token=TOKEN) as (tg, shop):
        await buy_in_language(tg, shop, tg.user(ALICE, "Amélie", language_code="fr"), {
            "hello": "Bonjour, Amélie !", "what": "Que souhaitez-vous faire ?",
            "catalog": "🛍 Catalogue", "results": "Résultats pour",
            "add": "➕ Ajouter au panier", "go to cart": "🛒 Voir le panier",
            "your cart": "Votre panier", "checkout": "✅ Commander",
            "invoice": "Payez avec la facture ci-dessous.",
            "paid": "✅ Merci ! La commande #1001 est payée."})
        await buy_in_language(tg, shop, tg.user(BOB, "Bartek", language_code="pl-PL"), {
            "hello": "Cześć, Bartek!", "what": "Co chcesz zrobić?", "catalog": "🛍 Katalog",
            "results": "Wyniki dla", "add": "➕ Do koszyka", "go to cart": "🛒 Zobacz koszyk",
            "your cart": "Twój koszyk", "checkout": "✅ Zamów",
            "invoice": "Zapłać, korzystając z faktury poniżej.",
            "paid": "✅ Dziękujemy! Zamówienie #1002 jest opłacone."})


async def test_switch_language_from_the_menu(database: Database) -> None:
    async with running_customer_bot(database) as (tg, shop):
        eve = tg.user(ALICE, "Eve", language_code="en")
        await eve.send("/start")
        choices = await eve.press("🌐 Language")
        assert "Choose your language:" in choices.text
        assert eve.buttons()[:3] == ["✓ English", "Français", "Polski"]
        switched = await eve.press("Polski")
        assert "Język: Polski" in switched.text and "Co chcesz zrobić?" in switched.text
        assert "🛍 Katalog" in eve.buttons()
        customer = await shop.customers.get_or_create("telegram", str(ALICE))
        assert customer.language == "pl"
        # The choice sticks although Telegram still says "en".
        again = await eve.send("/start")
        assert "Cześć, Eve!" in again.text
        await eve.send("/start p_classic-tee")
        await eve.press("M")
        card = await eve.press("Black")
        assert format_money(Money("EUR", 2490), "pl") in card.text
        assert "➕ Do koszyka" in eve.buttons()


async def test_inline_mode_links_open_the_product(database: Database) -> None:
    async with running_customer_bot(database) as (tg, _shop):
        alice = tg.user(ALICE, "Alice")
        answer = await alice.inline_query("hoodie")
        assert answer.results, "hoodies found"
        titles = [r["title"] for r in answer.results]
        assert all("Hoodie" in title for title in titles)
        assert "Everyday Pullover Hoodie" in titles
        first = answer.results[0]
        (button,) = first["reply_markup"]["inline_keyboard"][0]
        match = re.fullmatch(r"https://t\.me/chatshop_test_bot\?start=(p_[a-z0-9-]+)",
                             button["url"])
        assert match is not None, button
        opened = await alice.send(f"/start {match[1]}")
        assert opened.latest is not None and opened.latest.photo
        assert first["title"] in opened.text
        assert "€" in first["description"]


async def test_test_provider_and_stars_without_a_card_token(database: Database) -> None:
    async with running_customer_bot(database) as (tg, shop):
        alice = tg.user(ALICE, "Alice")
        step = await checkout_with_test_provider(alice)
        assert "This shop uses a test payment" in step.text
        assert not tg.calls("sendInvoice")
        receipt = await alice.press(re.compile(r"^💳 Pay .*\(test\)$"))
        assert "✅ Thank you! Order #1001 is paid." in receipt.text
        (order,) = await shop.orders.orders(await actor_of(shop, alice))
        assert order.status == OrderStatus.PAID

        bob = tg.user(BOB, "Bob")
        await bob.send("/start p_les-miserables-ebook")
        await bob.press("➕ Add to cart")
        await bob.press("🛒 Go to cart")
        summary = await bob.press("✅ Checkout")
        assert "Delivery: digital, here in the chat" in summary.text
        placed = await bob.press(re.compile("^💳"), expect=2)
        assert any(m.invoice for m in placed.messages)
        (call,) = tg.calls("sendInvoice", chat_id=BOB)
        assert call.params["currency"] == "XTR" and len(call.params["prices"]) == 1
        assert call.params.get("provider_token", "") == ""
        result = await bob.pay_invoice()
        assert result.pre_checkout_answer is not None and result.pre_checkout_answer["ok"]
        assert result.reply is not None
        assert "✅ Thank you! Order #1002 is paid." in result.reply.text
        assert "digital" in result.reply.text
        bob_actor = await actor_of(shop, bob)
        (summary_row,) = await shop.orders.orders(bob_actor)
        ebook = await shop.orders.order(bob_actor, summary_row.id)
        assert ebook.status == OrderStatus.PAID and ebook.digital_only
