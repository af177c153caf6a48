"""WhatsApp contacts: who a customer is on WhatsApp, when they last wrote, and their saved
conversation.

Customers are keyed by their business-scoped user id (BSUID); the phone (wa_id) is kept when
WhatsApp shares it and never relied on. The last inbound message time decides whether the
customer service window (24 hours) is open for free-form messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.db.base import utcnow
from shop.messaging.models import WhatsAppContact

SERVICE_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Contact:
    customer_id: int
    bsuid: str
    wa_id: str | None
    last_inbound_at: datetime | None
    state: dict[str, Any] = field(default_factory=dict)
    choices: dict[str, Any] = field(default_factory=dict)

    def window_open(self, now: datetime) -> bool:
        """Whether a free-form message may be sent now (the customer wrote < 24 h ago)."""
        return self.last_inbound_at is not None and now - self.last_inbound_at < SERVICE_WINDOW


def _contact(row: WhatsAppContact) -> Contact:
    return Contact(row.customer_id, row.bsuid, row.wa_id, row.last_inbound_at,
                   dict(row.state or {}), dict(row.choices or {}))


class WhatsAppContacts:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._clock = clock

    async def wrote(self, customer_id: int, bsuid: str, *, wa_id: str | None,
                    username: str | None, at: datetime) -> Contact:
        """The customer wrote at `at`: link the identity, move the window, return the saved
        conversation. A phone once known is kept when a later message comes without one."""
        for _ in range(2):  # a first contact racing another: the loser reads the winner's row
            try:
                async with self._sessions.begin() as session:
                    row = await self._row(session, customer_id)
                    if row is None:
                        row = WhatsAppContact(customer_id=customer_id, bsuid=bsuid, state={},
                                              choices={})
                        session.add(row)
                    row.bsuid = bsuid
                    row.wa_id = wa_id or row.wa_id
                    row.username = username or row.username
                    if row.last_inbound_at is None or at > row.last_inbound_at:
                        row.last_inbound_at = at
                    await session.flush()
                    return _contact(row)
            except IntegrityError:
                continue
        raise RuntimeError(f"could not link WhatsApp user to customer {customer_id}")

    async def get(self, customer_id: int) -> Contact | None:
        async with self._sessions() as session:
            row = await self._row(session, customer_id)
            return _contact(row) if row is not None else None

    async def save(self, customer_id: int, state: dict[str, Any],
                   choices: dict[str, Any] | None = None) -> None:
        """Keep the conversation state (and the latest choices, when given)."""
        async with self._sessions.begin() as session:
            row = await self._row(session, customer_id)
            if row is None:
                return
            row.state = dict(state)
            if choices is not None:
                row.choices = dict(choices)

    @staticmethod
    async def _row(session: AsyncSession, customer_id: int) -> WhatsAppContact | None:
        return (await session.execute(select(WhatsAppContact).where(
            WhatsAppContact.customer_id == customer_id))).scalar_one_or_none()
