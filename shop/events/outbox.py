"""Appending domain events to the outbox, inside the caller's transaction."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.events.models import OutboxEvent


class Topic(StrEnum):
    ORDER_PLACED = "order.placed"
    ORDER_PAID = "order.paid"
    ORDER_STATUS_CHANGED = "order.status_changed"
    RETURN_REQUESTED = "return.requested"
    RETURN_STATUS_CHANGED = "return.status_changed"
    STOCK_LOW = "stock.low"
    PAYMENT_PROBLEM = "payment.problem"
    REFUND_ISSUED = "refund.issued"
    SUPPORT_MESSAGE = "support.message"
    SUPPORT_REPLY = "support.reply"
    REPORT_DAILY = "report.daily"


def publish(session: AsyncSession, topic: Topic, payload: dict[str, Any]) -> None:
    """Queue an event; it is delivered only if the caller's transaction commits.

    Payloads are JSON: ids, numbers, strings. Money goes as minor units plus currency.
    """
    session.add(OutboxEvent(topic=str(topic), payload=payload))


async def event_payload(sessions: async_sessionmaker[AsyncSession], event_id: int
                        ) -> dict[str, Any] | None:
    """The payload of an outbox event (to redo its effect later), or None if it is gone."""
    async with sessions() as session:
        payload: dict[str, Any] | None = await session.scalar(
            select(OutboxEvent.payload).where(OutboxEvent.id == event_id))
    return payload
