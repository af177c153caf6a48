"""Webhook mode of the fake Telegram server: queued updates are POSTed to the bot's webhook
one at a time, in order, with ``X-Telegram-Bot-Api-Secret-Token``; a failed delivery is retried;
a method returned in the webhook response body (JSON or multipart, as aiogram's
``SimpleRequestHandler(handle_in_background=False)`` sends) is executed like a normal call.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import aiohttp

from tests.fakes.telegram_model import BotAccount
from tests.fakes.telegram_params import Upload, decode_value

if TYPE_CHECKING:
    from tests.fakes.telegram_server import FakeTelegram


class WebhookDelivery:
    def __init__(self, server: FakeTelegram) -> None:
        self.server = server
        self._http: aiohttp.ClientSession | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def wake(self, bot: BotAccount) -> None:
        """Start delivering the bot's queued updates unless a delivery task already runs."""
        task = self._tasks.get(bot.token)
        if task is None or task.done():
            self._tasks[bot.token] = asyncio.create_task(self._push_updates(bot))

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None:
            await self._http.close()

    async def _push_updates(self, bot: BotAccount) -> None:
        """POST queued updates one by one to the webhook, retrying failures, and run a method
        the bot returns in the webhook response (as Telegram does)."""
        if self._http is None:
            self._http = aiohttp.ClientSession()
        while bot.webhook and bot.updates and not self.server.closing:
            update = bot.updates[0]
            headers = {}
            if bot.webhook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = bot.webhook["secret_token"]
            try:
                async with self._http.post(bot.webhook["url"], json=update,
                                           headers=headers) as resp:
                    delivered = resp.status < 300
                    if delivered:
                        await self._run_webhook_reply(bot, resp)
            except aiohttp.ClientError:
                delivered = False
            if delivered:
                bot.delivered.add(update["update_id"])
                bot.confirmed_below = update["update_id"] + 1
                bot.updates = [u for u in bot.updates if u is not update]
                self.server.bump()
            else:
                await self.server.wait_until(lambda: self.server.closing or not bot.webhook, 0.2)

    async def _run_webhook_reply(self, bot: BotAccount, resp: aiohttp.ClientResponse) -> None:
        reply = await read_webhook_reply(resp)
        if reply is not None and self.server.knows(reply[0]):
            await self.server.call(bot, reply[0], reply[1], webhook_reply=True)


async def read_webhook_reply(resp: aiohttp.ClientResponse) -> tuple[str, dict[str, Any]] | None:
    """The method a webhook's response asks Telegram to run, with its decoded parameters
    (None for an empty or unreadable answer)."""
    values: Any = {}
    if resp.content_type == "application/json":
        with contextlib.suppress(ValueError):
            values = await resp.json()
    elif resp.content_type.startswith("multipart/"):
        reader = aiohttp.MultipartReader.from_response(resp)
        while (part := await reader.next()) is not None:
            if isinstance(part, aiohttp.BodyPartReader) and part.name:
                data = await part.read()
                values[part.name] = (Upload(part.filename, data, "application/octet-stream")
                                     if part.filename else data.decode())
    else:
        await resp.read()
    method = values.pop("method", None) if isinstance(values, dict) else None
    if not isinstance(method, str):
        return None
    return method, {k: decode_value(k, v) for k, v in values.items()}
