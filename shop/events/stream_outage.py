"""Noticing that Redis went away and came back, and waiting it out without spinning."""

from __future__ import annotations

import asyncio
import logging

from shop.redaction import describe_error

log = logging.getLogger(__name__)


class Outage:
    """Whether Redis is unreachable; logs once when it goes and once when it is back.

    Several loops share one instance. A loop takes :meth:`mark` before a pass and hands it
    to :meth:`back` after a success, so a pass that began before the outage was noticed and
    happened to finish does not announce a recovery.
    """

    def __init__(self, min_pause_s: float, max_pause_s: float) -> None:
        """Pauses between tries start at ``min_pause_s`` and double up to ``max_pause_s``."""
        self.down = False
        self.min_pause_s = min_pause_s
        self._max_pause_s = max_pause_s
        self._count = 0
        self._back = asyncio.Event()

    def mark(self) -> int:
        """A token for :meth:`back`: which outage, if any, came before the pass."""
        return self._count

    def noticed(self, error: BaseException) -> None:
        """Record a failure to reach Redis; warn if it starts an outage."""
        self._back.clear()
        if not self.down:
            self.down = True
            self._count += 1
            log.warning("Redis unreachable (%s); events wait in the outbox, retrying",
                        describe_error(error))

    def back(self, mark: int) -> None:
        """Record a success of a pass that began at ``mark``."""
        if self.down:
            if mark != self._count:
                return  # that pass began before the outage: no news
            self.down = False
            log.warning("Redis reachable again; delivering")
        self._back.set()

    async def pause(self, stop: asyncio.Event, pause: float) -> float:
        """Wait ``pause`` (less if ``stop`` is set or another loop reaches Redis); the next."""
        log.debug("Redis still unreachable; next try in %.2fs", pause)
        await first_of(pause, stop, self._back)
        return min(pause * 2, self._max_pause_s)


async def first_of(within: float, *events: asyncio.Event) -> None:
    """Return when any of ``events`` is set, or after ``within`` seconds."""
    if any(event.is_set() for event in events):
        return
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
