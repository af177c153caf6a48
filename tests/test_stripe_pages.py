"""The pages customers land on from a Stripe payment link, served over real HTTP: in the
language the link carries, else the browser's, else the shop's default; from the chats'
translation catalogs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.channels.stripe_pages import stripe_pages
from shop.cli.run import serve
from shop.payments.stripe_checkout import CANCEL_PATH, SUCCESS_PATH
from tests.conftest import Database
from tests.support.postgres import free_port
from tests.support.shop import Clock, make_shop
from tests.support.waiting import eventually


@pytest.fixture
async def base() -> AsyncIterator[str]:
    app = web.Application()
    stripe_pages("Café Chatshop", "en")(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


async def page(url: str, **headers: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, await response.text()


async def test_the_success_page_speaks_the_language_the_link_carries(base: str) -> None:
    status, text = await page(f"{base}{SUCCESS_PATH}?lang=fr")
    assert status == 200
    assert '<body lang="fr">' in text and "<title>Café Chatshop</title>" in text
    assert "<h1>Merci !</h1>" in text and "Le reçu arrive dans la conversation" in text

    _, text = await page(f"{base}{SUCCESS_PATH}?session=cs_1&lang=pl")
    assert "<h1>Dziękujemy!</h1>" in text and "Płatność jest potwierdzana" in text


async def test_the_cancel_page_in_each_language(base: str) -> None:
    expected = {"en": "Payment cancelled", "fr": "Paiement annulé", "pl": "Płatność anulowana"}
    for language, title in expected.items():
        status, text = await page(f"{base}{CANCEL_PATH}?lang={language}")
        assert status == 200 and f"<h1>{title}</h1>" in text
    _, text = await page(f"{base}{CANCEL_PATH}?lang=fr")
    assert "Rien n&#x27;a été débité" in text or "Rien n'a été débité" in text


async def test_without_a_known_language_the_browsers_then_the_shops(base: str) -> None:
    _, text = await page(f"{base}{SUCCESS_PATH}", **{"Accept-Language": "pl-PL,pl;q=0.9"})
    assert '<body lang="pl">' in text
    _, text = await page(f"{base}{SUCCESS_PATH}?lang=de", **{"Accept-Language": "de-DE"})
    assert '<body lang="en">' in text and "<h1>Thank you!</h1>" in text
    _, text = await page(f"{base}{SUCCESS_PATH}?lang=%3Cscript%3E")
    assert '<body lang="en">' in text and "<script>" not in text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_run_serves_the_pages_when_stripe_is_configured(database: Database) -> None:
    port = free_port()
    shop = make_shop(database, Clock(), stripe_api_key="sk_test_pages",
                     stripe_api_base="http://127.0.0.1:9", http_host="127.0.0.1",
                     http_port=port, shop_name="Atelier", default_language="fr")
    stop = asyncio.Event()
    task = asyncio.create_task(serve(shop, stop))
    try:
        async def listening() -> bool:
            try:
                await page(f"http://127.0.0.1:{port}/healthz")
            except aiohttp.ClientConnectionError:
                return False
            return True

        await eventually(listening)
        status, text = await page(f"http://127.0.0.1:{port}{SUCCESS_PATH}")
        assert status == 200 and "<title>Atelier</title>" in text and "<h1>Merci !</h1>" in text
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
