"""Both bots (customer and staff) polling one fake Bot API server, on one test database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from admin_bot.app import AdminBot
from bot.telegram_app import CustomerBot, make_bot
from shop.bootstrap import Shop
from shop.demo.loader import load_demo
from shop.money import Money
from shop.orders.types import OrderView
from tests.conftest import Database
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.telegram_users import TelegramUser
from tests.support.shop import Clock, buy, customer, make_shop, pay
from tests.support.telegram import CUSTOMER_TOKEN

ADMIN_TOKEN = "654321:AAE-fake-staff-token"
OWNER_ID, MANAGER_ID, SUPPORT_ID = 7001, 7002, 7003
STAFF_IDS = f"{OWNER_ID}:owner,{MANAGER_ID}:manager,{SUPPORT_ID}:support"


@dataclass
class Bots:
    server: FakeTelegram
    shop: Shop
    clock: Clock

    def staff(self, user_id: int, name: str = "Sam", language_code: str = "en"
              ) -> TelegramUser:
        return self.server.user(user_id, name, language_code, bot=ADMIN_TOKEN)

    def customer(self, user_id: int, name: str = "Alice", language_code: str = "en"
                 ) -> TelegramUser:
        return self.server.user(user_id, name, language_code, bot=CUSTOMER_TOKEN)


@asynccontextmanager
async def staff_bot(server: FakeTelegram, database: Database, clock: Clock, *,
                    background: bool = True, **settings: Any) -> AsyncIterator[AdminBot]:
    """The staff bot as its own process would run it: its own services and event relay on
    the shared database."""
    shop = make_shop(database, clock, **_settings(server, settings))
    await shop.catalog.load_index()
    admin = AdminBot(shop, make_bot(ADMIN_TOKEN, server.base_url),
                     customer_bot=make_bot(CUSTOMER_TOKEN, server.base_url), clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(admin.run_polling(stop, background=background))
    before = len(server.calls("getUpdates", bot=ADMIN_TOKEN))
    try:
        await server.wait_for(lambda: len(server.calls("getUpdates", bot=ADMIN_TOKEN)) > before,
                              what="the staff bot polls")
        yield admin
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        if admin.deps.customer_bot is not None:
            await admin.deps.customer_bot.session.close()


def _settings(server: FakeTelegram, extra: dict[str, Any]) -> dict[str, Any]:
    return {"bot_token": CUSTOMER_TOKEN, "admin_bot_token": ADMIN_TOKEN,
            "telegram_api_base": server.base_url, "staff_ids": STAFF_IDS, **extra}


@asynccontextmanager
async def customer_bot_only(database: Database, clock: Clock | None = None, **settings: Any
                            ) -> AsyncIterator[Bots]:
    """The demo shop with its customer bot running and the staff bot not (yet) running."""
    clock = clock or Clock()
    async with FakeTelegram() as server:
        server.add_bot(CUSTOMER_TOKEN, "chatshop_test_bot")
        server.add_bot(ADMIN_TOKEN, "chatshop_staff_bot")
        shop = make_shop(database, clock, **_settings(server, settings))
        await load_demo(shop)
        await shop.catalog.load_index()
        customer = CustomerBot(shop, make_bot(CUSTOMER_TOKEN, server.base_url))
        stop = asyncio.Event()
        task = asyncio.create_task(customer.run_polling(stop))
        try:
            await server.wait_for(lambda: server.calls("getUpdates", bot=CUSTOMER_TOKEN),
                                  what="the customer bot polls")
            yield Bots(server, shop, clock)
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)


@asynccontextmanager
async def both_bots(database: Database, clock: Clock | None = None, **settings: Any
                    ) -> AsyncIterator[Bots]:
    """The demo shop with the customer bot and the staff bot running."""
    async with customer_bot_only(database, clock, **settings) as bots, staff_bot(
            bots.server, database, bots.clock, **settings):
        yield bots


async def paid_order(shop: Shop, external_id: str, items: dict[str, int]) -> OrderView:
    """A Telegram customer (`external_id`) buys `items` (SKU → units) by courier to France
    and pays with the test provider; the paid order."""
    actor, address_id = await customer(shop, external_id)
    variants = {sku: (await shop.catalog.variant(sku=sku)) for sku in items}
    goods = sum(v.price.minor * items[sku] for sku, v in variants.items())
    quotes = await shop.shipping.quotes(country="FR", weight_grams=1000,
                                        goods_total=Money(shop.settings.shop_currency, goods))
    method = next(q for q in quotes if q.needs_address)
    order = await buy(shop, actor, address_id, method.method_id,
                      {v.id: items[sku] for sku, v in variants.items()})
    await pay(shop, actor, order.id)
    return await shop.orders.order(actor, order.id)
