"""The session middleware that keeps a bot's outgoing messages within Telegram's limits.

Registered on the bot's session after ``RetryMiddleware`` (so inside it), it runs for every
attempt: a call that adds a message (``policy.is_limited``) first reserves its slot in the
buckets and sleeps until then; anything else (callback answers, edits, ``getUpdates``,
pre-checkout and shipping answers) goes straight through. When Telegram still answers 429,
the whole bot is paused for its ``retry_after`` in the store, so every sender of the bot,
in every worker sharing the store, holds back; the retry middleware then retries the call.
Messages are delayed, never dropped.
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

    async def acquire(self, bot_id: int, chat: int | str | None, cost: int = 1) -> float:
        """Wait until the bot may send ``cost`` messages to ``chat``; returns the wait."""
        waited = 0.0
        while True:
            grant = await self.store.reserve(bot_id, chat, cost)
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
            await self.acquire(bot.id, target.chat, target.cost)
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
