"""Conversation state in Redis (REDIS_URL): two workers of the customer bot, one Redis, one
database; a customer starts the address step on one worker and finishes it on the other."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis.asyncio
from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.methods import TelegramMethod
from aiogram.types import Message, Update
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from bot.handlers.in_flight import make_dispatcher
from bot.handlers.storage import ConversationStorage, make_storage
from bot.handlers.update_dedupe import Claim, RedisDedupe
from bot.handlers.webhook import SECRET_HEADER, WebhookEndpoint
from bot.telegram_app import CustomerBot, make_bot
from shop.demo.loader import load_demo
from shop.settings import load_settings
from tests.conftest import Database
from tests.fakes.telegram_sample_bot import make_bot as make_plain_bot
from tests.fakes.telegram_server import FakeTelegram
from tests.support.shop import Clock, make_shop
from tests.support.telegram import CUSTOMER_TOKEN
from tests.support.waiting import eventually

ALICE = 2001
BOT_ID = int(CUSTOMER_TOKEN.split(":")[0])


class Balancer:
    """Hands each update to the worker ``to`` points at, as a load balancer in front of
    webhook workers would (updates are taken with getUpdates and fed to the dispatcher)."""

    def __init__(self, tg: FakeTelegram, workers: list[CustomerBot]) -> None:
        self.tg, self.workers = tg, workers
        self.to = 0
        self.handled: list[tuple[int, str]] = []

    async def run(self) -> None:
        fetcher = make_plain_bot(self.tg.base_url, CUSTOMER_TOKEN)
        offset = 0
        try:
            while True:
                for update in await fetcher.get_updates(offset=offset, timeout=5):
                    offset = update.update_id + 1
                    await self.feed(update)
        finally:
            await fetcher.session.close()

    async def feed(self, update: Update) -> None:
        worker = self.workers[self.to]
        text = update.message.text if update.message and update.message.text else (
            update.callback_query.data if update.callback_query else "") or ""
        self.handled.append((self.to, text))
        result = await worker.dispatcher.feed_update(worker.bot, update)
        if isinstance(result, TelegramMethod):  # what a webhook would send back in its reply
            await worker.dispatcher.silent_call_request(worker.bot, result)


@asynccontextmanager
async def two_workers(database: Database, redis_url: str
                      ) -> AsyncIterator[tuple[FakeTelegram, Balancer]]:
    async with FakeTelegram() as tg:
        tg.add_bot(CUSTOMER_TOKEN, "chatshop_test_bot")
        workers = []
        for number in range(2):
            shop = make_shop(database, Clock(), bot_token=CUSTOMER_TOKEN,
                             telegram_api_base=tg.base_url, redis_url=redis_url)
            if number == 0:
                await load_demo(shop)
            await shop.catalog.load_index()
            workers.append(CustomerBot(shop, make_bot(CUSTOMER_TOKEN, tg.base_url),
                                       storage=make_storage(shop.settings)))
        balancer = Balancer(tg, workers)
        task = asyncio.create_task(balancer.run())
        try:
            yield tg, balancer
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for worker in workers:
                await worker.bot.session.close()
                await worker.dispatcher.storage.close()


async def test_the_address_step_started_on_one_worker_is_finished_on_the_other(
        database: Database, redis_url: str) -> None:
    async with two_workers(database, redis_url) as (tg, balancer):
        alice = tg.user(ALICE, "Alice")
        await alice.send("/start p_classic-tee")
        await alice.press("M")
        await alice.press("Black")
        await alice.press("➕ Add to cart")
        await alice.send("/cart")
        asked = await alice.press(re.compile("^✅"))
        assert "step 1 of 5" in asked.text
        await alice.send("Ada Lovelace")
        street = await alice.send("12 Rue de Rivoli")
        assert "step 3 of 5" in street.text and "Type the city." in street.text

        balancer.to = 1  # the rest reaches the other worker, which never saw this customer
        city = await alice.send("Paris")
        assert "step 4 of 5" in city.text and "Ada Lovelace, 12 Rue de Rivoli, Paris" in city.text
        await alice.send("75001")
        await alice.send("FR")
        summary = await alice.press(re.compile("^Courier"))
        assert "Ada Lovelace, 12 Rue de Rivoli, 75001 Paris, FR" in summary.text

        workers = {worker for worker, _ in balancer.handled}
        assert workers == {0, 1}
        assert [text for worker, text in balancer.handled if worker == 1][:3] == [
            "Paris", "75001", "FR"]
        client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
        try:
            keys = set(await client.keys("chatshop:fsm:*"))
        finally:
            await client.aclose()
        assert f"chatshop:fsm:{BOT_ID}:{ALICE}:{ALICE}:data" in keys


def test_without_redis_url_the_state_stays_in_the_process() -> None:
    assert isinstance(make_storage(load_settings(redis_url=None)), MemoryStorage)
    shared = make_storage(load_settings(redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(shared, RedisStorage)
    asyncio.run(shared.close())


async def _commands(client: redis.asyncio.Redis, name: str) -> int:
    stats = await client.info("commandstats")
    return int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))


async def test_reading_aiogram_s_unused_state_costs_no_redis_round_trip(redis_url: str
                                                                         ) -> None:
    storage = make_storage(load_settings(redis_url=redis_url))
    assert isinstance(storage, ConversationStorage)
    key = StorageKey(bot_id=BOT_ID, chat_id=ALICE, user_id=ALICE)
    observer = redis.asyncio.Redis.from_url(redis_url)
    try:
        gets_before = await _commands(observer, "get")
        assert await storage.get_state(key) is None  # what aiogram asks on every update
        await storage.set_state(key, None)  # FSMContext.clear() does this
        assert await _commands(observer, "get") == gets_before
        await storage.set_data(key, {"flow": {"step": "address"}})
        assert await storage.get_data(key) == {"flow": {"step": "address"}}
        assert await _commands(observer, "get") == gets_before + 1  # the data is in Redis
        with pytest.raises(NotImplementedError, match="data"):  # never silently ignored
            await storage.set_state(key, State("address", group_name="Checkout"))
    finally:
        await storage.close()
        await observer.aclose()


class CountingConnection(redis.asyncio.Connection):
    """Counts the requests a client sends (a pipeline is one): its round trips."""

    sent = 0

    async def send_packed_command(self, command: object, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        await super().send_packed_command(command, check_health)  # type: ignore[arg-type]


async def test_the_chat_lock_reads_the_conversation_data_in_its_own_round_trip(
        redis_url: str) -> None:
    """Lock and data in one round trip, release in one, a write in one: three per update
    that changes its data, where reading the data apart cost a fourth."""
    pool = redis.asyncio.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    storage = ConversationStorage(
        redis.asyncio.Redis(connection_pool=pool),
        key_builder=DefaultKeyBuilder(prefix="chatshop:fsm:test-lock", with_bot_id=True))
    dispatcher = make_dispatcher(storage, chat_lease_s=5)
    seen: list[dict[str, Any]] = []

    async def handler(message: Message, state: FSMContext) -> None:
        data = await state.get_data()
        seen.append(data)
        await state.set_data({"count": data.get("count", 0) + 1, "said": message.text})
        assert await state.get_data() == {"count": data.get("count", 0) + 1,
                                          "said": message.text}  # written: read again
    dispatcher.message.register(handler)
    bot = Bot(CUSTOMER_TOKEN)
    user = {"id": ALICE, "is_bot": False, "first_name": "Alice"}

    def update(number: int, text: str) -> Update:
        return Update.model_validate({"update_id": number, "message": {
            "message_id": number, "from": user, "chat": {"id": ALICE, "type": "private"},
            "date": 0, "text": text}})
    try:
        await dispatcher.feed_update(bot, update(1, "hi"))  # opens the connection
        CountingConnection.sent = 0
        await dispatcher.feed_update(bot, update(2, "tee"))
        # lock + data, the write, the read after the write, the release
        assert CountingConnection.sent == 4
        CountingConnection.sent = 0
        await dispatcher.feed_update(bot, update(3, "mug"))
        assert CountingConnection.sent == 4
        assert seen == [{}, {"count": 1, "said": "hi"}, {"count": 2, "said": "tee"}]
        lock = storage.key_builder.build(StorageKey(bot.id, ALICE, ALICE), "lock")
        assert not await storage.redis.exists(lock)
    finally:
        await storage.redis.delete(storage.key_builder.build(
            StorageKey(bot.id, ALICE, ALICE), "data"))
        await storage.close()
        await bot.session.close()


async def test_a_webhook_update_gives_its_chat_lock_back_with_its_done_mark(
        redis_url: str) -> None:
    """Claim, lock + data, the write, then done + the lock's release: four round trips for
    an update that changes its data, where releasing the lock apart cost a fifth."""
    def counting() -> redis.asyncio.Redis:
        return redis.asyncio.Redis(connection_pool=redis.asyncio.ConnectionPool.from_url(
            redis_url, connection_class=CountingConnection))
    storage = ConversationStorage(counting(), key_builder=DefaultKeyBuilder(
        prefix="chatshop:fsm:test-done", with_bot_id=True))
    dedupe = RedisDedupe(counting(), lease_s=5, prefix="chatshop:test-done")
    dispatcher = make_dispatcher(storage, chat_lease_s=5)
    lock = storage.key_builder.build(StorageKey(BOT_ID, ALICE, ALICE), "lock")
    looking = redis.asyncio.Redis.from_url(redis_url)  # not counted

    async def handler(message: Message, state: FSMContext) -> None:
        assert await looking.exists(lock)  # held while the update runs
        await state.update_data(said=message.text)
    dispatcher.message.register(handler)
    bot = Bot(CUSTOMER_TOKEN)
    endpoint = WebhookEndpoint("customer", dispatcher, bot, secret="s3cret", dedupe=dedupe,
                               lease_s=5)
    app = web.Application()
    endpoint.mount(app)
    server = TestServer(app)
    await server.start_server()

    async def deliver(number: int, text: str) -> None:
        user = {"id": ALICE, "is_bot": False, "first_name": "Alice"}
        update = {"update_id": number, "message": {
            "message_id": number, "from": user, "chat": {"id": ALICE, "type": "private"},
            "date": 0, "text": text}}
        async with ClientSession() as http, http.post(
                server.make_url(endpoint.path), json=update,
                headers={SECRET_HEADER: "s3cret"}) as response:
            assert response.status == 200
    try:
        await deliver(1, "hi")  # opens the connections
        for number, text in ((2, "tee"), (3, "mug")):
            CountingConnection.sent = 0
            await deliver(number, text)
            assert CountingConnection.sent == 4
            assert not await looking.exists(lock)  # given back when the update ended
            assert await dedupe.claim(BOT_ID, number) is Claim.DONE
        assert await storage.get_data(StorageKey(BOT_ID, ALICE, ALICE)) == {"said": "mug"}
    finally:
        await storage.redis.delete(storage.key_builder.build(
            StorageKey(BOT_ID, ALICE, ALICE), "data"))
        await server.close()
        await dedupe.close()
        await storage.close()
        await looking.aclose()
        await bot.session.close()


async def test_a_long_update_keeps_its_chat_locked_past_the_lease(redis_url: str) -> None:
    storage = make_storage(load_settings(redis_url=redis_url))
    assert isinstance(storage, ConversationStorage)
    dispatcher = make_dispatcher(storage, chat_lease_s=0.6)
    inside, finish = asyncio.Event(), asyncio.Event()

    async def handler(_: Message) -> None:
        inside.set()
        await finish.wait()
    dispatcher.message.register(handler)
    bot = Bot(CUSTOMER_TOKEN)
    lock = storage.key_builder.build(StorageKey(bot.id, ALICE, ALICE), "lock")
    update = Update.model_validate({"update_id": 1, "message": {
        "message_id": 1, "from": {"id": ALICE, "is_bot": False, "first_name": "Alice"},
        "chat": {"id": ALICE, "type": "private"}, "date": 0, "text": "slow"}})
    handling = asyncio.create_task(dispatcher.feed_update(bot, update))
    try:
        await asyncio.wait_for(inside.wait(), 5)
        loop = asyncio.get_running_loop()
        taken_at = loop.time()

        async def held_past_three_leases() -> bool:
            assert await storage.redis.exists(lock), "the lock ran out while held"
            return loop.time() - taken_at > 1.8
        await eventually(held_past_three_leases, within=10)
        finish.set()
        await asyncio.wait_for(handling, 5)
        assert not await storage.redis.exists(lock)
    finally:
        finish.set()
        await storage.close()
        await bot.session.close()
