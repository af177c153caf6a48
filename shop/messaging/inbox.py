"""The inbound log: every update of a webhook notification stored once, before it is answered.

Meta redelivers a notification until it gets a 200, and the same message can come back in
another batch. Storing each update under a unique key (the message id for a message, the
message id and status for a status) in one transaction with the rest of its notification makes
a repeat a no-op; what was stored but not yet handled (a crash, a restart) is still in the
table and handled when the channel starts again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.db.base import utcnow
from shop.errors import StorageUnavailable
from shop.messaging.models import WhatsAppInbound

ERROR_MAX = 300


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
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._clock = clock

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
            return [Stored(r.id, r.wamid, r.status, r.sender, dict(r.payload), r.attempts)
                    for r in rows]

    async def is_pending(self, row_id: int) -> bool:
        """Whether the update is stored and not handled yet (a resumed copy may be late)."""
        async with self._sessions() as session:
            found = await session.scalar(select(WhatsAppInbound.id).where(
                WhatsAppInbound.id == row_id, WhatsAppInbound.processed_at.is_(None)))
            return found is not None

    async def done(self, row_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(WhatsAppInbound).where(WhatsAppInbound.id == row_id)
                                  .values(processed_at=self._clock(),
                                          attempts=WhatsAppInbound.attempts + 1))

    async def failed(self, row_id: int, error: str) -> None:
        """Count a failed attempt; the update stays pending (retried on the next start)."""
        async with self._sessions.begin() as session:
            await session.execute(update(WhatsAppInbound).where(WhatsAppInbound.id == row_id)
                                  .values(attempts=WhatsAppInbound.attempts + 1,
                                          last_error=error[:ERROR_MAX]))
