"""Tables of the chat channels: WhatsApp (migrations 0007 and 0009) and webhook updates
answered before they were handled (0010)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shop.db.base import Base, BigIntPK, UTCDateTime, utcnow


class WhatsAppContact(Base):
    """A customer's WhatsApp identity and conversation: the business-scoped user id we reply
    to, the phone when WhatsApp shares it, when they last wrote (the 24-hour window), and the
    saved conversation state."""

    __tablename__ = "whatsapp_contacts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), unique=True)
    bsuid: Mapped[str] = mapped_column(String(100), unique=True)
    wa_id: Mapped[str | None] = mapped_column(String(32))
    username: Mapped[str | None] = mapped_column(String(100))
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The latest numbered choices and the paged list, for typed numbers and "More".
    choices: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WhatsAppInbound(Base):
    """One update from a webhook notification, stored before it is answered: unique on the
    message id (status "") or on (message id, status), so a redelivered notification is
    handled once; unprocessed rows are picked up again after a restart."""

    __tablename__ = "whatsapp_inbound"
    __table_args__ = (
        UniqueConstraint("wamid", "status"),
        Index("ix_whatsapp_inbound_pending", "processed_at", "id"),
        Index("ix_whatsapp_inbound_sender", "sender", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    wamid: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="")
    sender: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The worker handling the update and until when (several workers share one database);
    # after the lease another worker may take it over.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WhatsAppOutbound(Base):
    """A message the API accepted, and what its status notifications said since."""

    __tablename__ = "whatsapp_outbound"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    wamid: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "message" or "template"
    event_id: Mapped[int | None] = mapped_column(BigInteger, index=True)  # a notification's
    topic: Mapped[str | None] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20), default="accepted")
    error_code: Mapped[int | None] = mapped_column(Integer)
    fallback_wamid: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ParkedUpdate(Base):
    """A webhook update answered before it was handled (it ran past the time the channel
    waits for an answer): kept until it is handled, so that if its worker dies meanwhile
    another one handles it. Unique on (channel, bot, update)."""

    __tablename__ = "parked_updates"
    __table_args__ = (UniqueConstraint("channel", "bot_id", "update_id"),
                      Index("ix_parked_updates_lease", "channel", "bot_id", "lease_until"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    bot_id: Mapped[int] = mapped_column(BigInteger)
    update_id: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    parked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The worker handling it and until when; another worker takes it over after.
    claimed_by: Mapped[str] = mapped_column(String(64))
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
