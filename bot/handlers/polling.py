"""Long polling for one bot until a stop event, with companion tasks stopped alongside."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from aiogram import Bot, Dispatcher

from bot.handlers.in_flight import TrackedDispatcher

log = logging.getLogger(__name__)
DRAIN_TIMEOUT_S = 20.0


async def poll_until(stop: asyncio.Event, dispatcher: Dispatcher, bot: Bot,
                     allowed_updates: Sequence[str],
                     companions: Sequence[Coroutine[Any, Any, None]] = (), *,
                     drain_timeout: float = DRAIN_TIMEOUT_S) -> None:
    """Take updates until `stop` is set while `companions` (which watch `stop` themselves)
    run beside; then stop polling, let the updates in hand finish (up to `drain_timeout`
    seconds), wait for everything and close the bot's session."""
    tasks = [asyncio.create_task(companion) for companion in companions]
    polling: asyncio.Task[None] | None = None
    try:
        await bot.delete_webhook(drop_pending_updates=False)
        polling = asyncio.create_task(dispatcher.start_polling(
            bot, handle_signals=False, allowed_updates=list(allowed_updates),
            close_bot_session=False))
        await stop.wait()
    finally:
        if polling is not None:
            try:
                await dispatcher.stop_polling()
            except RuntimeError:  # polling never started (stopped at once)
                polling.cancel()
            tasks.append(polling)
        if isinstance(dispatcher, TrackedDispatcher):
            await drain(dispatcher, bot, drain_timeout)
        if not stop.is_set():  # failed before the stop: end the companions too
            for task in tasks:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bot.session.close()


async def drain(dispatcher: TrackedDispatcher, bot: Bot, within: float) -> None:
    """Let the dispatcher's updates in hand finish (up to `within` seconds); log what had to
    be abandoned."""
    abandoned = await dispatcher.in_flight.drain(within)
    if abandoned:
        log.warning("bot %s stopped with %d update(s) unfinished after %.0f s: %s", bot.id,
                    len(abandoned), within, ", ".join(abandoned))
