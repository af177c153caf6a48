"""Outgoing Telegram calls retried instead of lost: a 429 waits the `retry_after` Telegram
asks for, a network error backs off; each a bounded number of times.

Register it before `bot.telegram_limits.SendLimiter` (outermost first), as `make_bot` does:
every attempt then passes through the limiter, which on a 429 pauses all the bot's sends
(in every worker sharing its Redis) for the same `retry_after`, so a retried message
queues behind the pause instead of meeting another 429."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

log = logging.getLogger(__name__)
ATTEMPTS = 4
MAX_WAIT_S = 30.0
NETWORK_BACKOFF_S = (0.5, 1.0, 2.0)


class RetryMiddleware(BaseRequestMiddleware):
    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        name: Any = type(method).__name__
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if attempt == ATTEMPTS or error.retry_after > MAX_WAIT_S:
                    raise
                log.warning("%s: Telegram asks to wait %s s (attempt %d)", name,
                            error.retry_after, attempt)
                await asyncio.sleep(error.retry_after)
            except TelegramNetworkError as error:
                if attempt == ATTEMPTS:
                    raise
                delay = NETWORK_BACKOFF_S[min(attempt - 1, len(NETWORK_BACKOFF_S) - 1)]
                log.warning("%s: network error %s, retrying in %s s", name, error, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
