"""End to end: the real aiogram customer bot against the fake Telegram Bot API."""

from __future__ import annotations

import re

from tests.conftest import Database
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
