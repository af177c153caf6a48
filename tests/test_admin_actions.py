"""Staff actions end to end: returns with photos and restock, support both ways, cancelling
with a partial refund, and strangers refused with nothing done."""

from __future__ import annotations

import re

from shop.auth import CustomerActor
from shop.orders.returns import ReturnItem
from shop.orders.states import OrderStatus
from tests.conftest import Database
from tests.support.admin import (
    ADMIN_TOKEN,
    MANAGER_ID,
    OWNER_ID,
    SUPPORT_ID,
    Bots,
    both_bots,
    paid_order,
)
from tests.support.shop import MANAGER
from tests.test_admin_alerts import count
from tests.test_admin_bot import alert, customer_told

PLENTY = "TEE-MTN-GRY-S"
ALICE = 3201


async def delivered_order(bots: Bots, external_id: str, units: int) -> tuple[int, int, int]:
    """A paid, shipped and delivered order; (order id, line id, customer id)."""
    order = await paid_order(bots.shop, external_id, {PLENTY: units})
    await bots.shop.orders.confirm(MANAGER, order.id)
    await bots.shop.orders.ship(MANAGER, order.id, carrier="DHL", tracking_number="T1")
    await bots.shop.orders.deliver(MANAGER, order.id)
    return order.id, order.lines[0].id, order.customer_id


async def test_return_from_request_to_refund_with_restock(database: Database) -> None:
    async with both_bots(database) as bots:
        support = bots.staff(SUPPORT_ID, "Sid")
        alice = bots.customer(ALICE)
        await alice.send("/start")  # the customer exists in Telegram and can be told things
        order_id, line_id, _ = await delivered_order(bots, str(ALICE), 3)
        stock_before = (await bots.shop.catalog.variant(sku=PLENTY)).stock
        photo = bots.server.new_file("photo", data=b"\xff\xd8\xff a torn seam", ext="jpg")
        actor = CustomerActor((await bots.shop.customers.get_or_create(
            "telegram", str(ALICE))).id)
        ret = await bots.shop.returns.request(actor, order_id, [ReturnItem(line_id, 2)],
                                              "The seam is torn", [photo.file_id])

        message = await alert(bots, support, "Return requested", "The seam is torn",
                              "1 photos from the customer")
        # The customer's photo came from the customer bot and went out through the staff bot.
        await bots.server.wait_for(lambda: any(m.photo for m in support.messages()))
        assert bots.server.calls("getFile", bot=bots.shop.settings.bot_token
                                 .get_secret_value())  # type: ignore[union-attr]
        await support.press("✅ Approve", in_message=message)
        await customer_told(bots, alice, "return", "approved")
        await support.press("📦 Mark received (restock)", in_message=message)
        assert (await bots.shop.catalog.variant(sku=PLENTY)).stock == stock_before + 2
        await customer_told(bots, alice, "received the items")

        await support.press(re.compile("^💸 Refund €"), in_message=message)
        assert "Refunded €" in support.server.message(SUPPORT_ID, message, bot=ADMIN_TOKEN).body
        await customer_told(bots, alice, "refunded", "#")
        final = await bots.shop.returns.get(actor, ret.id)
        assert final.status == "refunded" and final.refund_amount == final.value
        order = await bots.shop.orders.order(actor, order_id)
        assert order.status == OrderStatus.REFUNDED and order.refunded == final.value


async def test_a_rejected_return_tells_the_customer_why(database: Database) -> None:
    async with both_bots(database) as bots:
        manager = bots.staff(MANAGER_ID, "Maria")
        alice = bots.customer(ALICE)
        await alice.send("/start")
        order_id, line_id, customer_id = await delivered_order(bots, str(ALICE), 1)
        await bots.shop.returns.request(CustomerActor(customer_id), order_id,
                                        [ReturnItem(line_id, 1)], "Changed my mind", [])
        message = await alert(bots, manager, "Return requested", "Changed my mind")
        await manager.press("✋ Reject…", in_message=message)
        assert "Why is the return" in manager.text()
        await manager.send("   ")  # empty: asked again, nothing changed
        assert "Why is the return" in manager.text() and "Not done" in manager.text()
        await manager.send("Worn items cannot be returned.")
        told = await customer_told(bots, alice, "not accepted")
        assert "Worn items cannot be returned." in told


async def test_support_answered_both_ways(database: Database) -> None:
    async with both_bots(database) as bots:
        support = bots.staff(SUPPORT_ID, "Sid")
        alice = bots.customer(ALICE)
        await alice.send("/support")
        await alice.send("Do you ship to Kraków?")
        message = await alert(bots, support, "Alice writes", "general question",
                              "Do you ship to Kraków?")
        # Replying to the alert answers the customer.
        await support.send("Yes, in 3 days.", reply_to=message)
        assert "Sent to the customer." in support.text()
        await customer_told(bots, alice, "Support answered:", "Yes, in 3 days.")

        # The customer's next message joins the same conversation.
        await alice.press("💬 Reply")
        await alice.send("And the price?")
        second = await alert(bots, support, "And the price?")
        await support.press("↩️ Answer", in_message=second)
        await support.send("€9, free over €60.")
        await customer_told(bots, alice, "€9, free over €60.")

        (thread,) = await bots.shop.support.threads(
            await bots.shop.staff.actor_for(SUPPORT_ID))  # type: ignore[arg-type]
        view = await bots.shop.support.thread(await bots.shop.staff.actor_for(SUPPORT_ID),
                                              thread.id)  # type: ignore[arg-type]
        assert [m.text for m in view.messages] == [
            "Do you ship to Kraków?", "Yes, in 3 days.", "And the price?", "€9, free over €60."]
        listed = await support.send("/support")
        assert "Conversations (open)" in listed.text
        assert any("Alice" in label for label in support.buttons())


