"""The Bot API session of every Chatshop bot: aiogram's aiohttp session, sending each request
as one JSON body (as the Bot API accepts) rather than a form, keeping each bot within
Telegram's limits and retrying what can be retried."""

from __future__ import annotations

import json
from typing import Any, cast

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import ClientError, ClientTimeout

from bot.handlers.retry import RetryMiddleware
from bot.telegram_limits import SendLimiter

_JSON = {"Content-Type": "application/json"}


class _NotPlain(Exception):
    """A value json cannot write as it is (a file, a nested default, a model)."""


def _refuse(value: object) -> object:
    raise _NotPlain(type(value).__name__)


def _dumps(fields: dict[str, Any]) -> bytes:
    """The fields as JSON, leaving out empty ones as aiogram's form does."""
    return json.dumps({key: value for key, value in fields.items()
                       if value is not None and value != ""}, default=_refuse).encode()


class JsonSession(AiohttpSession):
    """Requests with no file to upload go as ``application/json``: one `json.dumps` of the
    method's fields, where aiogram's form encodes each field as JSON and then URL-quotes it
    (about a fifth of the client's CPU per call). Requests uploading a file stay multipart."""

    def json_body(self, bot: Bot, method: TelegramMethod[Any]) -> bytes | None:
        """The request as a JSON body, or None when it uploads a file."""
        fields = {key: bot.default[value.name] if isinstance(value, Default) else value
                  for key, value in method.model_dump(exclude_none=True, warnings=False).items()}
        try:
            return _dumps(fields)
        except _NotPlain:
            pass
        # Something nested needs aiogram's own preparation (a default inside an input media,
        # a file to attach, an enum, a date): let it prepare every field.
        files: dict[str, Any] = {}
        prepared = {key: self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
                    for key, value in method.model_dump(warnings=False).items()}
        return None if files else _dumps(prepared)

    async def make_request(self, bot: Bot, method: TelegramMethod[TelegramType],
                           timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
                           ) -> TelegramType:
        body = self.json_body(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            seconds = self.timeout if timeout is None else timeout
            async with session.post(url, data=body, headers=_JSON,
                                    timeout=ClientTimeout(total=seconds)) as resp:
                raw = await resp.text()
        except TimeoutError as error:
            raise TelegramNetworkError(method=method, message="Request timeout error") from error
        except ClientError as error:
            raise TelegramNetworkError(method=method,
                                       message=f"{type(error).__name__}: {error}") from error
        response = self.check_response(bot=bot, method=method, status_code=resp.status,
                                       content=raw)
        return cast(TelegramType, response.result)


# `Response[T]` for every result type T this process has met, held strongly (see below).
_RESPONSE_TYPES: dict[Any, Any] = {}


class KeepResponseTypes(BaseRequestMiddleware):
    """Keeps aiogram's parametrized `Response[T]` classes alive.

    `BaseSession.check_response` validates each answer with `Response[method.__returning__]`;
    pydantic caches parametrized generic models only weakly, so after a garbage collection
    the next call builds `Response[Message]` again (milliseconds each, a tenth of the CPU of
    a busy worker). One strong reference per result type stops that."""

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in _RESPONSE_TYPES:
            _RESPONSE_TYPES[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)


def make_session(api_base: str, limiter: SendLimiter | None = None) -> JsonSession:
    """A session talking to `api_base` (Telegram, a self-hosted Bot API server, or a test
    fake), its messages kept within Telegram's limits by `limiter` (default: this process
    only; `SendLimiter.shared(redis_url)` for several workers)."""
    session = JsonSession(api=TelegramAPIServer.from_base(api_base))
    session.middleware(KeepResponseTypes())
    session.middleware(RetryMiddleware())  # then retries, each passing the limiter again
    session.middleware(limiter or SendLimiter.in_process())
    return session
