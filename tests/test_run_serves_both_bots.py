"""`chatshop run`'s serve(): both bots in one process sharing one event relay."""

from __future__ import annotations

import asyncio

from shop.cli.run import serve
from shop.demo.loader import load_demo
from tests.conftest import Database
from tests.fakes.telegram_server import FakeTelegram
from tests.support.admin import ADMIN_TOKEN, MANAGER_ID, STAFF_IDS, paid_order
from tests.support.shop import Clock, make_shop
from tests.support.telegram import CUSTOMER_TOKEN
from tests.test_admin_alerts import count


async def test_serve_runs_the_customer_and_staff_bots(database: Database) -> None:
    async with FakeTelegram() as server:
        server.add_bot(CUSTOMER_TOKEN, "chatshop_test_bot")
        server.add_bot(ADMIN_TOKEN, "chatshop_staff_bot")
        shop = make_shop(database, Clock(), bot_token=CUSTOMER_TOKEN,
                         admin_bot_token=ADMIN_TOKEN, telegram_api_base=server.base_url,
                         staff_ids=STAFF_IDS)
        await load_demo(shop)
        await shop.catalog.load_index()
        manager = server.user(MANAGER_ID, "Maria", bot=ADMIN_TOKEN)
        alice = server.user(3301, "Alice", bot=CUSTOMER_TOKEN)
        stop = asyncio.Event()
        task = asyncio.create_task(serve(shop, stop))
        try:
            await server.wait_for(lambda: server.calls("getUpdates", bot=CUSTOMER_TOKEN)
                                  and server.calls("getUpdates", bot=ADMIN_TOKEN))
            await alice.send("/start")
            order = await paid_order(shop, "3301", {"TEE-MTN-GRY-S": 1})
            await server.wait_for(lambda: count(manager, f"New paid order #{order.number}"))
            await manager.press("✅ Confirm")
            await server.wait_for(lambda: count(alice, f"#{order.number}", "confirmed"))
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)
        # One alert, which the Confirm press then turned into the order's card in place.
        assert len(server.calls("sendMessage", bot=ADMIN_TOKEN, chat_id=MANAGER_ID)) == 1
        assert count(manager, f"Order #{order.number} confirmed.") == 1
