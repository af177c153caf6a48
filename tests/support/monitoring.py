"""Serving the shop's web app on a loopback port, scraping `/metrics`, and running a
dispatcher by long polling against the fake Bot API server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiogram import Bot, Dispatcher
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bot.handlers.polling import poll_until
from bot.telegram_app import make_bot
from tests.fakes.telegram_server import FakeTelegram


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """`app` on a free port of 127.0.0.1; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def scrape(base_url: str) -> str:
    """The `/metrics` page (asserting it is served as Prometheus text)."""
    async with aiohttp.ClientSession() as http, http.get(f"{base_url}/metrics") as response:
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("text/plain")
        return await response.text()


def value(page: str, name: str, **labels: str) -> float | None:
    """The value of the sample `name` with exactly `labels` on a metrics page, or None."""
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


@asynccontextmanager
async def polling(server: FakeTelegram, dispatcher: Dispatcher, token: str,
                  allowed_updates: tuple[str, ...] = ("message", "callback_query"),
                  ) -> AsyncIterator[Bot]:
    """`dispatcher` taking `token`'s updates from the fake server until the block ends."""
    bot = make_bot(token, server.base_url)
    stop = asyncio.Event()
    task = asyncio.create_task(poll_until(stop, dispatcher, bot, allowed_updates))
    try:
        await server.wait_for(lambda: server.calls("getUpdates", bot=token),
                              what="polling starts")
        yield bot
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
