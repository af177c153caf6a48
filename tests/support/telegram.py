"""The real customer bot (aiogram dispatcher, real HTTP) against the fake Bot API server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.telegram_app import CustomerBot, make_bot
from shop.bootstrap import Shop
from shop.demo.loader import load_demo
from tests.conftest import Database
from tests.fakes.telegram_server import FakeTelegram
from tests.support.shop import Clock, make_shop

CUSTOMER_TOKEN = "123456:AAE-fake-customer-token"


@asynccontextmanager
async def running_customer_bot(database: Database, clock: Clock | None = None,
                               **settings: Any) -> AsyncIterator[tuple[FakeTelegram, Shop]]:
    """A demo shop and its customer bot polling the fake server, stopped afterwards."""
    async with FakeTelegram() as server:
        server.add_bot(CUSTOMER_TOKEN, "chatshop_test_bot")
        shop = make_shop(database, clock or Clock(), bot_token=CUSTOMER_TOKEN,
                         telegram_api_base=server.base_url, **settings)
        await load_demo(shop)
        await shop.catalog.load_index()
        customer_bot = CustomerBot(shop, make_bot(CUSTOMER_TOKEN, server.base_url))
        stop = asyncio.Event()
        task = asyncio.create_task(customer_bot.run_polling(stop))
        try:
            await server.wait_for(lambda: server.calls("getUpdates"), what="polling starts")
            yield server, shop
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)
