"""The session middleware that keeps a bot's outgoing messages within Telegram's limits.

Registered on the bot's session after ``RetryMiddleware`` (so inside it), it runs for every
attempt: a call that adds a message (``policy.is_limited``) first reserves its slot in the
buckets and sleeps until then; anything else (callback answers, edits, ``getUpdates``,
pre-checkout and shipping answers) goes straight through. When Telegram still answers 429,
the whole bot is paused for its ``retry_after`` in the store, so every sender of the bot,
in every worker sharing the store, holds back — replies included; the retry middleware then
retries the call. Messages are delayed, never dropped.

Replies and unsolicited messages are limited differently:

* A **reply** — a message to the chat whose update the bot is handling, sent while handling
  it (``replies.is_reply``: the dispatcher's ``ReplyContextMiddleware`` marks the update's
  handling, and this middleware runs in the handler's task, so it sees the mark) — passes
  its chat's bucket only.
* An **unsolicited** message — a notification from the shop's events, a staff alert, a
  broadcast: anything sent outside an update's handling, or to another chat, or by another
  bot than the one handling the update — passes its chat's bucket and the bot's overall
  bucket (about 30 a second).

Why: Telegram's "about 30 messages per second" is its guidance for *bulk notifications to
many users*; a bot answering the people who write to it is limited by the per-chat rate
and, if it ever overdoes it, by 429 answers with ``retry_after``. Holding replies to 30 a
second too made the overall bucket, not the CPU, the ceiling of a busy worker: about 4
updates in 7 answer with a new message, so a worker topped out near 50 updates a second
while Telegram would have taken more. A reply is still one message in one chat whose
customer just wrote, so it cannot fan out; whatever fans out (events, alerts, broadcasts)
happens outside an update's handling or to other chats, and stays at 30 a second. Replies
do not spend the overall bucket either, so a busy hour of conversations never starves the
notifications: they add up to at most 30 a second on top of the replies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.telegram_limits.buckets import BucketStore, MemoryBuckets
from bot.telegram_limits.policy import TelegramLimits, target_of
from bot.telegram_limits.replies import is_reply

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]
MIN_RETRY_S = 0.001


class SendLimiter(BaseRequestMiddleware):
    """Waits for the buckets before each message; one instance may serve several bots
    (buckets are per bot id)."""

    def __init__(self, store: BucketStore | None = None, *,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.store: BucketStore = store or MemoryBuckets()
        self._sleep = sleep
        self.waited_s = 0.0  # total time senders spent waiting (a metric)
        self.pauses = 0  # 429 answers seen

    @classmethod
    def in_process(cls, limits: TelegramLimits | None = None) -> SendLimiter:
        return cls(MemoryBuckets(limits))

    @classmethod
    def shared(cls, redis_url: str, limits: TelegramLimits | None = None) -> SendLimiter:
        """Buckets in Redis, shared by every worker using the same URL."""
        from bot.telegram_limits.redis_buckets import RedisBuckets

        return cls(RedisBuckets.from_url(redis_url, limits))

    async def acquire(self, bot_id: int, chat: int | str | None, cost: int = 1, *,
                      reply: bool = False) -> float:
        """Wait until the bot may send ``cost`` messages to ``chat`` (a ``reply``: its chat's
        bucket only); returns the wait."""
        waited = 0.0
        while True:
            grant = await self.store.reserve(bot_id, chat, cost, reply=reply)
            # Not granted: come back later, never sooner than 1 ms (no busy loop on rounding).
            delay = grant.delay if grant.granted else max(grant.delay, MIN_RETRY_S)
            if delay > 0:
                await self._sleep(delay)
                waited += delay
            if not grant.granted:
                continue
            # A 429 seen by another sender while this one waited for its slot: hold on too
            # (the slot is given up; the reservation after the pause takes a new one).
            if grant.delay > 0 and await self.store.paused_for(bot_id) > 0:
                continue
            self.waited_s += waited
            return waited

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        target = target_of(method)
        if target is not None:
            await self.acquire(bot.id, target.chat, target.cost,
                               reply=is_reply(bot.id, target.chat))
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as error:
            log.warning("Telegram flood control on %s: every send of bot %s waits %s s",
                        type(method).__name__, bot.id, error.retry_after)
            await self.store.pause(bot.id, error.retry_after)
            self.pauses += 1
            raise

    async def close(self) -> None:
        await self.store.close()


def make_limiter(redis_url: str | None, limits: TelegramLimits | None = None) -> SendLimiter:
    """Shared through Redis when ``REDIS_URL`` is set (several workers), else in-process.
    Pass the same limiter to every ``make_bot`` of one bot token in a process."""
    if redis_url:
        return SendLimiter.shared(redis_url, limits)
    return SendLimiter.in_process(limits)
