"""`chatshop run` in webhook mode: both bots on our HTTP server at /telegram/customer and
/telegram/staff, fed by the fake Bot API's webhook delivery over real HTTP; secrets checked,
duplicates skipped, and the updates in hand finished on shutdown."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from aiogram import Bot
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import Message, Update
from redis.asyncio import Redis

from bot.handlers.in_flight import make_dispatcher
from bot.handlers.storage import make_storage
from bot.handlers.update_dedupe import Claim, InProcessDedupe, RedisDedupe
from bot.telegram_app import ALLOWED_UPDATES as CUSTOMER_UPDATES
from shop.redis_lease import Lease, give_back_later, giving_back_later
from shop.settings import SettingsError, load_settings
from tests.conftest import Database
from tests.support.admin import ADMIN_TOKEN, MANAGER_ID, paid_order
from tests.support.monitoring import scrape, value
from tests.support.postgres import free_port
from tests.support.telegram import CUSTOMER_TOKEN, running_customer_bot
from tests.support.waiting import eventually
from tests.support.webhooks import (
    WEBHOOK_SECRET,
    post,
    press_update,
    serving_webhooks,
    start_update,
)
from tests.test_admin_alerts import count

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_both_bots_are_served_by_webhook(database: Database) -> None:
    async with serving_webhooks(database) as served:
        server, shop = served.server, served.shop
        (customer_call,) = server.calls("setWebhook", bot=CUSTOMER_TOKEN)
        (staff_call,) = server.calls("setWebhook", bot=ADMIN_TOKEN)
        assert customer_call.params["url"] == served.url("customer")
        assert staff_call.params["url"] == served.url("staff")
        assert customer_call.params["secret_token"] == served.secret("customer")
        assert staff_call.params["secret_token"] == served.secret("staff")
        assert served.secret("customer") != served.secret("staff")
        assert WEBHOOK_SECRET not in (served.secret("customer"), served.secret("staff"))
        assert {"pre_checkout_query", "shipping_query", "message", "callback_query"} <= set(
            customer_call.params["allowed_updates"])
        assert set(customer_call.params["allowed_updates"]) == set(CUSTOMER_UPDATES)
        assert set(staff_call.params["allowed_updates"]) == {"message", "callback_query"}
        assert not customer_call.params.get("drop_pending_updates")

        alice = server.user(3401, "Alice", bot=CUSTOMER_TOKEN)
        hello = await alice.send("/start")
        assert "Welcome to" in hello.text and hello.messages[-1].buttons
        manager = server.user(MANAGER_ID, "Maria", bot=ADMIN_TOKEN)
        menu = await manager.send("/start")
        assert menu.messages and menu.messages[-1].buttons

        # Events still flow: a paid order alerts staff, whose press notifies the customer.
        order = await paid_order(shop, "3401", {"TEE-MTN-GRY-S": 1})
        await server.wait_for(lambda: count(manager, f"New paid order #{order.number}"))
        await manager.press("✅ Confirm")
        await server.wait_for(lambda: count(alice, f"#{order.number}", "confirmed"))
        assert not server.calls("getUpdates")
    # Other workers keep serving: stopping one never deletes the webhooks.
    assert not server.calls("deleteWebhook")
    assert server.bot(CUSTOMER_TOKEN).webhook and server.bot(ADMIN_TOKEN).webhook


@SQLITE
async def test_requests_without_the_bots_secret_are_refused(
        database: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with serving_webhooks(database) as served:
        alice = served.server.user(3402, "Alice", bot=CUSTOMER_TOKEN)
        update = start_update(served.server, alice.id, 7001)
        url = served.url("customer")
        assert await post(url, update) == 401
        assert await post(url, update, "not-the-secret") == 401
        assert await post(url, update, served.secret("staff")) == 401
        assert await post(url, update, WEBHOOK_SECRET) == 401  # the master is not a bot's
        assert await post(served.url("staff"), update, served.secret("customer")) == 401
        assert await post(url, b"{not json", served.secret("customer")) == 400
        assert await post(url, b"\xff\xfe", served.secret("customer")) == 400
        assert await post(url, {"message": {"text": "no update_id"}},
                          served.secret("customer")) == 400
        assert await post(url, b"[1, 2]", served.secret("customer")) == 400
        # Nothing reached a handler; the same update with the right secret does.
        await served.shut_down()
        assert not served.server.calls("sendMessage")
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 9, refusals
    logged = caplog.text
    for secret in (served.secret("customer"), served.secret("staff"), WEBHOOK_SECRET,
                   "not-the-secret"):
        assert secret not in logged


@SQLITE
async def test_an_update_is_answered_once_it_was_handled(database: Database) -> None:
    async with serving_webhooks(database) as served:
        alice = served.server.user(3403, "Alice", bot=CUSTOMER_TOKEN)
        assert await post(served.url("customer"), start_update(served.server, alice.id, 7002),
                          served.secret("customer")) == 200
        # Telegram's 200 came after the answer: a worker dying before it would have been
        # redelivered the update.
        assert "Welcome to" in alice.text()


@SQLITE
async def test_a_press_is_answered_in_the_webhook_response(database: Database) -> None:
    async with serving_webhooks(database) as served:
        server = served.server
        alice = server.user(3406, "Alice", bot=CUSTOMER_TOKEN)
        await alice.send("/start")
        reply = await alice.press(re.compile("Catalog"))
        assert reply.messages, alice.describe()
        (answer,) = server.calls("answerCallbackQuery")
        assert answer.webhook_reply and answer.ok
        # Everything else went out as requests of their own (limits and retries apply).
        customer_bot_id = int(CUSTOMER_TOKEN.split(":")[0])
        requests = [c for c in server.requests if c.bot_id == customer_bot_id]
        assert not [c for c in requests if c.webhook_reply and c is not answer]
        # /metrics counts both kinds.
        page = await scrape(served.base_url)
        assert value(page, "chatshop_bot_api_calls_total", bot="customer",
                     outcome="in_webhook_reply") == 1
        assert value(page, "chatshop_bot_api_calls_total", bot="customer",
                     outcome="ok") == len(requests) - 1


@SQLITE
@pytest.mark.parametrize("shared", [False, True], ids=["in-process", "redis"])
async def test_an_update_delivered_twice_is_handled_once(
        database: Database, shared: bool, request: pytest.FixtureRequest) -> None:
    extra = {"redis_url": request.getfixturevalue("redis_url")} if shared else {}
    async with serving_webhooks(database, **extra) as served:
        server = served.server
        alice = server.user(3404, "Alice", bot=CUSTOMER_TOKEN)
        update = start_update(server, alice.id, 7003)
        secret = served.secret("customer")
        held = server.hold("sendMessage", bot=CUSTOMER_TOKEN)
        first = asyncio.create_task(post(served.url("customer"), update, secret))
        await asyncio.wait_for(held.arrived.wait(), 10)
        # Delivered again while the first delivery is being handled: "later, please".
        assert await post(served.url("customer"), update, secret) == 503
        held.release()
        assert await first == 200
        # And once it was handled: acknowledged, skipped.
        assert await post(served.url("customer"), update, secret) == 200
        await served.shut_down()
        assert len(server.calls("sendMessage", chat_id=alice.id)) == 1


@SQLITE
async def test_an_update_running_long_is_answered_and_finishes_in_the_background(
        database: Database) -> None:
    # EVENT_LEASE_SECONDS=1.5: Telegram waits at most 0.5 s for an answer.
    async with serving_webhooks(database, event_lease_seconds=1.5) as served:
        server = served.server
        alice = server.user(3407, "Alice", bot=CUSTOMER_TOKEN)
        await alice.send("/start")
        menu = alice.latest(with_keyboard=True)
        assert menu is not None
        press = press_update(alice, 7010, menu.message_id, next(
            b.callback_data for row in menu.keyboard for b in row
            if b.callback_data and "Catalog" in b.text))
        held = server.hold("editMessageText", bot=CUSTOMER_TOKEN)
        assert await post(served.url("customer"), press, served.secret("customer")) == 200
        assert held.waiting == 1 and not server.calls("answerCallbackQuery")
        held.release()
        # The press's answer could not go in the response any more: it is requested.
        (answer,) = await server.wait_for(lambda: server.calls("answerCallbackQuery"),
                                          what="the answer")
        assert answer.ok and not answer.webhook_reply
        # Handled once: a redelivery now is skipped.
        assert await post(served.url("customer"), press, served.secret("customer")) == 200
        await served.shut_down()
        assert len(server.calls("answerCallbackQuery")) == 1


async def test_in_process_dedupe_claims_finishes_and_forgets() -> None:
    dedupe = InProcessDedupe(limit=2)
    assert await dedupe.claim(1, 10) is Claim.NEW
    assert await dedupe.claim(1, 10) is Claim.IN_HAND
    assert await dedupe.claim(2, 10) is Claim.NEW  # another bot's update 10
    await dedupe.release(2, 10)  # not handled after all: the next delivery handles it
    assert await dedupe.claim(2, 10) is Claim.NEW
    for update in (10, 11, 12):
        await dedupe.finish(1, update)
    assert await dedupe.claim(1, 12) is Claim.DONE
    assert await dedupe.claim(1, 10) is Claim.NEW  # forgotten: only the 2 latest are kept


async def test_redis_dedupe_is_shared_leased_and_fails_open(
        redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    one, two = RedisDedupe.from_url(redis_url, 30), RedisDedupe.from_url(redis_url, 30)
    short = RedisDedupe.from_url(redis_url, 0.3)
    try:
        assert await one.claim(5, 42) is Claim.NEW
        assert await two.claim(5, 42) is Claim.IN_HAND
        await two.release(5, 42)  # not its claim: nothing happens
        assert await two.claim(5, 42) is Claim.IN_HAND
        await one.finish(5, 42)
        assert await two.claim(5, 42) is Claim.DONE
        assert await two.claim(6, 42) is Claim.NEW  # another bot
        await two.release(6, 42)
        assert await one.claim(6, 42) is Claim.NEW

        # A worker that died holding a claim: the next delivery waits out its lease.
        assert await short.claim(5, 44) is Claim.NEW
        assert await one.claim(5, 44) is Claim.IN_HAND
        await eventually(lambda: _claims(one, 5, 44), within=5)
        await short.release(5, 44)  # too late: the claim is no longer its own
        assert await two.claim(5, 44) is Claim.IN_HAND
    finally:
        for dedupe in (one, two, short):
            await dedupe.close()
    down = RedisDedupe.from_url(f"redis://127.0.0.1:{free_port()}/0", 30)
    try:
        assert await down.claim(5, 43) is Claim.NEW and await down.claim(5, 43) is Claim.NEW
    finally:
        await down.close()
    assert "duplicate check failed (ConnectionError); handling it" in caplog.text


async def test_redis_dedupe_gives_back_the_leases_an_update_held(
        redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    redis = Redis.from_url(redis_url)
    dedupe = RedisDedupe(redis, 30)
    try:
        assert await dedupe.claim(5, 50) is Claim.NEW
        await redis.set("test:lock:a", "mine", px=30_000)
        await redis.set("test:lock:b", "somebody else's", px=30_000)  # mine ran out meanwhile
        await dedupe.finish(5, 50, [Lease("test:lock:a", "mine", "the lock on chat a"),
                                    Lease("test:lock:b", "mine", "the lock on chat b")])
        assert await dedupe.claim(5, 50) is Claim.DONE
        assert not await redis.exists("test:lock:a")
        assert await redis.get("test:lock:b") == b"somebody else's"  # not mine to delete
        assert "the lock on chat b ran out before its update was done with it" in caplog.text
        assert "chat a" not in caplog.text

        # An update given up (a shutdown): its claim and its leases go back together.
        assert await dedupe.claim(5, 51) is Claim.NEW
        await redis.set("test:lock:c", "mine", px=30_000)
        await dedupe.release(5, 51, [Lease("test:lock:c", "mine", "the lock on chat c")])
        assert not await redis.exists("test:lock:c")
        assert await dedupe.claim(5, 51) is Claim.NEW  # the next delivery handles it
    finally:
        await redis.delete("test:lock:b")
        await dedupe.close()


async def test_only_the_task_that_asked_gives_leases_back_later() -> None:
    lease = Lease("k", "me", "a lease")
    assert not give_back_later(lease)  # no block: give it back now
    with giving_back_later() as later:
        assert give_back_later(lease)

        async def started_inside() -> bool:  # may outlive the block: gives back itself
            return give_back_later(Lease("k2", "me", "another"))
        assert not await asyncio.create_task(started_inside())
    assert later == [lease]
    assert not give_back_later(lease)


async def _claims(dedupe: RedisDedupe, bot_id: int, update_id: int) -> bool:
    return await dedupe.claim(bot_id, update_id) is Claim.NEW


@SQLITE
@pytest.mark.parametrize("mode", ["webhook", "polling"])
async def test_shutdown_finishes_the_update_in_hand(database: Database, mode: str) -> None:
    """SIGTERM while an update waits out a 429: the stop waits for its answer."""
    if mode == "webhook":
        async with serving_webhooks(database) as served:
            server = served.server
            alice = server.user(3405, "Alice", bot=CUSTOMER_TOKEN)
            server.fail_next("sendMessage", 429, "Too Many Requests: retry after 1",
                             retry_after=1, bot=CUSTOMER_TOKEN, chat_id=alice.id)
            answer = asyncio.create_task(post(
                served.url("customer"), start_update(server, alice.id, 7004),
                served.secret("customer")))
            await server.wait_for(lambda: server.calls("sendMessage", ok=False),
                                  what="the 429")
            await served.shut_down()
            assert "Welcome to" in alice.text()
            assert await answer == 200  # Telegram got its answer, after the update's end
        return
    async with running_customer_bot(database) as (server, _):
        alice = server.user(3405, "Alice")
        server.fail_next("sendMessage", 429, "Too Many Requests: retry after 1",
                         retry_after=1, chat_id=alice.id)
        await alice.send("/start", expect=0)
        await server.wait_for(lambda: server.calls("sendMessage", ok=False), what="the 429")
    # Leaving the block stopped the bot: polling first, then the update in hand finished.
    assert "Welcome to" in alice.text()


def test_webhook_mode_needs_a_valid_secret() -> None:
    with pytest.raises(SettingsError, match="setting WEBHOOK_SECRET: is required in webhook"):
        load_settings(webhook_base_url="https://shop.example")
    with pytest.raises(SettingsError, match="WEBHOOK_SECRET: must be 1 to 256") as refused:
        load_settings(webhook_base_url="https://shop.example", webhook_secret="has spaces!")
    assert "has spaces" not in str(refused.value)
    with pytest.raises(SettingsError, match="WEBHOOK_SECRET"):
        load_settings(webhook_base_url="https://shop.example", webhook_secret="x" * 257)
    settings = load_settings(webhook_base_url="https://shop.example/", webhook_secret="a-Z_9")
    assert settings.webhook_base_url == "https://shop.example"
    assert load_settings().webhook_secret is None  # polling needs none



async def test_redis_isolation_serializes_one_chat_across_workers(redis_url: str) -> None:
    """Two workers' dispatchers on one Redis: a customer's second update waits for the first,
    also when the first takes longer than the lock's lease (its worker renews it)."""
    storage = make_storage(load_settings(redis_url=redis_url))
    bot = Bot("123456:AAE-fake-customer-token")
    entered = [asyncio.Event(), asyncio.Event()]
    release = asyncio.Event()
    workers = [make_dispatcher(storage, chat_lease_s=0.3),
               make_dispatcher(storage, chat_lease_s=0.3)]
    for index, dispatcher in enumerate(workers):
        async def handler(_: Message, index: int = index) -> None:
            entered[index].set()
            if index == 0:
                await release.wait()
        dispatcher.message.register(handler)

    def update(update_id: int) -> Update:
        user = {"id": 3406, "is_bot": False, "first_name": "Alice"}
        return Update.model_validate({"update_id": update_id, "message": {
            "message_id": update_id, "from": user, "chat": {"id": 3406, "type": "private"},
            "date": 0, "text": "hi"}})

    tasks: list[asyncio.Task[object]] = []
    try:
        tasks.append(asyncio.create_task(workers[0].feed_update(bot, update(1))))
        await asyncio.wait_for(entered[0].wait(), 5)
        tasks.append(asyncio.create_task(workers[1].feed_update(bot, update(2))))
        with pytest.raises(TimeoutError):  # held off while the first is in hand, 4 leases
            await asyncio.wait_for(asyncio.shield(entered[1].wait()), 1.2)
        release.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        assert entered[1].is_set()
    finally:
        release.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await storage.close()
        await bot.session.close()


async def test_a_chat_locked_by_a_dead_worker_is_free_after_the_lease(redis_url: str) -> None:
    storage = make_storage(load_settings(redis_url=redis_url))
    assert isinstance(storage, RedisStorage)
    bot = Bot("123456:AAE-fake-customer-token")
    dispatcher = make_dispatcher(storage, chat_lease_s=0.5)
    entered = asyncio.Event()

    async def handler(_: Message) -> None:
        entered.set()
    dispatcher.message.register(handler)
    # A worker killed while handling an update of this chat left its lock behind, with the
    # lease it had then.
    key = storage.key_builder.build(StorageKey(bot.id, 3408, 3408), "lock")
    await storage.redis.set(key, "the dead worker's token", px=500)
    user = {"id": 3408, "is_bot": False, "first_name": "Alice"}
    update = Update.model_validate({"update_id": 1, "message": {
        "message_id": 1, "from": user, "chat": {"id": 3408, "type": "private"}, "date": 0,
        "text": "hi"}})
    try:
        await asyncio.wait_for(dispatcher.feed_update(bot, update), 5)
        assert entered.is_set()
        assert not await storage.redis.exists(key)  # released after the update
    finally:
        await storage.close()
        await bot.session.close()
