"""Bad input to the real customer bot: junk text, forged and stale buttons, double taps,
updates out of order, Telegram refusing calls. Every one is answered, nothing escapes the
handlers (no error logged by aiogram), and the core stays consistent."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from shop.auth import CustomerActor
from shop.bootstrap import Shop
from shop.catalog.models import Product
from shop.customers.types import AddressInput
from shop.orders.checkout import CheckoutRequest
from shop.orders.states import OrderStatus
from shop.payments.models import Payment
from tests.conftest import Database
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.telegram_users import Reply, TelegramUser
from tests.support.shop import Clock
from tests.support.telegram import running_customer_bot

ALICE, BOB = 4001, 4002
TOKEN = "284685063:TEST:x"


@pytest.fixture(autouse=True)
def no_handler_errors(caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
                      ) -> Iterator[None]:
    """aiogram logs `Cause exception while process update` when a handler raises."""
    caplog.set_level(logging.INFO, logger="aiogram")
    yield
    if "allow_handler_errors" in request.fixturenames:
        return
    errors = [r for r in caplog.get_records("call")
              if r.name == "aiogram.event" and r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


@pytest.fixture
def allow_handler_errors() -> None:
    """For tests where Telegram itself fails a call: aiogram may log the handler's error."""


async def actor_of(shop: Shop, user_id: int) -> CustomerActor:
    return CustomerActor((await shop.customers.get_or_create("telegram", str(user_id))).id)


async def ebook_order(shop: Shop, user_id: int) -> int:
    """An unpaid digital order placed through the core; returns its id."""
    actor = await actor_of(shop, user_id)
    ebook = await shop.catalog.variant(sku="DIG-EBK-LMS")
    await shop.carts.add(actor.customer_id, ebook.id, 1)
    return (await shop.orders.checkout(CheckoutRequest(actor.customer_id))).id


async def replay(tg: FakeTelegram, user: TelegramUser, content: dict[str, Any]) -> None:
    """Deliver a message update again (as Telegram may after a network hiccup) and wait until
    the bot has taken it and gone quiet."""
    bot = tg.bot()
    message = tg.store_message(bot, user.id, from_bot=False, content=content)
    update_id = tg.enqueue(bot, "message", dict(message.raw))
    await tg.wait_for(lambda: update_id < bot.confirmed_below or update_id in bot.delivered,
                      what="the replayed update to be taken")
    await tg.settle(bot, user.id, 0.2)


def bodies(tg: FakeTelegram, user_id: int, text: str) -> list[str]:
    return [m.body for m in tg.chat(user_id) if text in m.body]


async def test_random_and_huge_texts_are_each_answered(database: Database) -> None:
    rng = random.Random(4)
    junk = "".join(rng.choice("abcdefghij klmnop?!.,/😀ąęłżéè\t") for _ in range(300))
    texts = ["x" * 10_000, "😀🎉🔥" * 40, "hello\x00\x01\x07\x1b[31m tee\x7f", junk,
             "a" * 4096 + " <b>", "/" + "z" * 300]
    async with running_customer_bot(database) as (tg, _shop):
        alice = tg.user(ALICE, "Alice")
        for text in texts:
            reply = await alice.send(text)
            assert reply.messages, f"no answer to {text[:40]!r}"
            assert not reply.errors, reply.errors
        html = await alice.send("<b>bold</b> & <script>alert(1)</script> tee")
        assert not html.errors
        (call,) = [c for c in html.calls if c.key == "sendmessage"]
        assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;" in call.params["text"]
        assert "<b>bold</b> & <script>alert(1)</script> tee" in html.text


async def test_forged_callback_data_changes_nothing(database: Database) -> None:
    async with running_customer_bot(database) as (tg, shop):
        alice = tg.user(ALICE, "Alice")
        bob_order = await ebook_order(shop, BOB)
        bob_address = await shop.customers.add_address(
            (await actor_of(shop, BOB)).customer_id, AddressInput(
                name="Bob", street="7 Hidden Lane", city="Kraków", postcode="30-001",
                country="PL"))
        await alice.send("/start p_classic-tee")
        await alice.press("M")
        await alice.press("Black")
        await alice.press("➕ Add to cart")
        forged = [f"coaddr:{bob_address.id}", f"order:{bob_order}", f"ocancel:{bob_order}",
                  f"ocancely:{bob_order}", f"opay:{bob_order}", f"paytest:{bob_order}",
                  f"sup:{bob_order}", f"ret:{bob_order}", "prod:abc", "prod:-5", "add:1:100000",
                  "p" * 65, "order:" + "9" * 59, "teleport:1", "", ":::", "cinc:-1"]
        for data in forged:
            reply = await alice.press_data(data, expect=1)
            assert reply.answer is not None, data
            assert reply.messages and not reply.errors, data
            text = f"{reply.text} {reply.answer.text or ''}"
            assert any(words in text for words in (
                "no longer valid", "not one of your orders", "no longer available", "Sorry",
                "no longer in your cart", "belongs to another customer")), (data, text)
            assert "Hidden Lane" not in text
        bob = await actor_of(shop, BOB)
        order = await shop.orders.order(bob, bob_order)
        assert order.status == OrderStatus.AWAITING_PAYMENT and not order.paid.minor
        alice_actor = await actor_of(shop, ALICE)
        assert not await shop.orders.orders(alice_actor)
        assert (await shop.carts.view(alice_actor.customer_id)).item_count == 1
        assert not await shop.support.threads(CustomerActor(bob.customer_id))
        assert not tg.chat(BOB), "Bob heard nothing"


