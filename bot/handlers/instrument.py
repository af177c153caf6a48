"""Per-update metrics and context for a bot's dispatcher: an outer middleware on
`dispatcher.update` counts and times each update, counts the ones whose handler raised
(and re-raises), and logs everything inside the update with its `update_id`, `bot` and
`user_id`; inside it, `ReplyContextMiddleware` marks the update's handling as answering its
chat, so the rate limiter lets the bot's replies there pass the chat's bucket only (see
`bot.telegram_limits.limiter`). A session middleware counts the bot's Bot API calls by
outcome."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, Update, User
from aiogram.types.update import UpdateTypeLookupError

from bot.telegram_limits.replies import ReplyContextMiddleware
from shop.logs import log_context
from shop.web.metrics import Metrics

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def update_type(update: Update) -> str:
    """`message`, `callback_query`, `pre_checkout_query` … or `unknown`."""
    try:
        return update.event_type
    except UpdateTypeLookupError:
        return "unknown"


class InstrumentMiddleware(BaseMiddleware):
    """Counts, times and puts in the log context every update one bot handles."""

    def __init__(self, bot_name: str, metrics: Metrics) -> None:
        self.bot_name = bot_name
        self.metrics = metrics

    async def __call__(self, handler: Handler, event: TelegramObject,
                       data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        user = data.get("event_from_user")
        user_id = user.id if isinstance(user, User) else None
        kind = update_type(event)
        started = time.perf_counter()
        failed = False
        try:
            with log_context(update_id=event.update_id, bot=self.bot_name, user_id=user_id):
                return await handler(event, data)
        except Exception:  # counted, then raised on to aiogram's error handling
            failed = True
            raise
        finally:
            self.metrics.update_handled(self.bot_name, kind, time.perf_counter() - started,
                                        failed=failed)


class ApiCallMetrics(BaseRequestMiddleware):
    """Counts each attempt at a Bot API call by outcome. Registered innermost (after the
    retries and the limiter), so a 429 retried and then sent counts once of each."""

    def __init__(self, bot_name: str, metrics: Metrics) -> None:
        self.bot_name = bot_name
        self.metrics = metrics

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        try:
            response = await make_request(bot, method)
        except TelegramRetryAfter:
            self.metrics.bot_api_called(self.bot_name, "rate_limited")
            raise
        except TelegramNetworkError:
            self.metrics.bot_api_called(self.bot_name, "network_error")
            raise
        except TelegramServerError:  # Telegram's own 5xx
            self.metrics.bot_api_called(self.bot_name, "server_error")
            raise
        except TelegramAPIError:  # a bad request, a blocked bot, a chat gone
            self.metrics.bot_api_called(self.bot_name, "refused")
            raise
        self.metrics.bot_api_called(self.bot_name, "ok")
        return response


def instrument(dispatcher: Dispatcher, bot_name: str, metrics: Metrics,
               bot: Bot | None = None) -> None:
    """Count, time and log-tag every update `dispatcher` handles as bot `bot_name`, and
    tell the rate limiter which chat each update's handling answers; with `bot`, also count
    its Bot API calls."""
    dispatcher.update.outer_middleware(InstrumentMiddleware(bot_name, metrics))
    dispatcher.update.outer_middleware(ReplyContextMiddleware())
    if bot is not None:
        bot.session.middleware(ApiCallMetrics(bot_name, metrics))
