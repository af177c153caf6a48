"""Messages the API accepted and what became of them: statuses (sent, delivered, read, failed
with a code), the notification they carried, and the template re-sent when a free-form one
failed outside the customer service window. Failures nobody can fix by retrying are reported
to staff as a `notification.failed` event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.db.base import utcnow
from shop.events.models import OutboxEvent
from shop.messaging.models import WhatsAppOutbound

NOTIFICATION_FAILED = "notification.failed"
# A status only moves forward; "failed" is final. Meta may deliver them out of order.
_RANK = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "played": 3, "failed": 4}
_CLAIMED = "claimed"


@dataclass(frozen=True, slots=True)
class Outbound:
    wamid: str
    customer_id: int
    kind: str
    event_id: int | None
    topic: str | None
    status: str
    error_code: int | None
    fallback_wamid: str | None


def _outbound(row: WhatsAppOutbound) -> Outbound:
    return Outbound(row.wamid, row.customer_id, row.kind, row.event_id, row.topic, row.status,
                    row.error_code, row.fallback_wamid)


class WhatsAppOutboundLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 notify: Callable[[], None] = lambda: None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._notify = notify
        self._clock = clock

    async def record(self, wamid: str, customer_id: int, kind: str, *,
                     event_id: int | None = None, topic: str | None = None) -> None:
        """An accepted message; a status that arrived first has already made the row."""
        try:
            async with self._sessions.begin() as session:
                session.add(WhatsAppOutbound(wamid=wamid, customer_id=customer_id, kind=kind,
                                             event_id=event_id, topic=topic, status="accepted"))
        except IntegrityError:
            async with self._sessions.begin() as session:
                await session.execute(update(WhatsAppOutbound).where(
                    WhatsAppOutbound.wamid == wamid).values(
                    kind=kind, event_id=event_id, topic=topic, customer_id=customer_id))

    async def status(self, wamid: str, status: str, error_code: int | None) -> Outbound | None:
        """Apply a status notification; returns the message as it stands, or None when it is
        not one of ours (sent by another app on the same number)."""
        async with self._sessions.begin() as session:
            row = (await session.execute(select(WhatsAppOutbound).where(
                WhatsAppOutbound.wamid == wamid).with_for_update())).scalar_one_or_none()
            if row is None:
                return None
            if _RANK.get(status, 0) > _RANK.get(row.status, 0):
                row.status = status
                if error_code is not None:
                    row.error_code = error_code
            return _outbound(row)

    async def for_event(self, event_id: int, customer_id: int) -> Outbound | None:
        """The message already sent for this notification, if any (the relay may repeat)."""
        async with self._sessions() as session:
            row = (await session.execute(select(WhatsAppOutbound).where(
                WhatsAppOutbound.event_id == event_id,
                WhatsAppOutbound.customer_id == customer_id)
                .order_by(WhatsAppOutbound.id.desc()).limit(1))).scalar_one_or_none()
            return _outbound(row) if row is not None else None

    async def claim_fallback(self, wamid: str) -> bool:
        """Take the right to re-send this failed message as a template, once."""
        async with self._sessions.begin() as session:
            result = await session.execute(update(WhatsAppOutbound).where(
                WhatsAppOutbound.wamid == wamid, WhatsAppOutbound.fallback_wamid.is_(None))
                .values(fallback_wamid=_CLAIMED))
            return bool(getattr(result, "rowcount", 0))

    async def fallback_sent(self, wamid: str, fallback_wamid: str | None) -> None:
        """The template went out (or, with None, could not: the claim is released)."""
        async with self._sessions.begin() as session:
            await session.execute(update(WhatsAppOutbound).where(
                WhatsAppOutbound.wamid == wamid).values(fallback_wamid=fallback_wamid))

    async def report(self, customer_id: int, *, topic: str | None, event_id: int | None,
                     code: int | None, reason: str) -> None:
        """Tell staff a customer could not be reached (an outbox event, like every alert)."""
        payload: dict[str, Any] = {"channel": "whatsapp", "customer_id": customer_id,
                                   "topic": topic, "event_id": event_id, "code": code,
                                   "reason": reason[:300]}
        async with self._sessions.begin() as session:
            session.add(OutboxEvent(topic=NOTIFICATION_FAILED, payload=payload))
        self._notify()
