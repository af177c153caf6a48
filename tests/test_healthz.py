"""`/healthz` over real HTTP: the database and, when REDIS_URL is set, Redis; 503 naming what
failed without URLs or passwords."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from shop.bootstrap import build_shop
from shop.db.engine import create_engine
from shop.settings import load_settings
from shop.web.app import build_app
from tests.conftest import Database
from tests.support.monitoring import scrape, serving, value
from tests.support.postgres import free_port
from tests.support.redis import RedisServer
from tests.support.shop import Clock, make_shop
from tests.support.waiting import eventually


async def health(base_url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{base_url}/healthz") as response:
        return response.status, await response.json()


async def test_healthy_without_redis(database: Database) -> None:
    async with serving(build_app(make_shop(database, Clock()))) as base:
        assert await health(base) == (200, {"ok": True, "database": "ok", "redis": "off"})


async def test_redis_going_away_and_coming_back(database: Database, redis_url: str,
                                                redis_server: RedisServer) -> None:
    shop = make_shop(database, Clock(), redis_url=redis_url)
    async with serving(build_app(shop)) as base:
        assert await health(base) == (200, {"ok": True, "database": "ok", "redis": "ok"})
        await asyncio.to_thread(redis_server.kill)
        try:
            status, body = await health(base)
            assert status == 503
            assert body["ok"] is False
            assert body["database"] == "ok"
            assert body["redis"].startswith("failed: ")
            assert "redis://" not in body["redis"]
        finally:
            await asyncio.to_thread(redis_server.restart)

        async def healthy() -> bool:
            return (await health(base))[0] == 200

        await eventually(healthy, within=10)
        assert (await health(base))[1] == {"ok": True, "database": "ok", "redis": "ok"}
    await shop.relay.close()


async def test_an_unreachable_database_is_named_without_its_password() -> None:
    url = f"postgresql+asyncpg://shop:hunter2-secret@127.0.0.1:{free_port()}/shop"
    engine = create_engine(url)
    shop = build_shop(load_settings(database_url=url), engine)
    try:
        async with serving(build_app(shop)) as base:
            status, body = await health(base)
            page = await scrape(base)
    finally:
        await engine.dispose()
    assert status == 503
    assert body["ok"] is False and body["redis"] == "off"
    assert body["database"].startswith("failed: ")
    assert "hunter2" not in str(body) and "postgresql" not in str(body)
    # /metrics still answers, saying the database did not.
    assert value(page, "chatshop_database_up") == 0
    assert value(page, "chatshop_orders_total", status="paid") is None
