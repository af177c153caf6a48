"""The support chat flow: messages and photos reach the core's threads."""

from __future__ import annotations

import pytest

from bot.flows.actions import Action
from shop.bootstrap import Shop
from tests.conftest import Database
from tests.support.flows import Chat
from tests.support.shop import SUPPORT, Clock, buy, customer, make_shop, seed_basics


@pytest.fixture
async def shop(database: Database) -> Shop:
    return make_shop(database, Clock())


async def test_general_question_with_photo_then_back_to_search(shop: Shop) -> None:
    chat = await Chat.open(shop, "100")
    opened = await chat.send("/support")
    assert "Write to us" in opened.text.plain
    sent = await chat.send("Do you ship to Norway?")
    assert "Sent" in sent.text.plain
    await chat.photo("photo-file-1")
    await chat.press("✓ Done")
    (thread,) = await shop.support.threads(SUPPORT)
    view = await shop.support.thread(SUPPORT, thread.id)
    assert [(m.text, list(m.photo_ids)) for m in view.messages] == [
        ("Do you ship to Norway?", []), ("", ["photo-file-1"])]
    after = await chat.send("mug")  # the chat is closed: text searches again
    assert "Results for" in after.text.plain


async def test_question_about_an_order_and_not_someone_elses(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["pickup"], {ids["MUG"]: 1})
    chat = await Chat.open(shop, "100")
    opened = await chat.press_action(Action.make("sup", order.id))
    assert f"order #{order.number}" in opened.text.plain
    await chat.send("Can I pick it up on Saturday?")
    (thread,) = await shop.support.threads(SUPPORT)
    assert thread.order_id == order.id
    mallory = await Chat.open(shop, "666")
    refused = await mallory.press_action(Action.make("sup", order.id))
    assert "not one of your orders" in refused.text.plain
