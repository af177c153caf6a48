"""`chatshop run` with WhatsApp configured: the webhook on the HTTP server, the channel and the
relay running, and a WhatsApp customer served; a half-configured channel refuses to start."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.channels.whatsapp import whatsapp_channel
from bot.channels.whatsapp.client import NotConfigured
from bot.channels.whatsapp.notify import TemplateConfig
from shop.cli.run import serve
from shop.demo.loader import load_demo
from shop.settings import SettingsError, load_settings
from tests.conftest import Database
from tests.fakes.whatsapp_server import FakeWhatsApp
from tests.support.postgres import free_port
from tests.support.shop import Clock, make_shop
from tests.support.waiting import eventually
from tests.support.whatsapp import VERIFY_TOKEN


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_run_serves_whatsapp(database: Database) -> None:
    clock = Clock()
    async with FakeWhatsApp(clock=clock) as fake:
        port = free_port()
        shop = make_shop(database, clock, whatsapp_phone_id=fake.phone_id,
                         whatsapp_token=fake.token, whatsapp_app_secret=fake.app_secret,
                         whatsapp_verify_token=VERIFY_TOKEN, whatsapp_api_base=fake.base_url,
                         http_host="127.0.0.1", http_port=port)
        await load_demo(shop)
        await shop.catalog.load_index()
        stop = asyncio.Event()
        task = asyncio.create_task(serve(shop, stop))
        try:
            url = f"http://127.0.0.1:{port}/webhooks/whatsapp"

            async def listening() -> bool:
                try:
                    async with httpx.AsyncClient() as http:
                        return (await http.get(f"http://127.0.0.1:{port}/healthz")).is_success
                except httpx.TransportError:
                    return False

            await eventually(listening)
            status, _, _ = await fake.subscribe(url, VERIFY_TOKEN)
            assert status == 200
            alice = fake.customer("US.13491208655302741918", "Alice")
            hello = await alice.send("Hi")
            assert "Hello, Alice!" in hello.text
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_whatsapp_is_off_without_settings_and_refuses_half_a_configuration(
        database: Database) -> None:
    assert whatsapp_channel(make_shop(database, Clock())) is None
    half = make_shop(database, Clock(), whatsapp_phone_id="1065", whatsapp_token="EAAx")
    with pytest.raises(NotConfigured, match="WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN"):
        whatsapp_channel(half)


def test_template_languages_are_checked_at_start_up() -> None:
    with pytest.raises(SettingsError, match="WHATSAPP_TEMPLATE_LANGUAGES"):
        load_settings(whatsapp_template_languages="en=en_US")
    settings = load_settings(whatsapp_template_languages="en:en_GB, pl:pl")
    templates = TemplateConfig.from_settings(settings)
    assert (templates.name, templates.language_for("pl"), templates.language_for("fr")) == (
        "order_update", "pl", "en_GB")
