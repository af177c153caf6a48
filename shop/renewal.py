"""Keeping a lease while the work it covers runs: a worker renews what it holds (a row's lease,
a Redis lock) every third of the lease, so slow work keeps it and a dead worker's runs out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

RENEW_SHARE = 1 / 3  # of a lease: how often its holder renews it


class Renewal:
    """Awaits ``renew()`` every ``every`` seconds until stopped, or until it returns False
    (the lease is lost: nothing left to renew). ``renew`` deals with its own errors. A timer,
    not a task, while nothing is due: most work ends before the first renewal."""

    def __init__(self, renew: Callable[[], Awaitable[bool]], every: float) -> None:
        self._renew = renew
        self._every = every
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(every, self._due)
        self._task: asyncio.Task[None] | None = None

    def _due(self) -> None:
        self._timer = None
        self._task = self._loop.create_task(self._run())

    async def _run(self) -> None:
        if await self._renew():
            self._timer = self._loop.call_later(self._every, self._due)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
