"""Flows called directly: start, catalog, product card and variants, search, cart."""

from __future__ import annotations

import re

import pytest

from bot.flows.actions import Action, decode
from bot.flows.context import Capabilities
from shop.bootstrap import Shop
from shop.demo.loader import load_demo
from tests.conftest import Database
from tests.support.flows import Chat
from tests.support.shop import Clock, make_shop


@pytest.fixture
async def shop(database: Database) -> Shop:
    shop = make_shop(database, Clock())
    await load_demo(shop)
    await shop.catalog.load_index()
    return shop


@pytest.fixture
async def chat(shop: Shop) -> Chat:
    return await Chat.open(shop, "100")


async def test_start_menu_and_deep_link(chat: Chat) -> None:
    screen = await chat.send("/start")
    assert "Hello, Alice!" in screen.text.plain
    assert screen.labels() == ["🛍 Catalog", "🔎 Search", "🛒 Cart", "📦 My orders",
                               "💬 Support", "🌐 Language"]
    card = await chat.send("/start p_classic-tee")
    assert card.text.plain.startswith("Classic Organic Cotton Tee")
    assert card.photo == "demo:classic-tee.png"
    missing = await chat.send("/start p_no-such-thing")
    assert "no longer available" in missing.text.plain


async def test_catalog_pages_and_variant_picker(chat: Chat) -> None:
    await chat.send("/start")
    cats = await chat.press("🛍 Catalog")
    assert "Clothing (10)" in cats.labels()
    clothing = await chat.press("Clothing (10)")
    assert "10 products · page 1 of 2" in clothing.text.plain
    page2 = await chat.press("Next ›")
    assert "page 2 of 2" in page2.text.plain
    shirts = await chat.press("› T-shirts (5)")
    assert "Clothing › T-shirts" in shirts.text.plain
    tee = await chat.press(re.compile("^Classic Organic Cotton Tee"))
    assert "Choose Size:" in tee.text.plain
    await chat.press("M")
    colours = chat.last
    assert "Choose Colour:" in colours.text.plain
    await chat.press("Black")
    assert chat.last.labels()[:3] == ["−", "1 pcs", "+"]
    await chat.press("+")
    added = await chat.press("➕ Add to cart")
    assert added.toast == "Added to cart"
    assert "Added to your cart: 2 × Classic Organic Cotton Tee" in added.text.plain
    cart = await chat.press("🛒 Go to cart")
    assert "Classic Organic Cotton Tee (M / Black) × 2" in cart.text.plain


async def test_sold_out_variant_is_marked_and_not_addable(chat: Chat) -> None:
    await chat.send("/start p_breton-striped-tee")
    # The demo has the red-striped Breton tee in S sold out.
    await chat.press("S")
    sold = chat.button("✗ Red Stripe")
    screen = await chat.press_action(sold.action)
    assert "sold out" in screen.text.plain
    assert "➕ Add to cart" not in screen.labels()


async def test_search_with_typos_filters_and_no_results(chat: Chat) -> None:
    found = await chat.send("hoodei")
    assert "Results for “hoodei”" in found.text.plain
    assert any("Hoodie" in label for label in found.labels())
    assert "Did you mean “hoodie”?" in found.labels()
    filtered = await chat.press("In stock only")
    assert "✓ In stock only" in filtered.labels()
    nothing = await chat.send("qwxzv")
    assert "Nothing found" in nothing.text.plain and "💬 Ask support" in nothing.labels()
    assert "Type a word" in (await chat.send("🙂🙂")).text.plain
    huge = await chat.send("mug " * 3000)
    assert "searched its beginning" in huge.text.plain
    sql = await chat.send("'; DROP TABLE products; --")
    assert "Results for" in sql.text.plain


async def test_cart_plus_minus_promo_and_clear(chat: Chat, shop: Shop) -> None:
    await chat.send("/start p_cafe-creme-mug")
    await chat.press("Sage")
    await chat.press("➕ Add to cart")
    cart = await chat.send("/cart")
    assert "× 1" in cart.text.plain
    await chat.press("+")
    assert "× 2" in chat.last.text.plain
    await chat.press("🏷 Promo code")
    wrong = await chat.send("NOPE")
    assert "does not apply" in wrong.text.plain
    applied = await chat.send("welcome10")
    assert "Promo code WELCOME10 applied." in applied.text.plain
    assert "Promo WELCOME10: −" in applied.text.plain
    await chat.press("−")
    assert "× 1" in chat.last.text.plain
    empty = await chat.press("🗑 Empty cart")
    assert "Your cart is empty." in empty.text.plain


async def test_stale_and_forged_buttons(chat: Chat) -> None:
    for data in ["", "x" * 80, "prod:abc", "nosuch:1", "prod:999999", "cinc:424242",
                 "cat:1:1:1:1:1:1", "add:1:500"]:
        screen = await chat.press_action(decode(data))
        assert screen.text.plain, data
    assert decode("prod:1:2") == Action("prod", (1, 2))
    with pytest.raises(ValueError):
        Action.make("prod", "x" * 70).encode()


async def test_category_page_has_a_photo_and_a_photo_view(chat: Chat) -> None:
    chat.convo.capabilities = Capabilities(edits_in_place=True)  # as Telegram
    await chat.send("/start")
    await chat.press("🛍 Catalog")
    page = await chat.press("Clothing (10)")
    assert page.photo is not None and page.photo.startswith("demo:")
    assert "Pictured: " in page.text.plain
    photos = chat.button("🖼 Photos")
    assert photos.action is not None
    category_id = photos.action.int(0)
    walk = await chat.press("🖼 Photos")
    assert "Clothing · 1/10" in walk.text.plain and walk.photo == page.photo
    assert walk.labels()[0] == "Open" and "›" in walk.labels() and "‹" not in walk.labels()
    seen = {walk.photo}
    for n in range(2, 11):
        walk = await chat.press("›")
        assert f"Clothing · {n}/10" in walk.text.plain
        seen.add(walk.photo)
    assert "›" not in walk.labels() and len(seen) == 10, "each product's own photo"
    assert "page 2 of 2" in (await chat.press("« List")).text.plain
    card = await chat.press_action(Action.make("catg", category_id, 10))
    opened = await chat.press("Open")
    assert opened.photo == card.photo and "🛒 Cart" in opened.labels()
    past_the_end = await chat.press_action(Action.make("catg", category_id, 99))
    assert "Clothing · 10/10" in past_the_end.text.plain  # fewer products now: the last one
    # A channel that sends every page anew gets the list without a photo (no new image per
    # page), and the photo view on request; one that cannot show photos with buttons, neither.
    chat.convo.capabilities = Capabilities()
    await chat.press_action(Action.make("cats"))
    clothing = await chat.press("Clothing (10)")
    assert clothing.photo is None and "Pictured" not in clothing.text.plain
    assert "🖼 Photos" in clothing.labels()
    chat.convo.capabilities = Capabilities(inline_photos=False)
    clothing = await chat.press_action(Action.make("cat", category_id, 1))
    assert clothing.photo is None and "🖼 Photos" not in clothing.labels()
