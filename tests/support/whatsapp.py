"""The real WhatsApp channel (pywa_async client, our aiohttp server with the webhook route,
the event relay) against the fake Graph API, and optionally the fake Stripe API."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from bot.channels.stripe_pages import stripe_pages
from bot.channels.whatsapp.channel import WhatsAppChannel
from bot.channels.whatsapp.client import make_client
from bot.channels.whatsapp.webhook import PATH
from shop.auth import CustomerActor
from shop.bootstrap import Shop
from shop.catalog.models import Variant
from shop.demo.loader import load_demo
from shop.web.app import start_http
from tests.conftest import Database
from tests.fakes.stripe_server import FakeStripe
from tests.fakes.whatsapp_server import FakeWhatsApp
from tests.fakes.whatsapp_users import WhatsAppCustomer
from tests.support.postgres import free_port
from tests.support.shop import Clock, make_shop

VERIFY_TOKEN = "verify-me-0123456789"
TEMPLATES = {
    "en_US": "Update on your order {{1}}: {{2}}",
    "fr": "Votre commande {{1}} : {{2}}",
    "pl": "Twoje zamówienie {{1}}: {{2}}",
}


@dataclass
class WhatsAppWorld:
    fake: FakeWhatsApp
    shop: Shop
    channel: WhatsAppChannel
    webhook_url: str
    stripe: FakeStripe | None = None


@asynccontextmanager
async def running_whatsapp(database: Database, clock: Clock | None = None, *,
                           stripe: bool = False, catalog_id: str | None = None,
                           **settings: Any) -> AsyncIterator[WhatsAppWorld]:
    """A demo shop with the WhatsApp channel serving the fake's webhook, stopped afterwards."""
    clock = clock or Clock()
    async with AsyncExitStack() as stack:
        fake = await stack.enter_async_context(FakeWhatsApp(clock=clock))
        for language, text in TEMPLATES.items():
            fake.add_template("order_update", language, 2, text)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        options: dict[str, Any] = {
            "whatsapp_phone_id": fake.phone_id, "whatsapp_token": fake.token,
            "whatsapp_app_secret": fake.app_secret, "whatsapp_verify_token": VERIFY_TOKEN,
            "whatsapp_api_base": fake.base_url, "whatsapp_catalog_id": catalog_id,
            "http_host": "127.0.0.1", "http_port": port, **settings}
        stripe_fake = None
        if stripe:
            stripe_fake = await stack.enter_async_context(
                FakeStripe(webhook_url=f"{base}/webhooks/stripe"))
            options.update(stripe_api_key=stripe_fake.api_key,
                           stripe_webhook_secret=stripe_fake.webhook_secret,
                           stripe_api_base=stripe_fake.base_url)
        shop = make_shop(database, clock, **options)
        if shop.stripe is not None:
            stack.push_async_callback(shop.stripe.aclose)
        await load_demo(shop)
        if catalog_id:  # the business catalog in Commerce Manager mirrors our SKUs
            async with shop.sessions() as session:
                skus = set((await session.execute(select(Variant.sku))).scalars())
            fake.add_catalog(catalog_id, skus)
        await shop.catalog.load_index()
        # Throughput limits are waited out for milliseconds, not seconds, in tests.
        channel = WhatsAppChannel(shop, make_client(shop.settings),
                                  send_backoff=(0.01, 0.02, 0.04))
        stop = asyncio.Event()
        tasks = [asyncio.create_task(shop.run_background(stop)),
                 asyncio.create_task(channel.run(stop))]

        async def halt() -> None:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 15)

        stack.push_async_callback(halt)
        fake.app_busy = lambda: channel.busy
        mounts = [channel.mount]
        if shop.stripe is not None:
            mounts.append(stripe_pages(shop.settings.shop_name, shop.settings.default_language))
        runner = await start_http(shop, mounts)
        stack.push_async_callback(runner.cleanup)  # the server stops first, then the channel
        url = f"{base}{PATH}"
        status, _, _ = await fake.subscribe(url, VERIFY_TOKEN)
        assert status == 200, f"webhook verification failed: {status}"
        yield WhatsAppWorld(fake, shop, channel, url, stripe_fake)


async def choose_address(customer: WhatsAppCustomer, name: str = "Ada Lovelace") -> None:
    """Type a French address step by step (the checkout's address questions)."""
    for line in (name, "12 Rue de la Paix", "Paris", "75002", "FR"):
        await customer.send(line)


async def browse_to_cart(customer: WhatsAppCustomer, query: str = "clasic tee") -> None:
    """Typo search → the product → size and colour from lists → add → cart."""
    await customer.send(query)
    await customer.press(re.compile(r"Classic Organic Cotton Tee"))
    await customer.press(re.compile(r"^\d+\. M$"))
    await customer.press(re.compile(r"^\d+\. Black$|^Black$"))
    await customer.press(re.compile(r"Add to cart|Ajouter au panier|Do koszyka"))


async def customer_of(shop: Shop, bsuid: str) -> CustomerActor:
    return CustomerActor((await shop.customers.get_or_create("whatsapp", bsuid)).id)


TEST_PAY = re.compile("^💳")  # "💳 Pay €30.90 (test)", shortened to 20 characters
PAID = re.compile(r"#\d+ (is paid|est payée|jest opłacone)")


async def pay_on_test_page(customer: WhatsAppCustomer) -> str:
    """Open the test provider's link (a call-to-action button), press Pay on the page, and
    wait for the receipt in WhatsApp; returns the receipt's text."""
    url = customer.url(TEST_PAY)
    before = len(customer.messages())
    async with httpx.AsyncClient() as http:
        page = await http.get(url)
        assert page.status_code == 200 and "<form" in page.text, page.text
        paid = await http.post(url)
        assert paid.status_code == 200, paid.text
    fake = customer.server

    def receipt() -> str | None:
        return next((m.body for m in customer.messages()[before:] if PAID.search(m.body)),
                    None)

    found = await fake.wait_for(receipt, what="the receipt in WhatsApp")
    assert found is not None
    await fake.settle()
    return found


async def buy_with_test_provider(customer: WhatsAppCustomer) -> str:
    """Greeting → tee in the cart → checkout → the test provider's signed page (no Stripe) →
    the receipt; returns the receipt's text."""
    await customer.send("Hi")
    await browse_to_cart(customer)
    await customer.press(re.compile("Go to cart|Voir le panier|Zobacz koszyk"))
    await customer.press(re.compile("✅"))
    await choose_address(customer)
    await customer.press(re.compile("Courier|Coursier|Kurier"))
    await customer.press(re.compile("💳"), expect=2)
    return await pay_on_test_page(customer)
