"""Who may use the staff bot: the core decides (STAFF_IDS and staff added by owners). Anyone
else gets one polite refusal in a while (`admin_bot.refusals`), and every attempt is
logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from weakref import WeakValueDictionary

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, User

from admin_bot.context import AdminDeps, Staff
from admin_bot.refusals import InProcessRefusals, Refusals
from bot.i18n import Translator, pick_language

log = logging.getLogger(__name__)


class StaffMiddleware(BaseMiddleware):
    """Puts `staff` (a Staff) and `deps` into the handler data, or refuses the update.

    Updates from one staff member are handled one at a time, so a double tap never runs two
    actions on the same order at once from the same person.
    """

    def __init__(self, deps: AdminDeps, refusals: Refusals | None = None) -> None:
        self._deps = deps
        self._locks: WeakValueDictionary[int, asyncio.Lock] = WeakValueDictionary()
        self._refusals = refusals or InProcessRefusals()

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or user.is_bot:
            return None
        actor = await self._deps.shop.staff.actor_for(user.id)
        language = pick_language(user.language_code, self._deps.shop.settings.default_language)
        t = Translator(language)
        if actor is None:
            await self._refuse(event, user, t)
            return None
        chat_id = _chat_id(event) or user.id
        lock = self._locks.get(user.id)
        if lock is None:
            lock = self._locks[user.id] = asyncio.Lock()
        async with lock:
            data["staff"] = Staff(actor, t, chat_id)
            data["deps"] = self._deps
            return await handler(event, data)

    async def _refuse(self, event: TelegramObject, user: User, t: Translator) -> None:
        log.warning("staff bot: refused %s from Telegram user %s", type(event).__name__, user.id)
        text = t("Sorry, this bot is only for the staff of {shop}.",
                 shop=self._deps.shop.settings.shop_name)
        if isinstance(event, CallbackQuery):
            await event.answer(text, show_alert=True)  # a button press must always be answered
            return
        if not isinstance(event, Message) or event.chat.type != "private":
            return  # never chat back to strangers in a group
        if await self._refusals.first_in_window(user.id):
            await event.answer(text)


def _chat_id(event: TelegramObject) -> int | None:
    if isinstance(event, Message):
        return event.chat.id
    if isinstance(event, CallbackQuery) and event.message is not None:
        return event.message.chat.id
    return None
