"""Who is acting, and what each staff role may do. Checked in the core, not by hiding buttons."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shop.errors import NotAllowed
from shop.settings import StaffRole


class Permission(StrEnum):
    ORDERS = "orders"            # confirm, ship, deliver, cancel, refund
    STOCK = "stock"              # set stock, restock, thresholds
    RETURNS = "returns"          # approve, reject, receive, refund returns
    MESSAGES = "messages"        # answer customers
    REPORTS = "reports"
    STAFF = "staff"              # add and remove staff, change roles


ROLE_PERMISSIONS: dict[StaffRole, frozenset[Permission]] = {
    StaffRole.SUPPORT: frozenset({Permission.RETURNS, Permission.MESSAGES}),
    StaffRole.MANAGER: frozenset(
        {Permission.ORDERS, Permission.STOCK, Permission.RETURNS, Permission.MESSAGES,
         Permission.REPORTS}
    ),
    StaffRole.OWNER: frozenset(Permission),
}


@dataclass(frozen=True, slots=True)
class CustomerActor:
    customer_id: int

    @property
    def label(self) -> str:
        return f"customer:{self.customer_id}"


@dataclass(frozen=True, slots=True)
class StaffActor:
    telegram_id: int
    role: StaffRole

    @property
    def label(self) -> str:
        return f"staff:{self.telegram_id}"


@dataclass(frozen=True, slots=True)
class SystemActor:
    """The shop itself: the reservation sweeper, payment webhooks, imports."""

    name: str

    @property
    def label(self) -> str:
        return f"system:{self.name}"


Actor = CustomerActor | StaffActor | SystemActor


def require(actor: Actor, permission: Permission) -> None:
    """Staff need the permission; the system may; customers never hold staff permissions."""
    if isinstance(actor, SystemActor):
        return
    if isinstance(actor, StaffActor) and permission in ROLE_PERMISSIONS[actor.role]:
        return
    who = "customers" if isinstance(actor, CustomerActor) else f"the {actor.role} role"
    raise NotAllowed(f"{who} may not do this ({permission} permission needed)",
                     reason="permission", permission=str(permission))
