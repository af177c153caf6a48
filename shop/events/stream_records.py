"""The database side of the stream relay: what each consumer has completed.

Redis may lose everything; the database may not. A consumer's completion of an event is an
``event_deliveries`` row with ``done`` set (written before the entry is acknowledged), and a
``start_from_latest`` consumer's starting point is the same baseline row the database relay
uses (``done`` with zero attempts). Pending counts and backfills after a Redis loss are
computed from these rows alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.events.delivery import DeliveredEvent, insert_delivery
from shop.events.models import EventDelivery, OutboxEvent

Sessions = async_sessionmaker[AsyncSession]


def topic_filter(topics: frozenset[str] | None) -> ColumnElement[bool]:
    return true() if topics is None else OutboxEvent.topic.in_(sorted(topics))


def _not_done(consumer: str) -> ColumnElement[bool]:
    return ~exists().where(and_(EventDelivery.consumer == consumer,
                                EventDelivery.event_id == OutboxEvent.id,
                                EventDelivery.done == true()))


def _touched(consumer: str) -> ColumnElement[bool]:
    return exists().where(and_(EventDelivery.consumer == consumer,
                               EventDelivery.event_id == OutboxEvent.id))


async def has_rows(sessions: Sessions, consumer: str) -> bool:
    """Whether ``consumer`` has any delivery row yet (a baseline or a completion)."""
    async with sessions() as session:
        found = await session.scalar(
            select(EventDelivery.id).where(EventDelivery.consumer == consumer).limit(1))
    return found is not None


async def set_baseline(sessions: Sessions, consumer: str, now: datetime) -> None:
    """Record the newest outbox event as where ``consumer`` starts."""
    async with sessions.begin() as session:
        latest = await session.scalar(select(func.max(OutboxEvent.id)))
        await insert_delivery(session, consumer=consumer, event_id=latest or 0, done=True,
                              attempts=0, next_attempt_at=None, last_error=None,
                              updated_at=now)


async def baseline(sessions: Sessions, consumer: str) -> int:
    """The consumer's starting point: events at or below it are not for it (0: from the start).

    When two workers raced to set one, the earlier wins: deliver more, not less.
    """
    async with sessions() as session:
        found = await session.scalar(
            select(func.min(EventDelivery.event_id)).where(
                EventDelivery.consumer == consumer, EventDelivery.done == true(),
                EventDelivery.attempts == 0))
    return found or 0


async def completed(sessions: Sessions, consumer: str, event_ids: Iterable[int]) -> set[int]:
    """Which of ``event_ids`` ``consumer`` has already completed."""
    wanted = sorted(set(event_ids))
    if not wanted:
        return set()
    async with sessions() as session:
        rows = await session.scalars(
            select(EventDelivery.event_id).where(
                EventDelivery.consumer == consumer, EventDelivery.done == true(),
                EventDelivery.event_id.in_(wanted)))
        return set(rows.all())


async def record_done(sessions: Sessions, consumer: str, event_id: int, attempts: int,
                      now: datetime) -> None:
    """Mark ``event_id`` completed for ``consumer`` (a row the database relay left is updated)."""
    async with sessions.begin() as session:
        inserted = await insert_delivery(
            session, consumer=consumer, event_id=event_id, done=True,
            attempts=max(attempts, 1), next_attempt_at=None, last_error=None, updated_at=now)
        if inserted is None:
            await session.execute(
                update(EventDelivery)
                .where(EventDelivery.consumer == consumer, EventDelivery.event_id == event_id)
                .values(done=True, next_attempt_at=None, last_error=None, updated_at=now))


async def pending_count(sessions: Sessions, consumer: str, topics: frozenset[str] | None,
                        after: int) -> int:
    """Events of ``topics`` above ``after`` that ``consumer`` has not completed."""
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(
                OutboxEvent.id > after, topic_filter(topics), _not_done(consumer)))
    return count or 0


async def published_not_completed(
    sessions: Sessions, consumer: str, topics: frozenset[str] | None, after: int, limit: int,
    *, publisher: str,
) -> list[DeliveredEvent]:
    """The next ``limit`` events above ``after`` that ``publisher`` has published or is
    publishing (it has a row for them) and ``consumer`` has not completed, by id."""
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.id > after, topic_filter(topics), _touched(publisher),
                   _not_done(consumer))
            .order_by(OutboxEvent.id).limit(limit))
        return [DeliveredEvent(row.id, row.topic, row.payload, row.created_at) for row in rows]
