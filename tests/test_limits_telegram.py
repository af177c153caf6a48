"""The limiter in a real aiogram session against the fake Bot API with Telegram's flood control
on: bursts arrive whole with no 429, workers sharing Redis share the budget and the pauses,
answers to button presses are never held back, and replies to the update in hand pass their
chat's bucket only while everything else also waits for the overall one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import Message

from bot.handlers.instrument import instrument
from bot.telegram_app import make_bot
from bot.telegram_limits import Bucket, Grant, SendLimiter, TelegramLimits
from bot.telegram_limits.redis_buckets import RedisBuckets
from shop.web.metrics import Metrics
from tests.fakes.telegram_sample_bot import make_bot as make_plain_bot
from tests.fakes.telegram_sample_bot import polling, sample_router
from tests.fakes.telegram_server import FakeTelegram
from tests.support.waiting import eventually

TOKEN = "123456:AAE-fake-customer-token"
BOT_ID = 123456
# Strict per-chat limits: the fake's flood control lets a chat burst 3, then 1 a second.
STRICT = TelegramLimits(private_chat=Bucket(1, 2))
LimiterFactory = Callable[[], SendLimiter]


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.add_bot(TOKEN, "chatshop_test_bot")
        yield server


@pytest.fixture(params=["memory", "redis"])
def new_limiter(request: pytest.FixtureRequest) -> LimiterFactory:
    """Makes the limiter of one worker; with Redis, every worker's limiter shares the buckets."""
    if request.param == "memory":
        return lambda: SendLimiter.in_process(STRICT)
    url: str = request.getfixturevalue("redis_url")
    return lambda: SendLimiter(RedisBuckets.from_url(url, STRICT))


async def burst(bot: Bot, chats: dict[int, int]) -> None:
    """Every message at once: ``chats`` maps a chat to how many messages it gets."""
    await asyncio.gather(*(bot.send_message(chat, f"message {n} to {chat}")
                           for chat, count in chats.items() for n in range(count)))


def users(tg: FakeTelegram, count: int, first: int = 5000) -> dict[int, int]:
    for user_id in range(first, first + count):
        tg.user(user_id, f"U{user_id}")
    return {user_id: 1 for user_id in range(first, first + count)}


async def test_a_burst_arrives_whole_without_a_single_429(
        tg: FakeTelegram, new_limiter: LimiterFactory) -> None:
    tg.flood_limits()  # Telegram's: 30/s per bot (burst 30), 1/s per chat (burst 3)
    plan = users(tg, 45) | {5000: 4, 5001: 4, 5002: 3}
    limiter = new_limiter()
    bot = make_bot(TOKEN, tg.base_url, limiter)
    try:
        await burst(bot, plan)
    finally:
        await bot.session.close()
        await limiter.close()
    assert tg.bot().http_429 == 0
    for chat, count in plan.items():
        assert len(tg.chat(chat)) == count
    assert limiter.waited_s > 0


async def test_without_the_limiter_the_same_flood_control_answers_429(tg: FakeTelegram) -> None:
    tg.flood_limits()
    tg.user(5000)
    bot = make_plain_bot(tg.base_url, TOKEN)  # no middleware at all
    try:
        results = [await bot.send_message(5000, str(n)) for n in range(3)]
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(5000, "a fourth within the second")
    finally:
        await bot.session.close()
    assert len(results) == 3 and tg.bot().http_429 == 1


async def test_two_workers_on_one_redis_stay_within_the_limits_together(
        tg: FakeTelegram, redis_url: str) -> None:
    tg.flood_limits()
    chats = users(tg, 60)
    limiters = [SendLimiter(RedisBuckets.from_url(redis_url, STRICT)) for _ in range(2)]
    bots = [make_bot(TOKEN, tg.base_url, limiter) for limiter in limiters]
    ids = sorted(chats)
    try:
        # Each worker alone would send its 30 at once: together they would meet 429s.
        await asyncio.gather(burst(bots[0], dict.fromkeys(ids[:30], 1)),
                             burst(bots[1], dict.fromkeys(ids[30:], 1)))
    finally:
        for bot, limiter in zip(bots, limiters, strict=True):
            await bot.session.close()
            await limiter.close()
    assert tg.bot().http_429 == 0
    assert all(len(tg.chat(chat)) == 1 for chat in ids)


