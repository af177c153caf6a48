"""Who the staff are and with which role: STAFF_IDS from settings, plus the staff an owner
adds from the admin bot. Only owners manage staff; every change is audited."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.auth import Actor, Permission, StaffActor, require
from shop.customers.models import StaffAccount
from shop.errors import InputReason, InvalidInput, NotAllowed, NotFound
from shop.settings import StaffMember, StaffRole
from shop.staff.audit import audit
from shop.staff.models import AuditEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StaffInfo:
    telegram_id: int
    role: StaffRole
    name: str
    from_settings: bool  # listed in STAFF_IDS: managed there, not from the bot


@dataclass(frozen=True, slots=True)
class AuditView:
    actor: str
    action: str
    target: str
    before: dict[str, object] | None
    after: dict[str, object] | None
    at: str


class StaffService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 configured: tuple[StaffMember, ...]) -> None:
        self._sessions = sessions
        self._configured = {m.telegram_id: m.role for m in configured}

    async def actor_for(self, telegram_id: int) -> StaffActor | None:
        """The staff actor for a Telegram user, or None (and a log line) for anyone else."""
        role = self._configured.get(telegram_id)
        if role is None:
            async with self._sessions() as session:
                row = (await session.execute(select(StaffAccount).where(
                    StaffAccount.telegram_id == telegram_id,
                    StaffAccount.active.is_(True)))).scalar_one_or_none()
            role = StaffRole(row.role) if row is not None else None
        if role is None:
            log.warning("refused staff access to Telegram user %s", telegram_id)
            return None
        return StaffActor(telegram_id, role)

    async def members(self, actor: Actor) -> list[StaffInfo]:
        require(actor, Permission.STAFF)
        async with self._sessions() as session:
            rows = (await session.execute(select(StaffAccount).where(
                StaffAccount.active.is_(True)).order_by(StaffAccount.telegram_id))).scalars()
            added = {r.telegram_id: r for r in rows}
        people = [StaffInfo(i, role, "", True) for i, role in self._configured.items()]
        people += [StaffInfo(r.telegram_id, StaffRole(r.role), r.name, False)
                   for i, r in added.items() if i not in self._configured]
        return sorted(people, key=lambda p: (p.role != StaffRole.OWNER, p.telegram_id))

    async def add(self, actor: Actor, telegram_id: int, role: StaffRole, name: str = ""
                  ) -> StaffInfo:
        """Add (or re-activate) a staff member with a role; owners only."""
        require(actor, Permission.STAFF)
        if telegram_id <= 0:
            raise InvalidInput("a Telegram user id is a positive number", field="telegram_id",
                               reason=InputReason.OUT_OF_RANGE, minimum=1)
        self._not_from_settings(telegram_id)
        async with self._sessions.begin() as session:
            row = (await session.execute(select(StaffAccount).where(
                StaffAccount.telegram_id == telegram_id).with_for_update())).scalar_one_or_none()
            before = {"role": row.role, "active": row.active} if row is not None else None
            if row is None:
                row = StaffAccount(telegram_id=telegram_id, role=role, name=name[:200],
                                   added_by=getattr(actor, "telegram_id", None))
                session.add(row)
            else:
                row.role, row.active, row.name = role, True, name[:200] or row.name
            audit(session, actor, "staff.add", f"staff:{telegram_id}", before,
                  {"role": str(role), "active": True})
        return StaffInfo(telegram_id, role, row.name, False)

    async def set_role(self, actor: Actor, telegram_id: int, role: StaffRole) -> StaffInfo:
        require(actor, Permission.STAFF)
        self._not_from_settings(telegram_id)
        async with self._sessions.begin() as session:
            row = await self._active(session, telegram_id)
            before = row.role
            row.role = role
            audit(session, actor, "staff.role", f"staff:{telegram_id}", {"role": before},
                  {"role": str(role)})
        return StaffInfo(telegram_id, role, row.name, False)

    async def remove(self, actor: Actor, telegram_id: int) -> None:
        require(actor, Permission.STAFF)
        self._not_from_settings(telegram_id)
        async with self._sessions.begin() as session:
            row = await self._active(session, telegram_id)
            row.active = False
            audit(session, actor, "staff.remove", f"staff:{telegram_id}",
                  {"role": row.role, "active": True}, {"active": False})

    async def audit_log(self, actor: Actor, *, target: str | None = None, limit: int = 50
                        ) -> list[AuditView]:
        """Newest first; owners only."""
        require(actor, Permission.STAFF)
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 500)))
        if target:
            query = query.where(AuditEntry.target == target)
        async with self._sessions() as session:
            return [AuditView(e.actor, e.action, e.target, e.before, e.after,
                              e.created_at.isoformat())
                    for e in (await session.execute(query)).scalars()]

    def _not_from_settings(self, telegram_id: int) -> None:
        if telegram_id in self._configured:
            raise NotAllowed("this person is listed in STAFF_IDS; change the setting instead",
                             reason="staff_setting")

    @staticmethod
    async def _active(session: AsyncSession, telegram_id: int) -> StaffAccount:
        row = (await session.execute(select(StaffAccount).where(
            StaffAccount.telegram_id == telegram_id, StaffAccount.active.is_(True))
            .with_for_update())).scalar_one_or_none()
        if row is None:
            raise NotFound(f"{telegram_id} is not on the staff", what="staff",
                           ref=telegram_id)
        return row
