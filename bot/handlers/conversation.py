"""Per update: who the customer is, their conversation, and one update at a time per chat."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from weakref import WeakValueDictionary

from aiogram import BaseMiddleware
from aiogram.fsm.context import FSMContext
from aiogram.types import TelegramObject, User

from bot.flows.context import Capabilities, Conversation, Deps
from bot.i18n import pick_language

log = logging.getLogger(__name__)
TELEGRAM = Capabilities(invoices=True, inline_photos=True, max_buttons=100,
                        edits_in_place=True)
STATE_KEY = "flow"
# How long the customer looked up for an update is reused for the next ones (one lookup
# fewer per update). A language change in this process shows at once; one made while the
# customer talks to another worker shows here within this time.
CUSTOMER_MAX_AGE_S = 15.0


class ConversationMiddleware(BaseMiddleware):
    """Loads the customer and their conversation for handlers as `convo`, saves it after.

    Updates from one customer are handled one at a time, so two quick taps never
    read and write the same conversation state at once: in this process by the lock below;
    across worker processes by the dispatcher's Redis event isolation (see
    `bot.handlers.in_flight.make_dispatcher`), which aiogram takes before this middleware
    runs, so the two locks are always taken in the same order.
    """

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._locks: WeakValueDictionary[int, asyncio.Lock] = WeakValueDictionary()

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        state: FSMContext | None = data.get("state")
        if user is None or user.is_bot:
            return await handler(event, data)
        lock = self._locks.get(user.id)
        if lock is None:
            lock = self._locks[user.id] = asyncio.Lock()
        async with lock:
            customer = await self._deps.shop.customers.get_or_create(
                "telegram", str(user.id), name=user.full_name[:200],
                language=pick_language(user.language_code,
                                       self._deps.shop.settings.default_language),
                max_age=CUSTOMER_MAX_AGE_S)
            stored: dict[str, Any] = await state.get_data() if state else {}
            saved: dict[str, Any] = stored.get(STATE_KEY, {})
            # A deep copy: flows change nested parts in place (the checkout's progress), and
            # a shallow one would share them with `saved`, hiding the change from the
            # comparison below (memory storage hid it too; Redis lost it).
            convo = Conversation(customer.id, pick_language(customer.language), "telegram",
                                 copy.deepcopy(saved), TELEGRAM, name=user.first_name)
            data["convo"] = convo
            data["deps"] = self._deps
            try:
                return await handler(event, data)
            finally:
                if state is not None and convo.state != saved:
                    # What was read above is current: this chat's updates are handled one at
                    # a time. One write instead of update_data's read and write (a Redis
                    # round trip fewer per update that changes the conversation).
                    await state.set_data({**stored, STATE_KEY: convo.state})
