"""End to end in WhatsApp with the real pywa_async client, our HTTP server and the fake Graph
API (and fake Stripe): the purchase with a payment link, paging, a return, support, typed
numbers, catalog orders, and the journey in French and Polish."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from bot.i18n import format_money
from shop.messaging.models import WhatsAppContact
from shop.money import Money
from shop.orders.states import OrderStatus
from tests.conftest import Database
from tests.fakes.whatsapp_server import FakeWhatsApp
from tests.fakes.whatsapp_users import WhatsAppCustomer
from tests.support.catalog import ProductSpec, VariantSpec, add_products
from tests.support.shop import MANAGER, SUPPORT, Clock
from tests.support.whatsapp import (
    browse_to_cart,
    buy_with_test_provider,
    choose_address,
    customer_of,
    pay_on_test_page,
    running_whatsapp,
)

ALICE = "US.13491208655302741918"
PHONE = "16505551234"


async def shown(fake: FakeWhatsApp, customer: WhatsAppCustomer, *words: str) -> str:
    """Wait for a message to the customer holding every word; return its body."""
    def find() -> str | None:
        return next((m.body for m in reversed(customer.messages())
                     if all(w in m.body for w in words)), None)
    found = await fake.wait_for(find, what=f"a message with {words}")
    assert found is not None
    return found


async def checkout(customer: WhatsAppCustomer) -> None:
    """From the product page: cart → checkout → address step by step → courier → pay."""
    await customer.press(re.compile("Go to cart|Voir le panier|Zobacz koszyk"))
    await customer.press(re.compile("^✅|✅"))
    await choose_address(customer)
    await customer.press(re.compile("Courier|Kurier|Coursier"))


async def test_buy_with_a_stripe_link_and_get_the_receipt(database: Database) -> None:
    async with running_whatsapp(database, stripe=True) as world:
        fake, shop, stripe = world.fake, world.shop, world.stripe
        assert stripe is not None
        alice = fake.customer(ALICE, "Alice Smith", wa_id=PHONE)
        welcome = await alice.send("Hi")
        assert "Hello, Alice!" in welcome.text
        assert welcome.latest is not None and welcome.latest.kind == "list"
        assert welcome.choices == ["1. 🛍 Catalog", "2. 🔎 Search", "3. 🛒 Cart",
                                   "4. 📦 My orders", "5. 💬 Support", "6. 🌐 Language"]

        found = await alice.send("clasic tee")
        assert "Results for *“clasic tee”*" in found.text  # WhatsApp's own bold
        rows = {title: description for m in found.messages for _, title, description in m.rows}
        assert any(d and d.startswith("Classic Organic Cotton Tee · €24.90")
                   for d in rows.values())
        card = await alice.press(re.compile("Classic Organic Cotton Tee"))
        assert card.messages[0].has_image and "Classic Organic Cotton Tee" in card.text
        assert fake.media, "the packaged photo was uploaded once"
        sizes = card.messages[-1]
        assert sizes.kind == "list" and sizes.choices[:4] == ["1. S", "2. M", "3. L", "4. XL"]
        await alice.press("2. M")
        added = await alice.press(re.compile(r"^\d+\. Black$"))
        assert "Colour: Black" in added.text or "Black" in added.text
        await alice.press(re.compile("Add to cart"))
        await alice.press(re.compile("Go to cart"))
        asking = await alice.press(re.compile("Checkout"))
        assert "New address · step 1 of 5" in asking.text
        hint = await alice.send_location(48.8686, 2.3314, name="Opéra")
        assert "we cannot read an address from it" in hint.text  # a bare pin: typed
        await choose_address(alice)
        shipping = alice.latest()
        assert shipping is not None and "Choose a shipping method:" in shipping.body
        summary = await alice.press(re.compile("Courier"))
        assert "Total: €30.90" in summary.text
        placed = await alice.press(re.compile("Pay €30.90"), expect=2)
        link, after = placed.messages
        assert link.kind == "cta_url" and "Order #1001 is placed." in link.body
        assert after.choices == ["📦 Order status", "✕ Cancel order", "« Menu"]
        url = alice.url(re.compile("Pay €30.90"))
        session_id = url.rsplit("/", 1)[1]
        assert stripe.sessions[session_id]["amount_total"] == 3090

        async with httpx.AsyncClient() as http:
            page = await http.get(stripe.sessions[session_id]["success_url"])
        assert page.status_code == 200 and "Thank you!" in page.text

        await stripe.complete_session(session_id)
        receipt = await shown(fake, alice, "Order #1001 is paid.")
        assert "Total paid: €30.90" in receipt and "Ada Lovelace" in receipt
        (order,) = await shop.orders.orders(await customer_of(shop, ALICE))
        assert order.status == OrderStatus.PAID

        # Keyed by the BSUID, the phone kept, every reply addressed to the BSUID.
        customer = await shop.customers.get_or_create("whatsapp", ALICE)
        assert customer.external_id == ALICE and customer.name == "Alice Smith"
        async with shop.sessions() as session:
            contact = (await session.execute(select(WhatsAppContact))).scalar_one()
        assert (contact.bsuid, contact.wa_id) == (ALICE, PHONE)
        assert {m.by for m in fake.messages(ALICE)} == {"recipient"}


async def test_a_category_of_25_products_pages_through_every_product(
        database: Database) -> None:
    async with running_whatsapp(database) as world:
        await add_products(world.shop.sessions, *(
            ProductSpec(f"trowel-{i:02d}", f"Garden Trowel Model {i:02d}", "Garden",
                        variants=[VariantSpec(f"TRW-{i:02d}", 1000 + i)]) for i in range(25)))
        bob = world.fake.customer("GB.1000000000000007", "Bob")
        await bob.send("menu")
        await bob.press("1. 🛍 Catalog")
        garden = await bob.press(re.compile(r"Garden \(25\)"))
        seen: set[str] = set()
        latest = garden.latest
        for _ in range(20):
            # Every list page of this flow page (More ›), then the flow's next page (Next ›).
            assert latest is not None and latest.kind == "list" and len(latest.rows) <= 10
            for _, title, description in latest.rows:
                seen |= set(re.findall(r"Model \d\d", f"{title} {description or ''}"))
            if "More ›" in latest.choices:
                latest = (await bob.press("More ›")).latest
                continue
            flow_page = [m for m in bob.messages() if m.kind == "list"][-2:]
            if not any(t.endswith("Next ›") for m in flow_page for t in m.choices):
                break
            latest = (await bob.press(re.compile(r"Next ›$"))).latest
        assert seen == {f"Model {i:02d}" for i in range(25)}


async def test_numbers_typed_as_text_work_like_taps(database: Database) -> None:
    async with running_whatsapp(database) as world:
        carol = world.fake.customer("DE.1000000000000008", "Carol")
        await carol.send("hello")
        catalog = await carol.send("1")  # 1. 🛍 Catalog
        assert "Choose a category:" in catalog.text
        none = await carol.send("42")
        assert "There is no button 42." in none.text
        sticker = await carol.send_sticker()
        assert "I can read text, button presses and photos." in sticker.text
        reaction = await carol.react("👍")
        assert reaction.messages == []  # an emoji on our message needs no answer
        search = await carol.send("/start")
        assert "What would you like to do?" in search.text


async def test_a_return_and_a_support_exchange(database: Database) -> None:
    # Whether a return may be asked is decided on the shop's clock: keep it in step.
    async with running_whatsapp(database, Clock(datetime.now(UTC))) as world:
        fake, shop = world.fake, world.shop
        alice = fake.customer(ALICE, "Alice")
        await buy_with_test_provider(alice)
        assert "Order #1001 is paid." in alice.messages()[-1].body
        (order,) = await shop.orders.orders(await customer_of(shop, ALICE))

        await shop.orders.confirm(MANAGER, order.id)
        await shown(fake, alice, "#1001", "confirmed")
        await shop.orders.ship(MANAGER, order.id, carrier="DHL", tracking_number="JD77",
                               tracking_url="https://dhl.example/t/JD77")
        await shown(fake, alice, "Tracking number: JD77")
        assert alice.url(re.compile("Track")) == "https://dhl.example/t/JD77"
        await shop.orders.deliver(MANAGER, order.id)
        await shown(fake, alice, "#1001", "was delivered")

        await alice.send("menu")
        await alice.press(re.compile("My orders"))
        detail = await alice.press(re.compile("#1001"))
        assert "Order #1001" in detail.text
        picking = await alice.press(re.compile("Return items"))
        assert "Return from order #1001" in picking.text
        await alice.press(re.compile(r"^\+ 0/1"))
        await alice.press(re.compile(r"Continue"))
        await alice.press(re.compile("Wrong size"))
        got = await alice.send_image(caption="the label")
        assert "Photos received: 1" in got.text
        done = await alice.press(re.compile("Done — send the request"))
        assert "Return requested for order #1001." in done.text
        (ret,) = await shop.returns.list(SUPPORT)
        assert ret.status == "requested" and ret.reason == "Wrong size"
        assert len(ret.photo_ids) == 1

        await alice.send("menu")
        await alice.press(re.compile("Support"))
        sent = await alice.send("Do you ship to Kraków?")
        assert "Sent" in sent.text
        (thread,) = await shop.support.threads(SUPPORT)
        await shop.support.staff_reply(SUPPORT, thread.id, "Yes, in 3 days.")
        answer = await shown(fake, alice, "Support answered:", "Yes, in 3 days.")
        assert answer.startswith("*Support answered:*")
        assert "💬 Reply" in alice.choices()


async def buy_in_language(world_fake: FakeWhatsApp, customer: WhatsAppCustomer,
                          words: dict[str, str], language: str) -> None:
    price = format_money(Money("EUR", 2490), language)
    start = await customer.send(words["greeting"])
    assert words["hello"] in start.text and words["what"] in start.text
    assert start.latest is not None and start.latest.list_button == words["choose"]
    found = await customer.send("clasic tee")
    assert words["results"] in found.text
    assert any(price in (d or "") for m in found.messages for _, _, d in m.rows)
    await browse_to_cart(customer)
    await checkout(customer)
    placed = await customer.press(re.compile("💳"), expect=2)
    assert placed.messages[0].kind == "cta_url"
    assert words["paid"] in await pay_on_test_page(customer)


async def test_the_journey_in_french_and_polish(database: Database) -> None:
    async with running_whatsapp(database) as world:
        amelie = world.fake.customer("FR.1000000000000001", "Amélie Dupont")
        await buy_in_language(world.fake, amelie, {
            "greeting": "Bonjour", "hello": "Bonjour, Amélie !",
            "what": "Que souhaitez-vous faire ?", "choose": "Choisir",
            "results": "Résultats pour", "paid": "La commande #1001 est payée."}, "fr")
        bartek = world.fake.customer("PL.1000000000000002", "Bartek Nowak")
        await buy_in_language(world.fake, bartek, {
            "greeting": "Cześć", "hello": "Cześć, Bartek!", "what": "Co chcesz zrobić?",
            "choose": "Wybierz", "results": "Wyniki dla",
            "paid": "Zamówienie #1002 jest opłacone."}, "pl")


async def test_catalog_messages_and_an_order_from_the_catalog(database: Database) -> None:
    async with running_whatsapp(database, catalog_id="354160437058781") as world:
        dora = world.fake.customer("ES.1000000000000009", "Dora")
        await dora.send("menu")
        await dora.press("1. 🛍 Catalog")
        clothing = await dora.press(re.compile(r"^\d+\. Clothing"))
        products = [m for m in clothing.messages if m.kind == "product_list"]
        assert products, (clothing.text, world.fake.describe_recent())
        items = [i["product_retailer_id"] for s in products[0].interactive["action"]["sections"]
                 for i in s["product_items"]]
        assert "TEE-CLS-BLK-M" in items and len(items) <= 30

        await add_products(world.shop.sessions, ProductSpec(
            "solo-lamp", "Solo Lamp", "Lighting", variants=[VariantSpec("LAMP-1", 4900)]))
        world.fake.catalogs["354160437058781"].add("LAMP-1")
        await dora.send("menu")
        await dora.press("1. 🛍 Catalog")
        lighting = await dora.press(re.compile(r"Lighting \(1\)"))
        (single,) = [m for m in lighting.messages if m.kind == "product"]
        assert single.interactive["action"]["product_retailer_id"] == "LAMP-1"

        cart = await dora.send_order("354160437058781", [
            ("TEE-CLS-BLK-M", 2, 24.9, "EUR"), ("NOPE-404", 1, 9.0, "EUR"),
            ("TEE-BRT-RED-S", 1, 34.9, "EUR")])
        assert "From your order, added to the cart: 2 × TEE-CLS-BLK-M." in cart.text
        assert "Not sold here (any more): NOPE-404." in cart.text
        assert "Sold out or not enough in stock: TEE-BRT-RED-S × 1." in cart.text
        assert "Classic Organic Cotton Tee (M / Black) × 2" in cart.text
