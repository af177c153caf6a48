"""Webhook mode in tests: `chatshop run`'s serve() with WEBHOOK_BASE_URL on a loopback port,
and updates POSTed the way Telegram does (each on a connection of its own when asked)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.handlers.webhook import SECRET_HEADER, bot_secret
from shop.bootstrap import Shop
from shop.cli.run import DRAIN_TIMEOUT_S, serve
from shop.demo.loader import load_demo
from tests.conftest import Database
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.telegram_users import TelegramUser
from tests.support.admin import ADMIN_TOKEN, STAFF_IDS
from tests.support.postgres import free_port
from tests.support.shop import Clock, make_shop
from tests.support.telegram import CUSTOMER_TOKEN

WEBHOOK_SECRET = "w3bhook-Master_secret-for-tests-0123456789"


def webhook_settings(server: FakeTelegram, port: int, **extra: Any) -> dict[str, Any]:
    return {"bot_token": CUSTOMER_TOKEN, "admin_bot_token": ADMIN_TOKEN,
            "telegram_api_base": server.base_url, "staff_ids": STAFF_IDS,
            "webhook_base_url": f"http://127.0.0.1:{port}", "webhook_secret": WEBHOOK_SECRET,
            "http_host": "127.0.0.1", "http_port": port, **extra}


def start_update(server: FakeTelegram, user_id: int, update_id: int, text: str = "/start"
                 ) -> dict[str, Any]:
    """A private message from a user of the fake server, as Telegram would POST it."""
    user = server.users[user_id]
    message: dict[str, Any] = {"message_id": update_id, "from": user.as_user(),
                               "chat": user.as_chat(), "date": int(time.time()), "text": text}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0,
                                "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


def press_update(user: TelegramUser, update_id: int, message_id: int, data: str
                 ) -> dict[str, Any]:
    """A press on a button of a message the bot sent the user, as Telegram would POST it."""
    return {"update_id": update_id,
            "callback_query": user.callback_query(data, message_id).payload}


async def post(url: str, body: bytes | dict[str, Any], secret: str | None = None, *,
               fresh_connection: bool = True) -> int:
    """POST a body to a webhook; the HTTP status. A fresh connection each time, as a kernel
    spreading connections among workers needs to see."""
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    connector = aiohttp.TCPConnector(force_close=fresh_connection)
    async with aiohttp.ClientSession(connector=connector) as http:
        if isinstance(body, bytes):
            response = await http.post(url, data=body, headers={
                **headers, "Content-Type": "application/json"})
        else:
            response = await http.post(url, json=body, headers=headers)
        async with response:
            return response.status


@dataclass
class Served:
    server: FakeTelegram
    shop: Shop
    stop: asyncio.Event
    task: asyncio.Task[None]
    base_url: str

    def url(self, name: str) -> str:
        return f"{self.base_url}/telegram/{name}"

    @staticmethod
    def secret(name: str) -> str:
        return bot_secret(WEBHOOK_SECRET, name)

    async def shut_down(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


@asynccontextmanager
async def serving_webhooks(database: Database, *, server: FakeTelegram | None = None,
                           drain_timeout: float = DRAIN_TIMEOUT_S,
                           **settings: Any) -> AsyncIterator[Served]:
    """The demo shop served by serve() in webhook mode, both bots' webhooks set; on a fake
    Bot API server of its own, or on `server` (a second worker of the same bots)."""
    async with AsyncExitStack() as stack:
        if server is None:
            server = await stack.enter_async_context(FakeTelegram(allow_http_webhooks=True))
            server.add_bot(CUSTOMER_TOKEN, "chatshop_test_bot")
            server.add_bot(ADMIN_TOKEN, "chatshop_staff_bot")
        port = free_port()
        shop = make_shop(database, Clock(), **webhook_settings(server, port, **settings))
        await load_demo(shop)
        await shop.catalog.load_index()
        stop = asyncio.Event()
        task = asyncio.create_task(serve(shop, stop, drain_timeout=drain_timeout))
        served = Served(server, shop, stop, task, f"http://127.0.0.1:{port}")
        url = f"{served.base_url}/telegram/"
        try:
            await server.wait_for(lambda: task.done() or (
                server.bot(CUSTOMER_TOKEN).webhook.get("url", "").startswith(url)
                and server.bot(ADMIN_TOKEN).webhook.get("url", "").startswith(url)),
                10, what="both webhooks set")
            if task.done():
                task.result()  # raise what made it fail
            yield served
        finally:
            await served.shut_down()
