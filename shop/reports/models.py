"""What reports need beyond orders: funnel steps customers took, and which scheduled jobs ran."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.db.base import Base, BigIntPK, UTCDateTime, utcnow


class FunnelEvent(Base):
    """One step of the shopping funnel by one customer: search, cart, checkout, paid."""

    __tablename__ = "funnel_events"
    __table_args__ = (Index("ix_funnel_events_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int | None] = mapped_column(default=None)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScheduledRun(Base):
    """A periodic job that ran for a period (`daily_report`, `2026-11-23`): inserting the row
    is the claim, so several workers or a restart never run the same period twice."""

    __tablename__ = "scheduled_runs"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    period: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
