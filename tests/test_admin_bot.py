"""The staff bot end to end: both bots on the fake Bot API server, a customer buying in one
and staff running the shop from the other."""

from __future__ import annotations

import re

from shop.orders.states import OrderStatus
from tests.conftest import Database
from tests.fakes.telegram_users import TelegramUser
from tests.support.admin import (
    ADMIN_TOKEN,
    MANAGER_ID,
    OWNER_ID,
    SUPPORT_ID,
    Bots,
    both_bots,
)
from tests.test_telegram_journeys import actor_of, checkout_with_test_provider

ALICE = 3101


async def bought(bots: Bots, user: TelegramUser) -> int:
    """The customer pays an order with the test provider; returns its id."""
    await checkout_with_test_provider(user)
    receipt = await user.press(re.compile(r"^💳 Pay .*\(test\)$"))
    assert "is paid" in receipt.text
    (order,) = await bots.shop.orders.orders(await actor_of(bots.shop, user))
    return order.id


async def alert(bots: Bots, staff: TelegramUser, *words: str) -> int:
    """Wait for a message in the staff chat holding every word; its message id."""
    def find() -> int | None:
        return next((m.message_id for m in reversed(staff.messages())
                     if all(w in m.body for w in words)), None)
    found = await bots.server.wait_for(find, what=f"a staff message with {words}")
    assert found is not None
    return found


async def customer_told(bots: Bots, user: TelegramUser, *words: str) -> str:
    def find() -> str | None:
        return next((m.body for m in reversed(user.messages())
                     if all(w in m.body for w in words)), None)
    found = await bots.server.wait_for(find, what=f"a customer message with {words}")
    assert found is not None
    return found


async def test_order_from_alert_to_delivery(database: Database) -> None:
    async with both_bots(database) as bots:
        manager = bots.staff(MANAGER_ID, "Maria")
        owner = bots.staff(OWNER_ID, "Olga")
        support = bots.staff(SUPPORT_ID, "Sid")
        alice = bots.customer(ALICE)
        order_id = await bought(bots, alice)

        message_id = await alert(bots, manager, "New paid order #1001", "Classic Organic Cotton "
                                 "Tee (M / Black)", "Ada Lovelace, 12 Rue de Rivoli", "Courier",
                                 "Total: €30.90")
        await alert(bots, owner, "New paid order #1001")
        card = await manager.press("✅ Confirm", in_message=message_id)
        assert card.answer is not None and "confirmed" in (card.answer.text or "")
        assert "Order #1001 confirmed." in manager.server.message(
            MANAGER_ID, message_id, bot=ADMIN_TOKEN).body
        await customer_told(bots, alice, "#1001", "confirmed")

        await manager.press("🚚 Ship", in_message=message_id)
        assert "Which carrier?" in manager.text()
        await manager.send("DHL Express")
        assert "tracking number" in manager.text()
        await manager.send("JD0001")
        assert "shipped" in manager.text()
        told = await customer_told(bots, alice, "on its way", "JD0001")
        assert "DHL Express" in told

        await manager.press("📬 Delivered")
        await customer_told(bots, alice, "#1001", "delivered")
        order = await bots.shop.orders.order(await actor_of(bots.shop, alice), order_id)
        assert order.status == OrderStatus.DELIVERED
        assert [h.actor for h in order.history if h.to_status in ("confirmed", "shipped")] == [
            f"staff:{MANAGER_ID}", f"staff:{MANAGER_ID}"]

        # Support staff get no order alerts: their role does not handle orders.
        assert not any("New paid order" in m.body for m in support.messages())
        audit = await bots.shop.staff.audit_log(
            (await bots.shop.staff.actor_for(OWNER_ID)), target="order:1001")
        assert {e.action for e in audit} >= {"order.confirm", "order.ship", "order.deliver"}