async def test_stale_cart_and_product_buttons(database: Database) -> None:
    async with running_customer_bot(database) as (tg, shop):
        alice = tg.user(ALICE, "Alice")
        cid = (await actor_of(shop, ALICE)).customer_id
        await alice.send("/start p_classic-tee")
        await alice.press("M")
        await alice.press("Black")
        await alice.press("➕ Add to cart")
        old_cart = (await alice.send("/cart")).latest
        assert old_cart is not None
        await alice.send("/cart")
        emptied = await alice.press("🗑")
        assert "Your cart is empty." in emptied.text
        stale = await alice.press("+", in_message=old_cart)
        assert stale.answer is not None and stale.answer.text == (
            "That item is no longer in your cart.")
        assert (await shop.carts.view(cid)).is_empty

        await alice.send("/start p_everyday-hoodie")
        card = await alice.press("M")
        async with shop.sessions.begin() as session:
            await session.execute(update(Product).where(Product.handle == "everyday-hoodie")
                                  .values(active=False))
        await shop.catalog.load_index()
        gone = await alice.press("Black", in_message=card.latest)
        assert gone.answer is not None and "no longer available" in gone.text
        titles = [r["title"] for r in (await alice.inline_query("hoodie")).results]
        assert titles and "Everyday Pullover Hoodie" not in titles
        variant = await shop.catalog.variant(sku="HOD-EVD-BLK-M")
        added = await alice.press_data(f"add:{variant.id}:1", expect=1)
        assert "no longer available" in added.text
        assert (await shop.carts.view(cid)).is_empty


async def checkout_tee(user: TelegramUser) -> Reply:
    """Tee in the cart → new address → courier: the summary with its Pay button."""
    await user.send("/start p_classic-tee")
    await user.press("M")
    await user.press("Black")
    await user.press("➕ Add to cart")
    await user.send("/cart")
    await user.press(re.compile("^✅"))
    for line in ("Ada Lovelace", "12 Rue de Rivoli", "Paris", "75001", "FR"):
        await user.send(line)
    return await user.press(re.compile("^Courier"))


async def tap_twice(user: TelegramUser, label: str | re.Pattern[str]) -> tuple[Reply, Reply]:
    """Two presses of the same button queued back to back, before the bot answers either."""
    message = user.latest(with_keyboard=True)
    assert message is not None
    (button,) = [b for row in message.keyboard for b in row
                 if (b.text == label if isinstance(label, str) else label.search(b.text))]
    assert button.callback_data is not None
    first, second = await asyncio.gather(
        user.press_data(button.callback_data, message.message_id, expect=1),
        user.press_data(button.callback_data, message.message_id, expect=1))
    return first, second


async def test_double_taps_on_add_and_pay_then_old_pay_buttons(database: Database) -> None:
    async with running_customer_bot(database) as (tg, shop):
        alice = tg.user(ALICE, "Alice")
        actor = await actor_of(shop, ALICE)
        await alice.send("/start p_sherpa-lined-hoodie")
        await alice.press("M")
        await alice.press("Sand")
        await tap_twice(alice, "➕ Add to cart")
        (line,) = (await shop.carts.view(actor.customer_id)).lines
        assert line.quantity == 2
        await alice.send("/cart")
        await alice.press("🗑")

        summary = await checkout_tee(alice)
        await tap_twice(alice, re.compile("^💳"))
        (order,) = await shop.orders.orders(actor)
        assert order.status == OrderStatus.AWAITING_PAYMENT

        await tap_twice(alice, re.compile(r"\(test\)$"))
        (order,) = await shop.orders.orders(actor)
        assert order.status == OrderStatus.PAID
        assert len(bodies(tg, ALICE, "✅ Thank you! Order #1001 is paid.")) == 2
        assert len(bodies(tg, ALICE, "This order is already paid.")) == 1

        # The summary's Pay button, long after: the receipt again, no second order.
        again = await alice.press(re.compile("^💳"), in_message=summary.latest)
        assert "This order is already paid." in again.text
        assert len(await shop.orders.orders(actor)) == 1
        full = await shop.orders.order(actor, order.id)
        assert full.paid == full.total


