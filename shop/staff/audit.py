"""Writing the audit log inside the transaction of the change it describes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shop.auth import Actor
from shop.staff.models import AuditEntry


def audit(session: AsyncSession, actor: Actor | str, action: str, target: str,
          before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    """Record a staff action (`actor` or its label); customers' and the system's are not."""
    label = actor if isinstance(actor, str) else actor.label
    if label.startswith("staff:"):
        session.add(AuditEntry(actor=label, action=action[:60], target=target[:100],
                               before=before, after=after))
