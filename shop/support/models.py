"""Support threads, their messages, and the staff-side alerts each message went out as."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shop.db.base import Base, BigIntPK, UTCDateTime, utcnow


class SupportThread(Base):
    __tablename__ = "support_threads"
    __table_args__ = (
        Index("ix_support_threads_customer_updated", "customer_id", "updated_at"),
        Index("ix_support_threads_status_updated", "status", "updated_at"),
        CheckConstraint("status IN ('open', 'closed')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(10))
    # "order:<order id>" or "general:<customer id>" while open, NULL once closed: the unique
    # constraint keeps one open thread per subject even when two messages race to create it.
    open_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    assigned_staff_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_customer_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_staff_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SupportMessage(Base):
    __tablename__ = "support_messages"
    __table_args__ = (
        Index("ix_support_messages_thread_id_id", "thread_id", "id"),
        CheckConstraint("author IN ('customer', 'staff')", name="author_known"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("support_threads.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(10))
    staff_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text, default="")
    photo_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SupportMessageRef(Base):
    """An alert the admin bot sent for a message, so a staff reply to it finds the thread.

    A table rather than a column on the message: one customer message is alerted to every
    staff member concerned (or a group), and each copy has its own chat and message id.
    """

    __tablename__ = "support_message_refs"

    ref: Mapped[str] = mapped_column(String(120), primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("support_messages.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