async def test_a_429_in_one_worker_pauses_the_other(tg: FakeTelegram, redis_url: str) -> None:
    tg.user(5000)
    tg.user(5001)
    first, second = (SendLimiter(RedisBuckets.from_url(redis_url, STRICT)) for _ in range(2))
    bots = [make_bot(TOKEN, tg.base_url, limiter) for limiter in (first, second)]
    tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1,
                 chat_id=5000)
    try:
        retried = asyncio.create_task(bots[0].send_message(5000, "met a 429, retried"))
        await tg.wait_for(lambda: tg.calls("sendMessage", ok=False), what="the 429")

        async def paused() -> bool:
            return first.pauses == 1

        await eventually(paused, within=5)
        assert await second.store.paused_for(BOT_ID) > 0.5
        await bots[1].send_message(5001, "waits for the pause")
        assert second.waited_s > 0.5
        await asyncio.wait_for(retried, 10)
    finally:
        for bot, limiter in zip(bots, (first, second), strict=True):
            await bot.session.close()
            await limiter.close()
    assert [m.text for m in tg.chat(5000)] == ["met a 429, retried"]
    assert [m.text for m in tg.chat(5001)] == ["waits for the pause"]


async def test_button_answers_and_edits_are_not_held_back_while_messages_wait(
        tg: FakeTelegram) -> None:
    alice = tg.user(1001, "Alice")
    limiter = SendLimiter.in_process()
    bot = make_bot(TOKEN, tg.base_url, limiter)
    dispatcher = Dispatcher()
    dispatcher.include_router(sample_router())
    async with polling(dispatcher, bot):
        await alice.send("/start")
        await limiter.store.pause(BOT_ID, 60)  # as after a 429 with retry_after=60
        held: asyncio.Task[object] = asyncio.create_task(
            bot.send_message(1001, "held back for a minute"))
        reply = await alice.press("Count: 0", timeout=5)
        assert reply.answer is not None and reply.answer.text == "+1"
        assert alice.text() == "Count: 1"
        assert not held.done()
        held.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await held
    await bot.session.close()


# -- replies ------------------------------------------------------------------------------------
STAFF_CHAT = 9000
# A tight overall bucket (4 a second, burst 1) that would hold six replies for over a second.
TIGHT = TelegramLimits(overall=Bucket(4, 1), private_chat=Bucket(1, 2))


@pytest.fixture(params=["memory", "redis"])
def tight_limiter(request: pytest.FixtureRequest) -> SendLimiter:
    if request.param == "memory":
        return SendLimiter.in_process(TIGHT)
    return SendLimiter(RedisBuckets.from_url(request.getfixturevalue("redis_url"), TIGHT))


def spy_on_reservations(limiter: SendLimiter) -> list[tuple[int | str | None, bool]]:
    """Records (chat, reply) of every reservation the limiter makes."""
    seen: list[tuple[int | str | None, bool]] = []
    reserve = limiter.store.reserve

    async def spy(bot_id: int, chat: int | str | None, cost: int = 1, *,
                  reply: bool = False) -> Grant:
        seen.append((chat, reply))
        return await reserve(bot_id, chat, cost, reply=reply)

    limiter.store.reserve = spy  # type: ignore[method-assign]
    return seen


def replying_router() -> Router:
    router = Router()

    @router.message(F.text)
    async def answer(message: Message, bot: Bot) -> None:
        await message.answer("got it")
        if message.text == "tell staff":  # a send to another chat while handling: unsolicited
            await bot.send_message(STAFF_CHAT, f"{message.chat.id} wants help")

    return router


async def test_replies_pass_their_chats_bucket_only_and_everything_else_the_overall_one(
        tg: FakeTelegram, tight_limiter: SendLimiter) -> None:
    limiter = tight_limiter
    customers = [tg.user(6000 + n, f"C{n}") for n in range(6)]
    tg.user(STAFF_CHAT, "Staff")
    bot = make_bot(TOKEN, tg.base_url, limiter)
    seen = spy_on_reservations(limiter)
    dispatcher = Dispatcher()
    dispatcher.include_router(replying_router())
    instrument(dispatcher, "customer", Metrics())  # as `chatshop run` does: marks the replies
    try:
        async with polling(dispatcher, bot):
            # Six customers write at once: every answer goes out at once.
            replies = await asyncio.gather(*(c.send("hello", timeout=5) for c in customers))
            assert all(r.messages[0].text == "got it" for r in replies)
            assert sorted(seen) == [(c.id, True) for c in customers]
            assert limiter.waited_s == 0
            # A customer asking for help: the answer is a reply, the staff message is not.
            seen.clear()
            await customers[0].send("tell staff", expect=1, timeout=5)
            await tg.wait_for(lambda: tg.chat(STAFF_CHAT), what="the staff message")
            assert seen == [(customers[0].id, True), (STAFF_CHAT, False)]
            # Sends outside an update's handling (notifications, broadcasts) are unsolicited,
            # to the customers' own chats too, and queue at the overall bucket's 4 a second.
            seen.clear()
            await asyncio.gather(*(bot.send_message(c.id, "news") for c in customers[1:]))
            assert sorted(seen) == [(c.id, False) for c in customers[1:]]
            assert limiter.waited_s > 1.0
    finally:
        await bot.session.close()
        await limiter.close()