async def test_message_customer_from_an_order(database: Database) -> None:
    async with both_bots(database) as bots:
        manager = bots.staff(MANAGER_ID, "Maria")
        alice = bots.customer(ALICE)
        await alice.send("/start")
        order = await paid_order(bots.shop, str(ALICE), {PLENTY: 1})
        message = await alert(bots, manager, f"New paid order #{order.number}")
        await manager.press("💬 Message customer", in_message=message)
        await manager.send("Which colour of gift wrap would you like?")
        await customer_told(bots, alice, "Which colour of gift wrap")
        await alice.press("💬 Reply")
        await alice.send("Red please")
        await alert(bots, manager, "Red please", f"order #{order.number}")


async def test_cancel_with_a_partial_refund(database: Database) -> None:
    async with both_bots(database) as bots:
        manager = bots.staff(MANAGER_ID, "Maria")
        alice = bots.customer(ALICE)
        await alice.send("/start")
        order = await paid_order(bots.shop, str(ALICE), {PLENTY: 2})
        stock = (await bots.shop.catalog.variant(sku=PLENTY)).stock
        message = await alert(bots, manager, f"New paid order #{order.number}")
        await manager.press("❌ Cancel & refund", in_message=message)
        await manager.press("Cancel, refund part…")
        await manager.send("abc")
        assert "not an amount" in manager.text()
        await manager.send("9999")
        assert "at most" in manager.text()
        await manager.send("10,50")
        assert "cancelled and €10.50 refunded" in manager.text()
        await customer_told(bots, alice, "refunded €10.50")
        view = await bots.shop.orders.order(MANAGER, order.id)
        assert view.status == OrderStatus.CANCELLED and view.refunded.minor == 1050
        assert (await bots.shop.catalog.variant(sku=PLENTY)).stock == stock + 2
        # A second tap on the old button is answered, and changes nothing.
        again = await manager.press_data(f"o.cnf:{order.id}:full", message)
        assert again.answer is not None and "cannot happen now" in (again.answer.text or "")
        assert (await bots.shop.orders.order(MANAGER, order.id)).refunded.minor == 1050


async def test_strangers_are_refused_and_nothing_is_done(database: Database) -> None:
    async with both_bots(database) as bots:
        manager = bots.staff(MANAGER_ID, "Maria")
        order = await paid_order(bots.shop, "c1", {PLENTY: 1})
        await alert(bots, manager, f"New paid order #{order.number}")
        stranger = bots.staff(9999, "Eve")
        refused = await stranger.send("/orders")
        assert "only for the staff" in refused.text
        await stranger.send("/start", expect=0)  # one refusal, not a conversation
        assert count(stranger, "only for the staff") == 1
        pressed = await stranger.press_data(f"o.conf:{order.id}", 424242, expect=0)
        assert pressed.answer is not None and "only for the staff" in (pressed.answer.text or "")
        assert (await bots.shop.orders.order(MANAGER, order.id)).status == OrderStatus.PAID

        # Support staff may not confirm orders, whatever button data they send.
        support = bots.staff(SUPPORT_ID, "Sid")
        await support.send("/start")
        forged = await support.press_data(f"o.conf:{order.id}")
        assert forged.answer is not None and "may not do this" in (forged.answer.text or "")
        assert (await bots.shop.orders.order(MANAGER, order.id)).status == OrderStatus.PAID
        for data in ("o.conf", "o.conf:abc", "zz.top:1", "x" * 80, "o.view:99999"):
            reply = await manager.press_data(data)
            assert reply.answer is not None and reply.answer.text


async def test_owner_manages_staff_and_sees_the_audit_log(database: Database) -> None:
    async with both_bots(database) as bots:
        owner, manager = bots.staff(OWNER_ID, "Olga"), bots.staff(MANAGER_ID, "Maria")
        await owner.send("/staff")
        await owner.press("➕ Add staff…")
        await owner.send("not a number")
        assert "is a number" in owner.text()
        await owner.send("8001")
        await owner.press("manager")
        assert "8001 added as manager" in owner.text()
        newcomer = bots.staff(8001, "Nina")
        menu = await newcomer.send("/start")
        assert "signed in as manager" in menu.text
        await owner.press("✏️ 8001 ")
        await owner.press("support")
        assert "8001 is now support" in owner.text()
        await owner.press("✏️ 8001 ")
        await owner.press("🗑 Remove")
        refused = await newcomer.send("/orders")
        assert "only for the staff" in refused.text

        denied = await manager.send("/staff")
        assert "may not do this" in denied.text
        log = await owner.send("/audit")
        assert "staff.add staff:8001" in log.text and "staff.remove staff:8001" in log.text
