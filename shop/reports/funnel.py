"""Recording the funnel steps the orders table cannot tell: a customer searched, a customer
put something in the cart. Checkouts (orders created) and payments (orders paid) are read
from the orders themselves by the report, never recorded twice. A cart step is written in
the cart change's own transaction (`record_step`); searches, in batches (`FunnelRecorder`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.db.base import utcnow
from shop.reports.models import FunnelEvent

log = logging.getLogger(__name__)


class FunnelStep(StrEnum):
    SEARCH = "search"
    CART = "cart"


# A Core statement built once: a step is recorded on every search and cart change, and the
# ORM's unit of work cost several times as much CPU for one plain row.
_INSERT_STEP = insert(cast(Table, FunnelEvent.__table__))


async def record_step(session: AsyncSession, step: FunnelStep, customer_id: int | None,
                      at: datetime) -> None:
    """Add one funnel step inside the caller's transaction (the cart's add, for one)."""
    await session.execute(_INSERT_STEP, {"kind": str(step), "customer_id": customer_id,
                                         "at": at})


class FunnelRecorder:
    """Searches, which write nothing else, recorded in batches.

    A search used to write its step in a transaction of its own: a commit (on PostgreSQL a
    WAL flush, on SQLite the database's one write lock) for one row nobody reads until a
    report. Now `searched` only notes the step; `run` writes what was noted every
    `flush_every_s` (sooner once `batch` steps wait) in one transaction and once more when
    it stops at shutdown, and a report writes this process's steps before reading. What a
    worker killed without a shutdown had noted (at most the last `flush_every_s`) is lost:
    these are counts for a report, and a search must never wait for or fail on them. Steps
    the database refused are kept for the next write, up to `max_pending` (the oldest
    dropped beyond, with a warning).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 clock: Callable[[], datetime] = utcnow, flush_every_s: float = 1.0,
                 batch: int = 500, max_pending: int = 50_000) -> None:
        self._sessions = sessions
        self._clock = clock
        self._flush_every_s = flush_every_s
        self._batch = batch
        self._max_pending = max_pending
        self._pending: deque[dict[str, object]] = deque(maxlen=max_pending)
        self._dropped = 0  # over `max_pending` since the last write that worked
        self._writing = asyncio.Lock()
        self._early: asyncio.Task[bool] | None = None  # a flush started by a full batch
        self._last_flush_failed = False

    @property
    def pending(self) -> int:
        """Steps noted and not written yet."""
        return len(self._pending)

    def searched(self, customer_id: int) -> None:
        """Note that the customer ran a search (written by the next `flush`)."""
        self._note(FunnelStep.SEARCH, customer_id)

    def _note(self, step: FunnelStep, customer_id: int) -> None:
        if len(self._pending) == self._max_pending:
            self._drop(1)
        self._pending.append({"kind": str(step), "customer_id": customer_id,
                              "at": self._clock()})
        # While the database refuses, the periodic flush alone tries again: not every search.
        if (len(self._pending) >= self._batch and not self._last_flush_failed
                and (self._early is None or self._early.done())):
            self._early = asyncio.get_running_loop().create_task(self.flush())
            self._early.add_done_callback(_log_failure)

    def _keep(self, rows: list[dict[str, object]]) -> None:
        """Put steps that could not be written back before the ones noted since."""
        rows.extend(self._pending)
        self._drop(max(0, len(rows) - self._max_pending))
        self._pending = deque(rows, maxlen=self._max_pending)  # the newest kept

    def _drop(self, count: int) -> None:
        if count and not self._dropped:  # once per outage, not once per search
            log.warning("more than %d funnel steps wait to be written; dropping the oldest",
                        self._max_pending)
        self._dropped += count

    async def flush(self) -> bool:
        """Write the noted steps in one transaction. False (and a warning; the steps kept
        for the next try) when the database is momentarily unavailable; any other error is
        a bug and propagates."""
        async with self._writing:
            rows = list(self._pending)
            self._pending.clear()
            if not rows:
                return True
            try:
                async with self._sessions.begin() as session:
                    await session.execute(_INSERT_STEP, rows)
            except asyncio.CancelledError:
                self._keep(rows)
                raise
            # A locked or unreachable database, or an exhausted pool: try again later.
            # Nothing broader is caught.
            except (OperationalError, PoolTimeout):
                log.warning("could not write %d funnel steps; trying again later", len(rows),
                            exc_info=True)
                self._keep(rows)
                self._last_flush_failed = True
                return False
            self._last_flush_failed = False
            if self._dropped:
                log.warning("%d funnel steps were dropped while the database refused them",
                            self._dropped)
                self._dropped = 0
            return True

    async def run(self, stop: asyncio.Event) -> None:
        """Write noted steps every `flush_every_s` until `stop` is set, then what is left."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._flush_every_s)
            await self.flush()


def _log_failure(task: asyncio.Task[bool]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("writing funnel steps failed", exc_info=error)
