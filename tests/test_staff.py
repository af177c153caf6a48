"""Staff roles from settings and from owners, and the audit log of staff actions."""

from __future__ import annotations

import pytest

from shop.auth import StaffActor
from shop.bootstrap import Shop
from shop.errors import InvalidInput, NotAllowed, NotFound
from shop.settings import StaffRole
from tests.conftest import Database
from tests.support.shop import Clock, buy, customer, make_shop, pay, seed_basics

OWNER_ID, MANAGER_ID = 111, 222


@pytest.fixture
async def shop(database: Database) -> Shop:
    return make_shop(database, Clock(), staff_ids=f"{OWNER_ID}:owner,{MANAGER_ID}:manager")


async def test_settings_and_added_staff(shop: Shop) -> None:
    owner = await shop.staff.actor_for(OWNER_ID)
    assert owner == StaffActor(OWNER_ID, StaffRole.OWNER)
    assert await shop.staff.actor_for(999) is None
    await shop.staff.add(owner, 333, StaffRole.SUPPORT, "Sam")
    assert await shop.staff.actor_for(333) == StaffActor(333, StaffRole.SUPPORT)
    await shop.staff.set_role(owner, 333, StaffRole.MANAGER)
    assert [(m.telegram_id, m.role, m.from_settings) for m in await shop.staff.members(owner)] \
        == [(OWNER_ID, StaffRole.OWNER, True), (MANAGER_ID, StaffRole.MANAGER, True),
            (333, StaffRole.MANAGER, False)]
    await shop.staff.remove(owner, 333)
    assert await shop.staff.actor_for(333) is None
    with pytest.raises(NotFound):
        await shop.staff.remove(owner, 333)
    with pytest.raises(NotAllowed, match="STAFF_IDS"):
        await shop.staff.remove(owner, MANAGER_ID)
    with pytest.raises(InvalidInput):
        await shop.staff.add(owner, -5, StaffRole.SUPPORT)


async def test_only_owners_manage_staff(shop: Shop) -> None:
    manager = await shop.staff.actor_for(MANAGER_ID)
    assert manager is not None
    with pytest.raises(NotAllowed):
        await shop.staff.add(manager, 444, StaffRole.OWNER)
    with pytest.raises(NotAllowed):
        await shop.staff.members(manager)
    assert await shop.staff.actor_for(444) is None


async def test_every_staff_action_is_audited(shop: Shop) -> None:
    owner = await shop.staff.actor_for(OWNER_ID)
    manager = await shop.staff.actor_for(MANAGER_ID)
    assert owner is not None and manager is not None
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["pickup"], {ids["MUG"]: 1})
    await pay(shop, alice, order.id)
    await shop.orders.confirm(manager, order.id)
    await shop.payments.refund(manager, order.id, 250, "chipped handle")
    await shop.catalog.adjust_stock(ids["MUG"], 5, actor=manager.label, reason="delivery")
    await shop.catalog.set_low_stock_threshold(ids["MUG"], 4, actor=manager.label)
    await shop.staff.add(owner, 555, StaffRole.SUPPORT)
    log = await shop.staff.audit_log(owner)
    assert [(e.actor, e.action, e.target) for e in reversed(log)] == [
        (f"staff:{MANAGER_ID}", "order.confirm", f"order:{order.number}"),
        (f"staff:{MANAGER_ID}", "order.refund", f"order:{order.number}"),
        (f"staff:{MANAGER_ID}", "stock.change", f"variant:{ids['MUG']}"),
        (f"staff:{MANAGER_ID}", "stock.threshold", f"variant:{ids['MUG']}"),
        (f"staff:{OWNER_ID}", "staff.add", "staff:555"),
    ]
    confirm = log[-1]
    assert confirm.before == {"status": "paid"} and confirm.after == {"status": "confirmed"}
    assert log[2].before == {"stock": 2} and log[2].after is not None
    assert log[2].after["stock"] == 7
    # Customers' and the system's own steps (placing, paying) are not staff actions.
    assert all(e.actor.startswith("staff:") for e in log)
