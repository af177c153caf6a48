"""The test provider's signed payment page for WhatsApp customers (no Stripe), and a shared
place pre-filling the address: end to end through the fake Graph API and our HTTP server."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from sqlalchemy import func, select

from bot.channels.pay_page import _Page
from bot.flows.checkout_place import place_fields
from shop.orders.states import OrderStatus
from shop.payments.models import Payment
from tests.conftest import Database
from tests.fakes.whatsapp_users import WhatsAppCustomer
from tests.support.whatsapp import (
    TEST_PAY,
    browse_to_cart,
    choose_address,
    customer_of,
    running_whatsapp,
)

ALICE = "US.13491208655302741918"


async def to_payment(customer: WhatsAppCustomer) -> None:
    await customer.send("Hi")
    await browse_to_cart(customer)
    await customer.press(re.compile("Go to cart"))
    await customer.press(re.compile("✅"))
    await choose_address(customer)
    await customer.press(re.compile("Courier"))
    placed = await customer.press(re.compile("💳"), expect=2)
    link = placed.messages[0]
    assert link.kind == "cta_url" and "This shop uses a test payment" in link.body


def tampered(url: str) -> str:
    return url[:-1] + ("0" if url[-1] != "0" else "1")


async def test_the_signed_page_pays_once_and_the_receipt_arrives_in_whatsapp(
        database: Database) -> None:
    async with running_whatsapp(database) as world:
        fake, shop = world.fake, world.shop
        alice = fake.customer(ALICE, "Alice")
        await to_payment(alice)
        url = alice.url(TEST_PAY)
        assert "/payments/test/" in url and "?sig=" in url
        (order,) = await shop.orders.orders(await customer_of(shop, ALICE))
        async with httpx.AsyncClient() as http:
            for forged in (tampered(url), url.split("?")[0],
                           url.replace(f"/test/{order.id}?", f"/test/{order.id + 1}?")):
                refused = await http.get(forged)
                assert refused.status_code == 403 and "not valid" in refused.text
                assert (await http.post(forged)).status_code == 403
            page = await http.get(url)
            assert page.status_code == 200 and "Total to pay: €30.90" in page.text
            assert '<form method="post"' in page.text
            # Pressing twice (two tabs at once): paid once.
            first, second = await asyncio.gather(http.post(url), http.post(url))
            assert first.status_code == second.status_code == 200
            assert "Order #1001 is paid." in first.text and "Order #1001 is paid." in second.text
            again = await http.get(url)
            assert "Order #1001 is paid." in again.text and "<form" not in again.text

        def receipts() -> int:
            return sum("Order #1001 is paid." in m.body for m in alice.messages())

        await fake.wait_for(lambda: receipts() >= 1, what="the receipt in WhatsApp")
        await fake.settle()
        assert receipts() == 1
        assert "Total paid: €30.90" in alice.messages()[-1].body
        (order,) = await shop.orders.orders(await customer_of(shop, ALICE))
        assert order.status == OrderStatus.PAID
        async with shop.sessions() as session:
            count = await session.scalar(select(func.count()).select_from(Payment).where(
                Payment.order_id == order.id))
        assert count == 1


async def test_a_cancelled_order_shows_a_clear_page(database: Database) -> None:
    async with running_whatsapp(database) as world:
        alice = world.fake.customer(ALICE, "Alice")
        await to_payment(alice)
        url = alice.url(TEST_PAY)
        await alice.press(re.compile("✕"))
        await alice.press("Yes, cancel it")
        async with httpx.AsyncClient() as http:
            page = await http.get(url)
            paid = await http.post(url)
        assert page.status_code == 200 and "was cancelled" in page.text
        assert "<form" not in page.text
        assert "was cancelled" in paid.text
        (order,) = await world.shop.orders.orders(await customer_of(world.shop, ALICE))
        assert order.status == OrderStatus.CANCELLED


async def test_a_shared_place_fills_the_address_and_keeps_its_pin(database: Database) -> None:
    async with running_whatsapp(database) as world:
        shop = world.shop
        alice = world.fake.customer(ALICE, "Alice")
        await alice.send("Hi")
        await browse_to_cart(alice)
        await alice.press(re.compile("Go to cart"))
        asking = await alice.press(re.compile("✅"))
        assert "step 1 of 5" in asking.text
        hint = await alice.send_location(48.8686, 2.3314, name="Opéra",
                                         address="12 Rue de la Paix, 75002 Paris, France")
        assert "From your location: Opéra — 12 Rue de la Paix, 75002 Paris, France" in hint.text
        assert "Who receives the parcel?" in hint.text  # only the name is missing
        shipping = await alice.send("Ada Lovelace")
        assert "Ada Lovelace, 12 Rue de la Paix, 75002 Paris, FR" in shipping.text
        assert "Choose a shipping method:" in shipping.text
        (address,) = await shop.customers.addresses((await customer_of(shop, ALICE)).customer_id)
        assert (address.latitude, address.longitude) == (48.8686, 2.3314)

        # A place with part of an address: what is there is kept, the rest is asked.
        await alice.send("menu")
        await alice.press(re.compile("Cart"))
        await alice.press(re.compile("✅"))
        await alice.press(re.compile("New address"))
        await alice.send("Bob Nowak")
        partial = await alice.send_location(48.857, 2.3, address="5 Rue Cler, 75007 Paris")
        assert "step 5 of 5" in partial.text and "Type the country" in partial.text
        assert "Bob Nowak, 5 Rue Cler, Paris, 75007" in partial.text
        done = await alice.send("France")
        assert "Bob Nowak, 5 Rue Cler, 75007 Paris, FR" in done.text


def test_place_texts_read_as_far_as_they_go() -> None:
    assert place_fields("12 Rue de la Paix, 75002 Paris, France") == {
        "street": "12 Rue de la Paix", "postcode": "75002", "city": "Paris", "country": "FR"}
    assert place_fields("ul. Marszałkowska 1, 00-624 Warszawa, Polska") == {
        "street": "ul. Marszałkowska 1", "postcode": "00-624", "city": "Warszawa",
        "country": "PL"}
    assert place_fields("1600 Amphitheatre Pkwy, Mountain View, CA 94043, USA") == {
        "street": "1600 Amphitheatre Pkwy", "postcode": "94043", "city": "Mountain View",
        "country": "US"}
    assert place_fields("10 Downing St, London SW1A 2AA, UK") == {
        "street": "10 Downing St", "postcode": "SW1A 2AA", "city": "London", "country": "GB"}
    assert place_fields("Marszałkowska 1, Warszawa") == {}
    assert place_fields("") == {}


def _visible(page: str) -> list[str]:
    return re.findall(r"<(?:h1|p|button[^>]*)>([^<]+)<", page)


@pytest.mark.parametrize("language", ["fr", "pl"])
def test_every_page_is_in_the_customer_s_language(language: str) -> None:
    """The page's texts come from the chat's gettext catalogs: none falls back to English."""
    for key in ("pay", "paid", "cancelled", "closed", "forged"):
        english = _visible(_Page(key, "en", 1001, "30,90 €", form=key == "pay")
                           .render("Shop").text)
        page = _Page(key, language, 1001, "30,90 €", form=key == "pay").render("Shop").text
        theirs = _visible(page)
        assert f'lang="{language}"' in page and len(theirs) == len(english) >= 2
        for translated, original in zip(theirs, english, strict=True):
            assert translated != original, (key, translated)
    if language == "fr":
        french = _visible(_Page("pay", "fr", 1001, "30,90 €", form=True).render("Shop").text)
        assert french == ["Commande #1001",
                          "Total à payer : 30,90 €. Cette boutique utilise un paiement de "
                          "test : aucun argent n’est débité.", "Payer 30,90 € (test)"]
