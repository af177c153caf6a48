"""`/metrics`: real updates through real dispatchers, real HTTP scrapes, figures from the
database matching what the shop services did."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Dispatcher, Router
from aiogram.exceptions import TelegramForbiddenError, TelegramServerError
from aiogram.types import Message
from sqlalchemy import func, select

from bot.handlers.instrument import instrument
from bot.telegram_app import CustomerBot, make_bot
from shop.demo.loader import load_demo
from shop.events.delivery import DeliveredEvent
from shop.events.models import OutboxEvent
from shop.messaging.parked import ParkedUpdates
from shop.web.app import build_app
from shop.web.metrics import Metrics
from shop.web.monitoring import METRICS
from tests.conftest import Database
from tests.fakes.telegram_server import FakeTelegram
from tests.support.monitoring import polling, scrape, serving, value
from tests.support.shop import Clock, buy, customer, make_shop, pay, seed_basics
from tests.support.telegram import CUSTOMER_TOKEN
from tests.support.waiting import eventually

TEST_TOKEN = "654321:AAE-fake-instrumented-token"


async def wait_for_value(base_url: str, expected: float, name: str, **labels: str) -> str:
    """Scrape until the sample has the expected value; return that page."""
    page = ""

    async def reached() -> bool:
        nonlocal page
        page = await scrape(base_url)
        return value(page, name, **labels) == expected

    try:
        await eventually(reached, within=10)
    except TimeoutError:
        raise AssertionError(f"{name}{labels} != {expected} in:\n{page}") from None
    return page


async def test_customer_bot_updates_are_counted_and_timed(database: Database) -> None:
    async with FakeTelegram() as server:
        server.add_bot(CUSTOMER_TOKEN, "chatshop_test_bot")
        shop = make_shop(database, Clock(), bot_token=CUSTOMER_TOKEN,
                         telegram_api_base=server.base_url)
        await load_demo(shop)
        await shop.catalog.load_index()
        metrics = Metrics(version="9.9.9")
        customer_bot = CustomerBot(shop, make_bot(CUSTOMER_TOKEN, server.base_url))
        instrument(customer_bot.dispatcher, "customer", metrics)
        stop = asyncio.Event()
        task = asyncio.create_task(customer_bot.run_polling(stop))
        try:
            await server.wait_for(lambda: server.calls("getUpdates"), what="polling starts")
            alice = server.user(4401, "Alice")
            async with serving(build_app(shop, metrics=metrics)) as base:
                await alice.send("/start")
                await alice.press(alice.buttons()[0])
                await alice.send("/cart")
                page = await wait_for_value(base, 3, "chatshop_update_seconds_count",
                                            bot="customer")
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)
    assert value(page, "chatshop_updates_total", bot="customer", type="message") == 2
    assert value(page, "chatshop_updates_total", bot="customer", type="callback_query") == 1
    assert value(page, "chatshop_update_errors_total", bot="customer") is None
    assert value(page, "chatshop_update_seconds_bucket", bot="customer", le="5.0") == 3
    assert (value(page, "chatshop_update_seconds_sum", bot="customer") or 0) > 0
    assert value(page, "chatshop_info", version="9.9.9") == 1


async def test_a_handler_error_is_counted_and_raised_on(database: Database) -> None:
    router = Router()
    seen: list[str] = []

    @router.message()
    async def answer(message: Message) -> None:
        seen.append(message.text or "")
        if message.text == "boom":
            raise RuntimeError("boom")
        await message.answer("ok")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    metrics = Metrics()
    instrument(dispatcher, "test", metrics)
    shop = make_shop(database, Clock())
    async with FakeTelegram() as server, serving(build_app(shop, metrics=metrics)) as base:
        server.add_bot(TEST_TOKEN, "instrumented_bot")
        async with polling(server, dispatcher, TEST_TOKEN):
            user = server.user(4402, "Bob", bot=TEST_TOKEN)
            await user.send("hello")
            await user.send("boom", expect=0)
            await user.send("again")
            page = await wait_for_value(base, 1, "chatshop_update_errors_total", bot="test")
            page = await wait_for_value(base, 3, "chatshop_updates_total", bot="test",
                                        type="message")
    assert seen == ["hello", "boom", "again"]  # polling went on after the error
    assert value(page, "chatshop_update_seconds_count", bot="test") == 3


async def test_orders_payments_parked_updates_and_pending_events_come_from_the_database(
        database: Database) -> None:
    shop = make_shop(database, Clock())
    ids = await seed_basics(shop)
    alice, alice_address = await customer(shop, "5501")
    bob, bob_address = await customer(shop, "5502")
    paid = await buy(shop, alice, alice_address, ids["courier"], {ids["TEE-M"]: 2})
    await pay(shop, alice, paid.id)
    await buy(shop, bob, bob_address, ids["courier"], {ids["MUG"]: 1})
    received: list[DeliveredEvent] = []

    async def consume(event: DeliveredEvent) -> None:
        received.append(event)

    shop.relay.subscribe("metrics_test", consume)
    async with shop.sessions() as session:
        events = await session.scalar(select(func.count()).select_from(OutboxEvent))
    assert events

    parking = ParkedUpdates(shop.sessions, lease_s=60)
    assert await parking.park("telegram", 1, 101, {"update_id": 101})
    assert await parking.park("telegram", 1, 102, {"update_id": 102})

    async with serving(build_app(shop)) as base:
        page = await scrape(base)
    assert value(page, "chatshop_updates_parked") == 2
    assert value(page, "chatshop_orders_total", status="paid") == 1
    assert value(page, "chatshop_orders_total", status="awaiting_payment") == 1
    assert value(page, "chatshop_payments_total", provider="test", currency="EUR") == 1
    assert value(page, "chatshop_payments_amount_minor_total", provider="test",
                 currency="EUR") == paid.total.minor
    assert value(page, "chatshop_payments_refunded_minor_total", provider="test",
                 currency="EUR") == 0
    assert value(page, "chatshop_events_pending") == events
    assert value(page, "chatshop_database_up") == 1


async def test_webhook_rejections_are_counted_per_app(database: Database) -> None:
    shop = make_shop(database, Clock())
    first, second = build_app(shop), build_app(shop)
    assert first[METRICS] is not second[METRICS]  # one registry per app: no collisions
    first[METRICS].webhook_rejected("secret")
    first[METRICS].webhook_rejected("secret")
    first[METRICS].webhook_rejected("payload")
    async with serving(first) as one, serving(second) as two:
        page, other = await scrape(one), await scrape(two)
    assert value(page, "chatshop_webhook_rejected_total", reason="secret") == 2
    assert value(page, "chatshop_webhook_rejected_total", reason="payload") == 1
    assert value(other, "chatshop_webhook_rejected_total", reason="secret") is None


async def test_a_metrics_token_is_required_when_set(database: Database) -> None:
    import aiohttp

    shop = make_shop(database, Clock(), metrics_token="scrape-me-0123456789")
    async with serving(build_app(shop)) as base, aiohttp.ClientSession() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": "scrape-me-0123456789"}):
            async with http.get(f"{base}/metrics", headers=headers) as refused:
                assert refused.status == 401
                assert "chatshop" not in await refused.text()
        async with http.get(f"{base}/metrics", headers={
                "Authorization": "Bearer scrape-me-0123456789"}) as allowed:
            assert allowed.status == 200
            assert value(await allowed.text(), "chatshop_database_up") == 1
        async with http.get(f"{base}/healthz") as health:  # the load balancer needs no token
            assert health.status == 200


async def test_bot_api_calls_are_counted_by_outcome_each_attempt_once(
        database: Database) -> None:
    metrics = Metrics()
    shop = make_shop(database, Clock())
    async with FakeTelegram() as server, serving(build_app(shop, metrics=metrics)) as base:
        server.add_bot(TEST_TOKEN, "instrumented_bot")
        user = server.user(4403, "Carol", bot=TEST_TOKEN)
        bot = make_bot(TEST_TOKEN, server.base_url)  # with the retries and the limiter
        instrument(Dispatcher(), "test", metrics, bot)
        try:
            await bot.send_message(user.id, "one")
            server.fail_next("sendMessage", 429, "Too Many Requests: retry after 1",
                             retry_after=1, bot=TEST_TOKEN)
            await bot.send_message(user.id, "two")  # retried after the wait, then sent
            server.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user",
                             bot=TEST_TOKEN)
            with pytest.raises(TelegramForbiddenError):
                await bot.send_message(user.id, "three")
            server.fail_next("sendMessage", 502, "Bad Gateway", bot=TEST_TOKEN)
            with pytest.raises(TelegramServerError):
                await bot.send_message(user.id, "four")
        finally:
            await bot.session.close()
        page = await scrape(base)
    assert [m.text for m in user.messages()] == ["one", "two"]
    assert value(page, "chatshop_bot_api_calls_total", bot="test", outcome="ok") == 2
    assert value(page, "chatshop_bot_api_calls_total", bot="test", outcome="rate_limited") == 1
    assert value(page, "chatshop_bot_api_calls_total", bot="test", outcome="refused") == 1
    assert value(page, "chatshop_bot_api_calls_total", bot="test",
                 outcome="server_error") == 1
    assert value(page, "chatshop_bot_api_calls_total", bot="test",
                 outcome="network_error") is None
