"""The inbound log: every update of a webhook notification stored once, before it is answered.

Meta redelivers a notification until it gets a 200, and the same message can come back in
another batch. Storing each update under a unique key (the message id for a message, the
message id and status for a status) in one transaction with the rest of its notification makes
a repeat a no-op; what was stored but not yet handled (a crash, a restart) is still in the
table and handled when the channel starts again.

Several workers may share the database: a worker takes an update with a lease
(`claimed_by`, `lease_until`, migration 0009) by a conditional update, so two never handle
the same update at once, and one whose worker died is taken over when the lease runs out.
A customer's updates are taken oldest first (`claim_next`), by whichever worker holds their
oldest one, so they are answered in order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.db.base import utcnow
from shop.errors import StorageUnavailable
from shop.messaging.holder import HOLDER_MAX, holder_name
from shop.messaging.models import WhatsAppInbound

ERROR_MAX = 300
# A worker that died holding an update lets another take it over when this runs out; a live
# one renews it while the update is in hand (a reply waiting out throughput back-offs).
LEASE = timedelta(minutes=2)
CLAIM_TRIES = 5


@dataclass(frozen=True, slots=True)
class Inbound:
    """One update: a message (status "") or a status of one of our messages."""

    wamid: str
    status: str
    sender: str | None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Stored:
    id: int
    wamid: str
    status: str
    sender: str | None
    payload: dict[str, Any]
    attempts: int


async def _insert(session: AsyncSession, values: dict[str, Any]) -> int | None:
    dialect = session.get_bind().dialect.name
    conflict = [WhatsAppInbound.wamid, WhatsAppInbound.status]
    if dialect == "postgresql":
        pg = (pg_insert(WhatsAppInbound).values(**values)
              .on_conflict_do_nothing(index_elements=conflict).returning(WhatsAppInbound.id))
        return (await session.execute(pg)).scalar_one_or_none()
    if dialect == "sqlite":
        lite = (sqlite_insert(WhatsAppInbound).values(**values)
                .on_conflict_do_nothing(index_elements=conflict).returning(WhatsAppInbound.id))
        return (await session.execute(lite)).scalar_one_or_none()
    raise NotImplementedError(f"the WhatsApp inbox is not supported on {dialect}")


class WhatsAppInbox:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 clock: Callable[[], datetime] = utcnow, worker: str | None = None,
                 lease: timedelta = LEASE) -> None:
        self._sessions = sessions
        self._clock = clock
        self.worker = (worker or holder_name())[:HOLDER_MAX]
        self.lease = lease

    async def store(self, items: Sequence[Inbound]) -> list[Stored]:
        """Store the updates of one notification together; returns the ones not seen before,
        in order. StorageUnavailable when the database refused: the notification should be
        refused too (Meta sends it again)."""
        fresh: list[Stored] = []
        now = self._clock()
        try:
            async with self._sessions.begin() as session:
                for item in items:
                    row_id = await _insert(session, {
                        "wamid": item.wamid[:200], "status": item.status,
                        "sender": item.sender, "payload": item.payload, "received_at": now,
                        "attempts": 0})
                    if row_id is not None:
                        fresh.append(Stored(row_id, item.wamid, item.status, item.sender,
                                            item.payload, 0))
        except (SQLAlchemyError, OSError) as error:
            raise StorageUnavailable(f"could not store {len(items)} WhatsApp updates: "
                                     f"{type(error).__name__}") from error
        return fresh

    async def pending(self, limit: int = 500) -> list[Stored]:
        """Stored updates not handled yet, oldest first."""
        async with self._sessions() as session:
            rows = (await session.execute(
                select(WhatsAppInbound).where(WhatsAppInbound.processed_at.is_(None))
                .order_by(WhatsAppInbound.id).limit(limit))).scalars()
            return [_stored(r) for r in rows]

    async def is_pending(self, row_id: int) -> bool:
        """Whether the update is stored and not handled yet (a resumed copy may be late)."""
        async with self._sessions() as session:
            found = await session.scalar(select(WhatsAppInbound.id).where(
                WhatsAppInbound.id == row_id, WhatsAppInbound.processed_at.is_(None)))
            return found is not None

    # -- leases: several workers on one database --------------------------------------------
    def _free(self, now: datetime) -> ColumnElement[bool]:
        """Not held by another worker: never claimed, released, ours, or its lease is over."""
        return or_(WhatsAppInbound.claimed_by.is_(None),
                   WhatsAppInbound.claimed_by == self.worker,
                   WhatsAppInbound.lease_until.is_(None), WhatsAppInbound.lease_until <= now)

    def _held_elsewhere(self, row: WhatsAppInbound, now: datetime) -> bool:
        return (row.claimed_by is not None and row.claimed_by != self.worker
                and row.lease_until is not None and row.lease_until > now)

    async def claim_next(self, sender: str) -> Stored | None:
        """See `_claim_next`; StorageUnavailable when the database refused."""
        async with _storage("take the next WhatsApp update"):
            return await self._claim_next(sender)

    async def _claim_next(self, sender: str) -> Stored | None:
        """Take the customer's oldest update never tried yet, for this worker until the lease
        ends; None when there is none, or when another worker holds it (that worker goes on
        with the customer's next ones, so their messages are answered in order)."""
        for _ in range(CLAIM_TRIES):
            now = self._clock()
            async with self._sessions.begin() as session:
                row = (await session.execute(
                    select(WhatsAppInbound).where(
                        WhatsAppInbound.sender == sender, WhatsAppInbound.processed_at.is_(None),
                        WhatsAppInbound.attempts == 0)
                    .order_by(WhatsAppInbound.id).limit(1))).scalar_one_or_none()
                if row is None or self._held_elsewhere(row, now):
                    return None
                found = _stored(row)
                taken = await session.execute(
                    update(WhatsAppInbound).where(
                        WhatsAppInbound.id == found.id, WhatsAppInbound.processed_at.is_(None),
                        WhatsAppInbound.attempts == 0, self._free(now))
                    .values(claimed_by=self.worker, lease_until=now + self.lease)
                    .execution_options(synchronize_session=False))
                if _count(taken) == 1:
                    return found
            # Another worker took it, or finished it, in between: look again.
        return None

    async def claim(self, row_id: int) -> Stored | None:
        """See `_claim`; StorageUnavailable when the database refused."""
        async with _storage("take a WhatsApp update"):
            return await self._claim(row_id)

    async def _claim(self, row_id: int) -> Stored | None:
        """Take one update (a retry, or one with no sender) unless done or held elsewhere."""
        now = self._clock()
        async with self._sessions.begin() as session:
            taken = await session.execute(
                update(WhatsAppInbound).where(
                    WhatsAppInbound.id == row_id, WhatsAppInbound.processed_at.is_(None),
                    self._free(now))
                .values(claimed_by=self.worker, lease_until=now + self.lease)
                .execution_options(synchronize_session=False))
            if _count(taken) != 1:
                return None
            row = await session.get(WhatsAppInbound, row_id)
            return None if row is None else _stored(row)

    async def extend(self, row_id: int) -> bool:
        """Renew this worker's lease on an update it is handling; False when the update is
        no longer this worker's (its lease ran out and another worker took it). An update
        just done is still this worker's: renewing its lease then does no harm."""
        async with _storage("renew the lease of a WhatsApp update"):
            now = self._clock()
            async with self._sessions.begin() as session:
                renewed = await session.execute(
                    update(WhatsAppInbound).where(WhatsAppInbound.id == row_id,
                                                  WhatsAppInbound.claimed_by == self.worker)
                    .values(lease_until=now + self.lease)
                    .execution_options(synchronize_session=False))
                return _count(renewed) == 1

    async def claimable(self, *, max_attempts: int | None = None,
                        limit: int = 500) -> list[Stored]:
        """See `_claimable`; StorageUnavailable when the database refused."""
        async with _storage("list the WhatsApp updates to take"):
            return await self._claimable(max_attempts=max_attempts, limit=limit)

    async def _claimable(self, *, max_attempts: int | None = None,
                         limit: int = 500) -> list[Stored]:
        """Stored updates no worker holds (never claimed, released after a failure, or
        claimed by a worker whose lease ran out), oldest first; with `max_attempts`, the
        ones tried fewer times than that."""
        now = self._clock()
        # Not held by anyone, this worker included (what it holds is in hand already).
        unheld = or_(WhatsAppInbound.claimed_by.is_(None), WhatsAppInbound.lease_until.is_(None),
                     WhatsAppInbound.lease_until <= now)
        query = (select(WhatsAppInbound).where(WhatsAppInbound.processed_at.is_(None), unheld)
                 .order_by(WhatsAppInbound.id).limit(limit))
        if max_attempts is not None:
            query = query.where(WhatsAppInbound.attempts < max_attempts)
        async with self._sessions() as session:
            return [_stored(r) for r in (await session.execute(query)).scalars()]

    async def done(self, row_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(WhatsAppInbound).where(WhatsAppInbound.id == row_id)
                                  .values(processed_at=self._clock(), lease_until=None,
                                          attempts=WhatsAppInbound.attempts + 1))

    async def failed(self, row_id: int, error: str) -> None:
        """Count a failed attempt and let the update go: it stays pending, for a retry here
        or by any worker."""
        async with self._sessions.begin() as session:
            await session.execute(update(WhatsAppInbound).where(WhatsAppInbound.id == row_id)
                                  .values(attempts=WhatsAppInbound.attempts + 1,
                                          last_error=error[:ERROR_MAX], claimed_by=None,
                                          lease_until=None))


def _stored(row: WhatsAppInbound) -> Stored:
    return Stored(row.id, row.wamid, row.status, row.sender, dict(row.payload), row.attempts)


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


@asynccontextmanager
async def _storage(what: str) -> AsyncIterator[None]:
    """Database failures as the core's StorageUnavailable, so channels need no SQLAlchemy."""
    try:
        yield
    except (SQLAlchemyError, OSError) as error:
        raise StorageUnavailable(f"could not {what}: {type(error).__name__}") from error
