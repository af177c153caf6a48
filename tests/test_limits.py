"""The outgoing rate limiter: token buckets in this process and in Redis (a real redis-server)
on an injected clock, which methods wait, and 429 pauses."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import (
    AnswerCallbackQuery,
    AnswerPreCheckoutQuery,
    AnswerShippingQuery,
    CopyMessage,
    DeleteMessage,
    EditMessageText,
    ForwardMessage,
    GetUpdates,
    Response,
    SendChatAction,
    SendDocument,
    SendInvoice,
    SendMediaGroup,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import InputMediaPhoto, LabeledPrice

from bot.telegram_limits import (
    Bucket,
    BucketStore,
    Grant,
    MemoryBuckets,
    SendLimiter,
    TelegramLimits,
    answering,
    is_limited,
    is_reply,
    target_of,
)
from bot.telegram_limits.policy import Target
from bot.telegram_limits.redis_buckets import RedisBuckets
from tests.support.postgres import free_port
from tests.support.redis import RedisServer

BOT = 111
OTHER_BOT = 222
LIMITS = TelegramLimits(overall=Bucket(10, 3), private_chat=Bucket(1, 2),
                        group_chat=Bucket(20 / 60, 3))


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[BucketStore]:
    if request.param == "memory":
        yield MemoryBuckets(LIMITS, clock=clock)
        return
    buckets = RedisBuckets.from_url(request.getfixturevalue("redis_url"), LIMITS, clock=clock)
    try:
        yield buckets
    finally:
        await buckets.close()


def approx(grant: Grant) -> tuple[bool, float]:
    return grant.granted, round(grant.delay, 3)


# -- the buckets ------------------------------------------------------------------------------
async def test_overall_bucket_bursts_then_queues_at_its_rate(store: BucketStore,
                                                             clock: FakeClock) -> None:
    grants = [approx(await store.reserve(BOT, chat)) for chat in range(1, 7)]
    # 3 at once, then one slot every 1/10 s, reserved in order: nobody polls for tokens.
    assert grants == [(True, 0.0), (True, 0.0), (True, 0.0), (True, 0.1), (True, 0.2),
                      (True, 0.3)]
    clock.now += 1.0  # refilled (3 tokens at most)
    assert [approx(await store.reserve(BOT, chat)) for chat in range(7, 11)] == [
        (True, 0.0), (True, 0.0), (True, 0.0), (True, 0.1)]


async def test_a_busy_chat_waits_without_holding_up_other_chats(store: BucketStore,
                                                                clock: FakeClock) -> None:
    assert approx(await store.reserve(BOT, 5)) == (True, 0.0)
    assert approx(await store.reserve(BOT, 5)) == (True, 0.0)
    # The chat's burst of 2 is spent: nothing is taken, come back in 1 s.
    assert approx(await store.reserve(BOT, 5)) == (False, 1.0)
    assert approx(await store.reserve(BOT, 6)) == (True, 0.0)  # the overall bucket had room
    clock.now += 0.5
    assert approx(await store.reserve(BOT, 5)) == (False, 0.5)
    clock.now += 0.5
    assert approx(await store.reserve(BOT, 5)) == (True, 0.0)
    assert approx(await store.reserve(BOT, 5)) == (False, 1.0)


async def test_groups_get_20_a_minute(store: BucketStore, clock: FakeClock) -> None:
    group = -1001234567890
    assert [approx(await store.reserve(BOT, group)) for _ in range(3)] == [(True, 0.0)] * 3
    assert approx(await store.reserve(BOT, group)) == (False, 3.0)
    clock.now += 3.0
    assert approx(await store.reserve(BOT, group)) == (True, 0.0)
    # A channel addressed by @username is a group too.
    assert [approx(await store.reserve(BOT, "@shop_news"))[0] for _ in range(4)] == [
        True, True, True, False]


async def test_an_album_costs_one_token_per_photo(store: BucketStore, clock: FakeClock) -> None:
    # 4 photos with a chat burst of 2: sent once the bucket is full, which is then in debt.
    assert approx(await store.reserve(BOT, 9, cost=4)) == (True, 0.0)
    assert approx(await store.reserve(BOT, 9)) == (False, 3.0)
    # The overall bucket (burst 3) paid 4 too: the next chat's slot is 0.2 s away.
    assert approx(await store.reserve(BOT, 10)) == (True, 0.2)


async def test_a_pause_holds_every_chat_of_that_bot_only(store: BucketStore,
                                                        clock: FakeClock) -> None:
    await store.pause(BOT, 5)
    assert await store.paused_for(BOT) == pytest.approx(5.0)
    assert approx(await store.reserve(BOT, 1)) == (False, 5.0)
    assert approx(await store.reserve(OTHER_BOT, 1)) == (True, 0.0)
    await store.pause(BOT, 2)  # a shorter pause never shortens a longer one
    assert await store.paused_for(BOT) == pytest.approx(5.0)
    clock.now += 5.0
    assert await store.paused_for(BOT) == 0
    assert approx(await store.reserve(BOT, 1)) == (True, 0.0)


async def test_two_workers_on_one_redis_share_the_budget(redis_url: str,
                                                         clock: FakeClock) -> None:
    first = RedisBuckets.from_url(redis_url, LIMITS, clock=clock)
    second = RedisBuckets.from_url(redis_url, LIMITS, clock=clock)
    try:
        grants = [approx(await worker.reserve(BOT, chat))
                  for chat, worker in enumerate([first, second] * 3)]
        assert grants == [(True, 0.0), (True, 0.0), (True, 0.0), (True, 0.1), (True, 0.2),
                          (True, 0.3)]
        # One chat's bucket is shared too, and so is a pause.
        clock.now += 2.0
        assert (await first.reserve(BOT, 77)).granted
        assert (await second.reserve(BOT, 77)).granted
        assert approx(await first.reserve(BOT, 77)) == (False, 1.0)
        await first.pause(BOT, 4)
        assert approx(await second.reserve(BOT, 78)) == (False, 4.0)
        # Keys expire a second after their bucket is full again; the bot id is a hash tag
        # (one Redis Cluster slot for all the keys a script touches).
        keys = {k if isinstance(k, str) else k.decode() for k in await first.redis.keys("*")}
        assert {"chatshop:tg:{111}:overall", "chatshop:tg:{111}:chat:77",
                "chatshop:tg:{111}:pause"} <= keys
        assert all(key.startswith("chatshop:tg:{111}:") for key in keys)
        assert 0 < await first.redis.pttl("chatshop:tg:{111}:pause") <= 5_000
        assert 0 < await first.redis.pttl("chatshop:tg:{111}:chat:77") <= 3_000
    finally:
        await first.close()
        await second.close()


async def test_redis_time_is_used_when_no_clock_is_given(redis_url: str) -> None:
    buckets = RedisBuckets.from_url(redis_url, LIMITS)
    try:
        assert [approx(await buckets.reserve(BOT, 3))[0] for _ in range(3)] == [
            True, True, False]
        await buckets.pause(BOT, 30)
        assert 29 < await buckets.paused_for(BOT) <= 30
    finally:
        await buckets.close()


async def test_redis_away_falls_back_to_this_process_and_comes_back(
        redis_server: RedisServer, redis_url: str, clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    nowhere = RedisBuckets.from_url(f"redis://127.0.0.1:{free_port()}/0", LIMITS, clock=clock)
    with caplog.at_level(logging.WARNING, "bot.telegram_limits.redis_buckets"):
        assert approx(await nowhere.reserve(BOT, 1)) == (True, 0.0)
        assert approx(await nowhere.reserve(BOT, 1)) == (True, 0.0)
        assert approx(await nowhere.reserve(BOT, 1)) == (False, 1.0)  # limited locally
        await nowhere.pause(BOT, 3)
        assert await nowhere.paused_for(BOT) > 2
    assert nowhere.degraded
    assert [r.message for r in caplog.records].count(
        "Redis unreachable for Telegram rate limits (ConnectionError); limiting in this "
        "process only until it answers") == 1
    await nowhere.close()

    shared = RedisBuckets.from_url(redis_url, LIMITS, clock=clock)
    try:
        assert approx(await shared.reserve(BOT, 2)) == (True, 0.0)
        redis_server.restart()  # the script cache and the buckets are gone
        for chat in (3, 4, 5):
            grant = await shared.reserve(BOT, chat)  # reconnects, reloads the script
            assert grant.granted
        assert not shared.degraded
        assert await shared.redis.exists("chatshop:tg:{111}:chat:5")
    finally:
        await shared.close()


# -- which methods wait -----------------------------------------------------------------------
def test_messages_are_limited_and_answers_edits_and_polling_are_not() -> None:
    for name in ("sendMessage", "sendPhoto", "sendMediaGroup", "sendInvoice", "sendDocument",
                 "sendVideo", "sendSticker", "sendPoll", "copyMessage", "copyMessages",
                 "forwardMessage", "forwardMessages", "sendPaidMedia", "sendGift"):
        assert is_limited(name), name
    for name in ("answerCallbackQuery", "answerPreCheckoutQuery", "answerShippingQuery",
                 "answerInlineQuery", "editMessageText", "editMessageReplyMarkup",
                 "editMessageMedia", "deleteMessage", "getUpdates", "getMe", "sendChatAction",
                 "sendMessageDraft", "setMyCommands", "refundStarPayment"):
        assert not is_limited(name), name
    album = SendMediaGroup(chat_id=5, media=[InputMediaPhoto(media="a"),
                                             InputMediaPhoto(media="b")])
    assert target_of(album) == Target(5, 2)
    forwarded = target_of(ForwardMessage(chat_id="@news", from_chat_id=1, message_id=2))
    assert forwarded is not None and (forwarded.chat, forwarded.cost) == ("@news", 1)
    assert target_of(AnswerCallbackQuery(callback_query_id="1")) is None


# -- the middleware ---------------------------------------------------------------------------
class Recorder:
    """Stands in for the HTTP request: records the methods that got through."""

    def __init__(self, clock: FakeClock, fail_with: int | None = None) -> None:
        self.clock = clock
        self.sent: list[tuple[str, float]] = []
        self.fail_with = fail_with

    async def __call__(self, bot: Bot, method: TelegramMethod[Any]) -> Response[Any]:
        if self.fail_with is not None:
            retry_after, self.fail_with = self.fail_with, None
            raise TelegramRetryAfter(method, f"Too Many Requests: retry after {retry_after}",
                                     retry_after)
        self.sent.append((method.__api_method__, self.clock.now))
        return Response[Any](ok=True, result=True)


@pytest.fixture
def bot() -> Iterator[Bot]:
    yield Bot(f"{BOT}:TEST-not-a-real-token")


async def test_answers_edits_and_polling_never_wait_even_while_paused(
        bot: Bot, clock: FakeClock) -> None:
    buckets = MemoryBuckets(LIMITS, clock=clock)
    limiter = SendLimiter(buckets, sleep=clock.sleep)
    request = Recorder(clock)
    await buckets.pause(BOT, 60)
    instant: list[TelegramMethod[Any]] = [
        AnswerCallbackQuery(callback_query_id="1", text="Added"),
        EditMessageText(chat_id=5, message_id=1, text="x"),
        DeleteMessage(chat_id=5, message_id=1), GetUpdates(offset=1, timeout=25),
        AnswerPreCheckoutQuery(pre_checkout_query_id="q", ok=True),
        AnswerShippingQuery(shipping_query_id="s", ok=False, error_message="no"),
        SendChatAction(chat_id=5, action="typing")]
    for method in instant:
        await limiter(request, bot, method)
    assert clock.slept == [] and len(request.sent) == len(instant)
    # A message waits out the pause.
    await limiter(request, bot, SendMessage(chat_id=5, text="hello"))
    assert clock.slept == [60.0] and request.sent[-1] == ("sendMessage", 1_060.0)


async def test_messages_wait_for_their_slot(bot: Bot, clock: FakeClock) -> None:
    limiter = SendLimiter(MemoryBuckets(LIMITS, clock=clock), sleep=clock.sleep)
    request = Recorder(clock)
    invoice = SendInvoice(chat_id=6, title="T", description="D", payload="p", currency="EUR",
                          prices=[LabeledPrice(label="T", amount=100)])
    for method in (SendMessage(chat_id=5, text="a"), SendPhoto(chat_id=5, photo="f"),
                   SendDocument(chat_id=5, document="d"), invoice,
                   CopyMessage(chat_id=7, from_chat_id=5, message_id=1),
                   ForwardMessage(chat_id=8, from_chat_id=5, message_id=1)):
        await limiter(request, bot, method)
    # Chat 5 spends its burst of 2 and its third message waits a second for a token; by
    # then the overall bucket is full again, lets 3 through at once, and the 4th waits 1/10 s.
    assert request.sent == [("sendMessage", 1000.0), ("sendPhoto", 1000.0),
                            ("sendDocument", 1001.0), ("sendInvoice", 1001.0),
                            ("copyMessage", 1001.0), ("forwardMessage", pytest.approx(1001.1))]
    assert limiter.waited_s == pytest.approx(1.1)


async def test_a_429_pauses_every_send_of_the_bot(bot: Bot, clock: FakeClock) -> None:
    buckets = MemoryBuckets(LIMITS, clock=clock)
    limiter = SendLimiter(buckets, sleep=clock.sleep)
    with pytest.raises(TelegramRetryAfter):  # the retry middleware outside retries it
        await limiter(Recorder(clock, fail_with=7), bot, SendMessage(chat_id=5, text="a"))
    assert limiter.pauses == 1 and await buckets.paused_for(BOT) == 7
    request = Recorder(clock)
    await limiter(request, bot, SendMessage(chat_id=8, text="another chat"))
    assert request.sent == [("sendMessage", 1007.0)]
    # A 429 on an answer pauses the messages too, but the answers themselves stay instant.
    with pytest.raises(TelegramRetryAfter):
        await limiter(Recorder(clock, fail_with=3), bot,
                      AnswerCallbackQuery(callback_query_id="1"))
    await limiter(request, bot, AnswerCallbackQuery(callback_query_id="2"))
    assert request.sent[-1] == ("answerCallbackQuery", 1007.0)


async def test_a_pause_that_starts_while_a_sender_waits_holds_it_too(
        bot: Bot, clock: FakeClock) -> None:
    buckets = MemoryBuckets(LIMITS, clock=clock)

    async def sleep_and_meet_a_429(seconds: float) -> None:
        await clock.sleep(seconds)
        if len(clock.slept) == 1:  # another sender got a 429 meanwhile
            await buckets.pause(BOT, 5)

    limiter = SendLimiter(buckets, sleep=sleep_and_meet_a_429)
    request = Recorder(clock)
    for chat in (1, 2, 3):
        await limiter(request, bot, SendMessage(chat_id=chat, text="burst"))
    await limiter(request, bot, SendMessage(chat_id=4, text="queued"))
    assert clock.slept == [0.1, 5.0]
    assert request.sent[-1][0] == "sendMessage"
    assert request.sent[-1][1] == pytest.approx(1005.1)


# -- replies: the chat's bucket only ------------------------------------------------------------
async def test_a_reply_takes_its_chats_bucket_only(store: BucketStore, clock: FakeClock) -> None:
    # Six replies in six chats at once: the overall bucket (burst 3, 10/s) holds none of them.
    assert [approx(await store.reserve(BOT, chat, reply=True)) for chat in range(1, 7)] == [
        (True, 0.0)] * 6
    # ...and they did not spend it: unsolicited sends still find its burst of 3.
    assert [approx(await store.reserve(BOT, chat)) for chat in range(7, 11)] == [
        (True, 0.0), (True, 0.0), (True, 0.0), (True, 0.1)]
    # The chat's bucket still counts, replies and unsolicited messages together.
    assert approx(await store.reserve(BOT, 7, reply=True)) == (True, 0.0)
    assert approx(await store.reserve(BOT, 7, reply=True)) == (False, 1.0)
    assert approx(await store.reserve(BOT, 1, reply=True, cost=2)) == (False, 1.0)
    # A 429 pause holds replies too.
    await store.pause(BOT, 5)
    assert approx(await store.reserve(BOT, 20, reply=True)) == (False, 5.0)
    clock.now += 5.0
    assert approx(await store.reserve(BOT, 20, reply=True)) == (True, 0.0)


async def test_only_sends_to_the_chat_of_the_update_in_hand_are_replies(
        bot: Bot, clock: FakeClock) -> None:
    limiter = SendLimiter(MemoryBuckets(LIMITS, clock=clock), sleep=clock.sleep)
    request = Recorder(clock)
    assert not is_reply(BOT, 5)
    with answering(BOT, 5):
        assert is_reply(BOT, 5)
        assert not is_reply(BOT, 6) and not is_reply(OTHER_BOT, 5) and not is_reply(BOT, None)
        for n in range(2):  # the chat's burst, past the overall bucket's: no wait
            await limiter(request, bot, SendMessage(chat_id=5, text=f"reply {n}"))
        for chat in (6, 7, 8, 9):  # other chats while handling chat 5's update: unsolicited
            await limiter(request, bot, SendMessage(chat_id=chat, text="notice"))
    assert not is_reply(BOT, 5)
    assert request.sent == [("sendMessage", 1000.0)] * 5 + [
        ("sendMessage", pytest.approx(1000.1))]
    # Once the update is handled, a send to its chat is unsolicited again: it waits for the
    # chat's bucket (the replies spent it) and then for the overall bucket.
    await limiter(request, bot, SendMessage(chat_id=10, text="a notification"))
    assert request.sent[-1] == ("sendMessage", pytest.approx(1000.2))
    await limiter(request, bot, SendMessage(chat_id=5, text="a notification"))
    assert request.sent[-1] == ("sendMessage", pytest.approx(1001.0))
    assert limiter.waited_s == pytest.approx(1.0)  # the clock ran from 1000 to 1001
