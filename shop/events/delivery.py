"""What both event relays share (the database's, `shop.events.relay`, and the one on Redis
Streams, `shop.events.stream_relay`): the event a handler receives, the checks on a new
subscription, and the row that records a consumer's delivery of an event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop.events.models import EventDelivery

# Receipts written by shop.events.consumers live under this prefix, apart from relay consumers.
RECEIPT_PREFIX = "once:"
CONSUMER_NAME_MAX = 60  # event_deliveries.consumer is String(60)


@dataclass(frozen=True)
class DeliveredEvent:
    """One outbox event as a handler receives it."""

    id: int
    topic: str
    payload: dict[str, Any]
    created_at: datetime


Handler = Callable[[DeliveredEvent], Awaitable[None]]


def checked_subscription(consumer: str, topics: Iterable[str] | None,
                         subscribed: Container[str], reserved: Container[str] = ()
                         ) -> frozenset[str] | None:
    """Check a new subscription's consumer name and topics; its topic set (None: all)."""
    if not consumer or len(consumer) > CONSUMER_NAME_MAX:
        raise ValueError(f"consumer name must be 1 to {CONSUMER_NAME_MAX} characters")
    if consumer.startswith(RECEIPT_PREFIX) or consumer in reserved:
        raise ValueError(f"consumer name {consumer!r} is reserved")
    if consumer in subscribed:
        raise ValueError(f"consumer {consumer!r} is already subscribed")
    topic_set = None if topics is None else frozenset(str(topic) for topic in topics)
    if topic_set is not None and not topic_set:
        raise ValueError("topics is empty; pass None to receive every topic")
    return topic_set


async def insert_delivery(session: AsyncSession, **values: Any) -> int | None:
    """Insert an ``event_deliveries`` row unless one exists for its (consumer, event_id).

    Returns the new row's id, or None when the pair was taken. On PostgreSQL a concurrent
    insert of the same pair waits for the other transaction, so exactly one of them wins.
    """
    dialect = session.get_bind().dialect.name
    conflict = [EventDelivery.consumer, EventDelivery.event_id]
    if dialect == "postgresql":
        pg_statement = (pg_insert(EventDelivery).values(**values)
                        .on_conflict_do_nothing(index_elements=conflict)
                        .returning(EventDelivery.id))
        return (await session.execute(pg_statement)).scalar_one_or_none()
    if dialect == "sqlite":
        sqlite_statement = (sqlite_insert(EventDelivery).values(**values)
                            .on_conflict_do_nothing(index_elements=conflict)
                            .returning(EventDelivery.id))
        return (await session.execute(sqlite_statement)).scalar_one_or_none()
    raise NotImplementedError(f"event deliveries are not supported on {dialect}")
