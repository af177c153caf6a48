"""Which sends are replies: a message to the chat whose update this bot is handling, while
it handles it.

The dispatcher middleware below puts ``(bot id, chat id)`` of the update in hand in a
context variable for the duration of its handling. Everything the handlers await runs in
that context, including aiogram's session middlewares (``bot.send_message`` awaits
``session(bot, method)`` in the handler's own task) and tasks started meanwhile
(``asyncio.gather`` or ``create_task`` copy the context), so the limiter can ask
``is_reply(bot_id, chat)`` for each send. Sends made anywhere else — the event relay's
notifications, staff alerts, broadcasts, a message to another chat or from another bot while
an update is handled — are not replies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import Chat, TelegramObject, User

_ANSWERING: ContextVar[tuple[int, int] | None] = ContextVar("chatshop_answering", default=None)


@contextmanager
def answering(bot_id: int, chat_id: int) -> Iterator[None]:
    """Sends of bot ``bot_id`` to ``chat_id`` inside this block are replies."""
    token = _ANSWERING.set((bot_id, chat_id))
    try:
        yield
    finally:
        _ANSWERING.reset(token)


def is_reply(bot_id: int, chat: int | str | None) -> bool:
    """Whether a send of ``bot_id`` to ``chat`` answers the update being handled here."""
    current = _ANSWERING.get()
    return current is not None and chat is not None and current == (bot_id, chat)


def update_chat(data: dict[str, Any]) -> int | None:
    """The chat an update came from (aiogram's ``event_chat``), or for an update without a
    chat (a press on an inline-mode message, a pre-checkout query) the user's private chat."""
    chat = data.get("event_chat")
    if isinstance(chat, Chat):
        return chat.id
    user = data.get("event_from_user")
    return user.id if isinstance(user, User) else None


class ReplyContextMiddleware(BaseMiddleware):
    """An outer middleware on ``dispatcher.update``: the update's handling is ``answering``
    its chat."""

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        bot = data.get("bot")
        chat = update_chat(data)
        if not isinstance(bot, Bot) or chat is None:
            return await handler(event, data)
        with answering(bot.id, chat):
            return await handler(event, data)
