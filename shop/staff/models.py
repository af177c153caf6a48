"""The audit log: every staff action with who, what, when, and the state before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.db.base import Base, BigIntPK, UTCDateTime, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)   # staff:<telegram id>
    action: Mapped[str] = mapped_column(String(60))               # order.confirm, staff.add …
    target: Mapped[str] = mapped_column(String(100), index=True)  # order:1042, variant:7 …
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
