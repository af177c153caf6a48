"""Webhook updates answered before they were handled, kept until they are.

A channel answers its webhook once the update was handled, so that a worker dying meanwhile
leaves the update unanswered and the platform delivers it again. An update that runs longer
than the platform may wait (a slow payment provider) is answered anyway and goes on in the
background: from then on nobody would deliver it again. So it is *parked* first: stored with
a lease its worker renews while it runs, and deleted once handled. A worker that died
holding one lets its lease run out, and any worker of the same bot then takes it over
(`take_over`, a conditional update: one worker wins) and handles it again, as a redelivery
would have. An update taken over `MAX_ATTEMPTS` times (each worker handling it died) is given
up and logged: it would kill the next one too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.db.base import utcnow
from shop.messaging.holder import HOLDER_MAX, holder_name
from shop.messaging.models import ParkedUpdate

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Parked:
    channel: str
    bot_id: int
    update_id: int
    payload: dict[str, Any]
    attempts: int


class ParkedUpdates:
    """The parked updates of every bot of this database, seen from one worker."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, lease_s: float,
                 clock: Callable[[], datetime] = utcnow, worker: str | None = None) -> None:
        self._sessions = sessions
        self._clock = clock
        self.lease = timedelta(seconds=lease_s)
        self.worker = (worker or holder_name())[:HOLDER_MAX]

    async def park(self, channel: str, bot_id: int, update_id: int,
                   payload: dict[str, Any]) -> bool:
        """Keep the update, held by this worker for a lease. False (and a warning) when the
        database refused: the update goes on all the same, only a crash would now lose it."""
        now = self._clock()
        values = {"channel": channel, "bot_id": bot_id, "update_id": update_id,
                  "payload": payload, "parked_at": now, "claimed_by": self.worker,
                  "lease_until": now + self.lease, "attempts": 1}
        try:
            async with self._sessions.begin() as session:
                dialect = session.get_bind().dialect.name
                insert = pg_insert if dialect == "postgresql" else sqlite_insert
                await session.execute(insert(ParkedUpdate).values(**values)
                                      .on_conflict_do_nothing())
        except (SQLAlchemyError, OSError) as error:
            log.warning("could not park update %s of %s bot %s (%s); a crash before it ends "
                        "would lose it", update_id, channel, bot_id, type(error).__name__)
            return False
        return True

    async def renew(self, channel: str, bot_id: int, update_id: int) -> bool:
        """Hold the update for another lease; False when it is no longer this worker's. A
        database error is logged and counts as held: the next renewal tries again."""
        try:
            async with self._sessions.begin() as session:
                renewed = await session.execute(
                    update(ParkedUpdate).where(*_key(channel, bot_id, update_id),
                                               ParkedUpdate.claimed_by == self.worker)
                    .values(lease_until=self._clock() + self.lease)
                    .execution_options(synchronize_session=False))
        except (SQLAlchemyError, OSError) as error:
            log.warning("could not renew the lease of parked update %s of %s bot %s (%s)",
                        update_id, channel, bot_id, type(error).__name__)
            return True
        return _count(renewed) == 1

    async def done(self, channel: str, bot_id: int, update_id: int) -> None:
        """The update was handled: forget it (unless another worker took it over)."""
        try:
            async with self._sessions.begin() as session:
                await session.execute(delete(ParkedUpdate).where(
                    *_key(channel, bot_id, update_id), ParkedUpdate.claimed_by == self.worker))
        except (SQLAlchemyError, OSError) as error:
            log.warning("could not forget parked update %s of %s bot %s (%s); it will be "
                        "handled again after its lease", update_id, channel, bot_id,
                        type(error).__name__)

    async def take_over(self, channel: str, bot_id: int, limit: int = 20) -> list[Parked]:
        """The bot's parked updates whose worker's lease ran out, now held by this worker,
        oldest first. Those already tried `MAX_ATTEMPTS` times are given up (deleted, an
        error in the log) instead. Nothing when the database refused (logged): next time."""
        try:
            return await self._take_over(channel, bot_id, limit)
        except (SQLAlchemyError, OSError) as error:
            log.warning("could not look for parked updates of %s bot %s (%s)", channel,
                        bot_id, type(error).__name__)
            return []

    async def _take_over(self, channel: str, bot_id: int, limit: int) -> list[Parked]:
        now = self._clock()
        async with self._sessions() as session:
            rows = (await session.execute(
                select(ParkedUpdate).where(ParkedUpdate.channel == channel,
                                           ParkedUpdate.bot_id == bot_id,
                                           ParkedUpdate.lease_until <= now)
                .order_by(ParkedUpdate.update_id).limit(limit))).scalars().all()
            expired = [(row.id, row.update_id, row.attempts, row.claimed_by,
                        dict(row.payload)) for row in rows]
        taken: list[Parked] = []
        for row_id, update_id, attempts, holder, payload in expired:
            async with self._sessions.begin() as session:
                if attempts >= MAX_ATTEMPTS:
                    gone = await session.execute(delete(ParkedUpdate).where(
                        ParkedUpdate.id == row_id, ParkedUpdate.lease_until <= now))
                    if _count(gone) == 1:
                        log.error("gave up update %s of %s bot %s: %d workers died handling "
                                  "it", update_id, channel, bot_id, attempts)
                    continue
                won = await session.execute(
                    update(ParkedUpdate).where(ParkedUpdate.id == row_id,
                                               ParkedUpdate.claimed_by == holder,
                                               ParkedUpdate.lease_until <= now)
                    .values(claimed_by=self.worker, lease_until=now + self.lease,
                            attempts=attempts + 1)
                    .execution_options(synchronize_session=False))
            if _count(won) == 1:
                taken.append(Parked(channel, bot_id, update_id, payload, attempts + 1))
        return taken


def _key(channel: str, bot_id: int, update_id: int) -> tuple[Any, ...]:
    return (ParkedUpdate.channel == channel, ParkedUpdate.bot_id == bot_id,
            ParkedUpdate.update_id == update_id)


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
