"""Which updates a dispatcher is handling right now, so a shutdown can let them finish.

aiogram's polling starts a task per update and forgets it when polling stops; a webhook
answers Telegram before the update is handled. Either way, stopping the process at once
would cut a customer's checkout in half. ``TrackedDispatcher`` records every update task
it handles; ``InFlight.drain`` waits for them, up to a deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.methods import TelegramMethod
from aiogram.types import Update

from bot.handlers.chat_lock import LeasedChatLock

log = logging.getLogger(__name__)
T = TypeVar("T")


class InFlight:
    """Tasks handling updates, each with a label for the log."""

    def __init__(self) -> None:
        self._tasks: dict[asyncio.Task[Any], str] = {}

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, T], label: str) -> asyncio.Task[T]:
        """Run `coro` in a task tracked until it ends."""
        task = asyncio.create_task(coro)
        self._adopt(task, label)
        return task

    def adopt_current(self, label: str) -> None:
        """Track the running task (one aiogram created) until it ends."""
        task = asyncio.current_task()
        if task is not None:
            self._adopt(task, label)

    def _adopt(self, task: asyncio.Task[Any], label: str) -> None:
        if task not in self._tasks:
            self._tasks[task] = label
            task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.pop(task, None)

    async def drain(self, within: float) -> list[str]:
        """Wait for the tracked tasks (and any they start meanwhile) for up to `within`
        seconds; cancel what is left and return its labels."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        me = asyncio.current_task()
        while pending := [task for task in self._tasks if task is not me]:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.wait(pending, timeout=remaining)
        abandoned = {task: label for task, label in self._tasks.items() if task is not me}
        for task in abandoned:
            task.cancel()
        await asyncio.gather(*abandoned, return_exceptions=True)
        return sorted(abandoned.values())


class TrackedDispatcher(Dispatcher):
    """A Dispatcher that records the updates in hand in ``in_flight``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.in_flight = InFlight()

    @classmethod
    async def silent_call_request(cls, bot: Bot, result: TelegramMethod[Any]) -> None:
        """Call a method a handler answered with (polling, or a webhook whose reply could not
        carry it). Nobody reads the result: one Telegram refuses, typically a button press
        answered too late, is logged as such rather than as aiogram's error."""
        try:
            await bot(result)
        except TelegramAPIError as error:
            log.info("%s refused: %s", result.__api_method__, error.message)

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        """Handle one update as aiogram does, tracked for the shutdown."""
        # Runs before the first await of the task aiogram's polling created for this update.
        self.in_flight.adopt_current(f"update {update.update_id} of bot {bot.id}")
        return await super().feed_update(bot, update, **kwargs)


def make_dispatcher(storage: BaseStorage | None = None, *,
                    chat_lease_s: float) -> TrackedDispatcher:
    """A dispatcher on `storage` (memory by default). With Redis storage (several workers),
    updates of one chat are also serialized across processes by a Redis lock around each
    update, held on a lease of `chat_lease_s` (see ``chat_lock``); in one process the
    conversation middleware's per-user lock already does it."""
    storage = storage or MemoryStorage()
    if isinstance(storage, RedisStorage):
        isolation = LeasedChatLock(storage.redis, storage.key_builder, chat_lease_s)
        return TrackedDispatcher(storage=storage, events_isolation=isolation)
    return TrackedDispatcher(storage=storage)