async def test_replayed_payment_and_late_pre_checkout(database: Database) -> None:
    clock = Clock()
    async with running_customer_bot(database, clock, payment_provider_token=TOKEN) as (tg, shop):
        alice = tg.user(ALICE, "Alice")
        actor = await actor_of(shop, ALICE)
        await alice.send("/start p_les-miserables-ebook")
        await alice.press("➕ Add to cart")
        await alice.press("🛒 Go to cart")
        await alice.press("✅ Checkout")
        await alice.press(re.compile("^💳"), expect=2)
        paid = await alice.pay_invoice()
        assert paid.successful_payment is not None
        await replay(tg, alice, {"successful_payment": paid.successful_payment})
        assert len(bodies(tg, ALICE, "is paid.")) == 1, "one receipt"
        (order,) = await shop.orders.orders(actor)
        assert order.status == OrderStatus.PAID
        async with shop.sessions() as session:
            rows = (await session.execute(select(Payment))).scalars().all()
        assert [(p.order_id, p.currency) for p in rows] == [(order.id, "XTR")], "recorded once"
        # The same invoice paid again: refused before any money moves.
        twice = await alice.pay_invoice()
        assert twice.pre_checkout_answer is not None and not twice.pre_checkout_answer["ok"]
        assert "already paid" in twice.pre_checkout_answer["error_message"]

        # A second order whose reservation expires, then the stock runs out.
        await alice.send("/start p_slow-coffee-handbook-ebook")
        await alice.press("➕ Add to cart")
        await alice.press("🛒 Go to cart")
        await alice.press("✅ Checkout")
        await alice.press(re.compile("^💳"), expect=2)
        clock.advance(minutes=shop.settings.reservation_minutes + 1)
        assert await shop.orders.expire_due() == 1
        await tg.wait_for(lambda: bodies(tg, ALICE, "was not paid in time"),
                          what="the expiry notification")
        variant = await shop.catalog.variant(sku="DIG-EBK-SCH")
        await shop.catalog.set_stock(variant.id, 0, actor="test", reason="sold elsewhere")
        late = await alice.pay_invoice()
        assert late.pre_checkout_answer is not None and not late.pre_checkout_answer["ok"]
        assert "sold out" in late.pre_checkout_answer["error_message"]
        assert not late.paid
        statuses = sorted(o.status for o in await shop.orders.orders(actor))
        assert statuses == sorted([OrderStatus.PAID, OrderStatus.CANCELLED])


async def test_edited_messages_and_stickers_are_handled_politely(database: Database) -> None:
    async with running_customer_bot(database) as (tg, _shop):
        alice = tg.user(ALICE, "Alice")
        await alice.send("mug")
        mine = next(m for m in tg.chat(ALICE, include_user=True) if not m.from_bot)
        edited = await alice.edit_message(mine.message_id, "teapot")
        assert edited.dropped or not edited.errors  # not subscribed to: Telegram never sends it
        sticker = await alice.send_sticker(expect=1)
        assert "I can read text, button presses and photos" in sticker.text
        assert (await alice.send("/start")).messages


async def test_telegram_429_is_waited_out_and_nothing_is_lost(database: Database) -> None:
    async with running_customer_bot(database) as (tg, _shop):
        alice = tg.user(ALICE, "Alice")
        await alice.send("/start")
        tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
        await alice.send("/help")
        await tg.wait_for(lambda: "How to shop here" in alice.text(), timeout=10,
                          what="the /help answer sent again after retry_after")
        assert [c.status for c in tg.calls("sendMessage", chat_id=ALICE)][-2:] == [429, 200]

        tg.fail_next("editMessageText", 429, "Too Many Requests: retry after 1", retry_after=1)
        menu = await alice.press("« Menu")
        assert menu.answer is not None, "the button was answered"
        await tg.wait_for(lambda: "What would you like to do?" in alice.text(), timeout=10,
                          what="the menu edited in after retry_after")
        assert [c.status for c in tg.calls("editMessageText", chat_id=ALICE)][-2:] == [429, 200]
        assert (await alice.send("/cart")).messages


async def test_a_press_answered_too_late_still_shows_its_screen(
        database: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with running_customer_bot(database) as (tg, _):
        alice = tg.user(ALICE, "Alice")
        await alice.send("/start")
        menu = alice.latest(with_keyboard=True)
        assert menu is not None
        catalog = next(b.callback_data for row in menu.keyboard for b in row
                       if b.callback_data and "Catalog" in b.text)
        tg.callback_timeout = 0.0  # Telegram refuses every answer from now on: too old
        reply = await alice.press_data(catalog, menu.message_id, expect=1,
                                       require_answer=False)
        assert "Choose a category" in reply.text, alice.describe()
        (answer,) = tg.calls("answerCallbackQuery", ok=False)
        assert "query is too old" in (answer.error or "")
    # Logged as what it is (the autouse check above sees no error from aiogram).
    assert "answerCallbackQuery refused: Bad Request: query is too old" in caplog.text
