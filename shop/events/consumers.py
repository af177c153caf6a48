"""Idempotent consumers: do a database-side effect once per event, however often it arrives.

The relay delivers at least once, so a handler can see an event again after a crash, a
timeout or a lost lease. For effects that live in the database, :func:`once` writes a receipt
(an ``event_deliveries`` row, ``done``, under the consumer name ``once:<name>``) in the same
transaction as the effect. Either both commit or neither does, and a repeat finds the receipt
and skips the work. Receipts are kept apart from the relay's own delivery rows on purpose:
the relay marks an event done only when the whole handler returned, so work after the
guarded step (sending a message, say) is still retried when it fails.

Effects outside the database (a Telegram message) cannot commit together with a receipt, so
they stay at-least-once: a crash between sending and the relay's commit sends again.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.db.base import utcnow
from shop.events.delivery import (
    CONSUMER_NAME_MAX,
    RECEIPT_PREFIX,
    DeliveredEvent,
    Handler,
    insert_delivery,
)
from shop.events.models import EventDelivery

log = logging.getLogger(__name__)

DbAction = Callable[[AsyncSession], Awaitable[None]]
EventAction = Callable[[AsyncSession, DeliveredEvent], Awaitable[None]]


def receipt_consumer(name: str) -> str:
    """The ``event_deliveries.consumer`` value under which receipts for ``name`` are kept."""
    consumer = RECEIPT_PREFIX + name
    if not name or len(consumer) > CONSUMER_NAME_MAX:
        raise ValueError(
            f"receipt name must be 1 to {CONSUMER_NAME_MAX - len(RECEIPT_PREFIX)} characters"
        )
    return consumer


async def claim_receipt(
    session: AsyncSession, name: str, event_id: int, *, now: datetime | None = None
) -> bool:
    """Record, in the caller's transaction, that ``name`` has handled ``event_id``.

    Returns False when a receipt already exists: the work was done and must be skipped. The
    receipt is only as durable as the caller's transaction, which should also hold the work.
    """
    stamp = now or utcnow()
    inserted = await insert_delivery(
        session, consumer=receipt_consumer(name), event_id=event_id, done=True, attempts=1,
        next_attempt_at=None, last_error=None, updated_at=stamp,
    )
    return inserted is not None


async def has_receipt(session: AsyncSession, name: str, event_id: int) -> bool:
    """True when ``name`` already recorded a receipt for ``event_id``."""
    found = await session.scalar(select(EventDelivery.id).where(
        EventDelivery.consumer == receipt_consumer(name), EventDelivery.event_id == event_id))
    return found is not None


async def once(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    event_id: int,
    action: DbAction,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> bool:
    """Run ``action(session)`` for this event unless ``name`` already did; True if it ran.

    The receipt is written first and commits with the action's writes; if the action raises,
    both roll back and the next delivery tries again. The receipt row also serialises
    concurrent deliveries of the same event: a second caller waits, then skips.
    """
    async with sessions.begin() as session:
        if not await claim_receipt(session, name, event_id, now=clock()):
            log.debug("%s already handled event %d; skipping", name, event_id)
            return False
        await action(session)
    return True


def idempotent(
    sessions: async_sessionmaker[AsyncSession], name: str
) -> Callable[[EventAction], Handler]:
    """Turn ``async def action(session, event)`` into a relay handler that runs it once.

    ``name`` identifies the receipts; it may equal the consumer name it is subscribed under.
    """
    receipt_consumer(name)  # fail at decoration time, not on the first event

    def decorate(action: EventAction) -> Handler:
        @functools.wraps(action)
        async def handler(event: DeliveredEvent) -> None:
            async def run(session: AsyncSession) -> None:
                await action(session, event)

            await once(sessions, name, event.id, run)

        return handler

    return decorate

