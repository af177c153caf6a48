"""Staff alerts are durable: delivered once to each staff member whose role concerns them,
after an outage, a Telegram error or a restart; low stock once per threshold crossing."""

from __future__ import annotations

from admin_bot.alerts import CONSUMER
from admin_bot.app import AdminBot
from shop.events.models import OutboxEvent
from shop.payments.base import ConfirmedPayment, ProviderName
from tests.conftest import Database
from tests.fakes.telegram_users import TelegramUser
from tests.support.admin import (
    ADMIN_TOKEN,
    MANAGER_ID,
    OWNER_ID,
    SUPPORT_ID,
    customer_bot_only,
    paid_order,
    staff_bot,
)
from tests.support.shop import buy, customer
from tests.support.waiting import eventually

PLENTY = "TEE-MTN-GRY-S"  # 111 in the demo catalog
LOW = "TEE-BRT-NVY-S"     # 15 in stock, threshold 5


def count(user: TelegramUser, *words: str) -> int:
    return sum(all(w in m.body for w in words) for m in user.messages())


async def drained(admin: AdminBot) -> None:
    async def nothing_pending() -> bool:
        return await admin.shop.relay.pending(CONSUMER) == 0
    await eventually(nothing_pending, within=20)


async def test_twenty_orders_paid_while_the_staff_bot_is_down(database: Database) -> None:
    async with customer_bot_only(database) as bots:
        manager, owner = bots.staff(MANAGER_ID, "Maria"), bots.staff(OWNER_ID, "Olga")
        support = bots.staff(SUPPORT_ID, "Sid")
        numbers = [(await paid_order(bots.shop, f"c{i}", {PLENTY: 1})).number
                   for i in range(20)]
        assert not bots.server.calls("sendMessage", bot=ADMIN_TOKEN)

        async with staff_bot(bots.server, database, bots.clock) as admin:
            await bots.server.wait_for(lambda: count(manager, "New paid order") == 20
                                       and count(owner, "New paid order") == 20,
                                       timeout=30, what="20 alerts for each")
            await drained(admin)
        for number in numbers:
            assert count(manager, f"New paid order #{number}") == 1
            assert count(owner, f"New paid order #{number}") == 1
        assert count(support, "New paid order") == 0

        # Started again, the bot sends nothing twice: every alert has its receipt.
        async with staff_bot(bots.server, database, bots.clock) as admin:
            await drained(admin)
        assert count(manager, "New paid order") == 20 and count(owner, "New paid order") == 20


async def test_a_telegram_error_delays_an_alert_without_doubling_it(database: Database) -> None:
    async with customer_bot_only(database) as bots:
        manager, owner = bots.staff(MANAGER_ID, "Maria"), bots.staff(OWNER_ID, "Olga")
        # Owner first (STAFF_IDS order): the owner is served, the manager's send fails.
        bots.server.fail_next("sendMessage", 500, "Internal Server Error", bot=ADMIN_TOKEN,
                              chat_id=MANAGER_ID)
        async with staff_bot(bots.server, database, bots.clock) as admin:
            order = await paid_order(bots.shop, "c1", {PLENTY: 2})
            await bots.server.wait_for(lambda: bots.server.calls(
                "sendMessage", bot=ADMIN_TOKEN, chat_id=MANAGER_ID, ok=False))
            bots.clock.advance(seconds=5)  # past the relay's backoff, on the shop's clock
            await bots.server.wait_for(
                lambda: count(manager, f"#{order.number}") == 1, timeout=15,
                what="the manager's alert after the retry")
            await drained(admin)
        assert count(owner, f"New paid order #{order.number}") == 1
        assert count(manager, f"New paid order #{order.number}") == 1
        failed = bots.server.calls("sendMessage", bot=ADMIN_TOKEN, chat_id=MANAGER_ID, ok=False)
        assert len(failed) == 1


async def test_a_staff_member_who_blocked_the_bot_does_not_hold_up_the_others(
        database: Database) -> None:
    async with customer_bot_only(database) as bots:
        manager, owner = bots.staff(MANAGER_ID, "Maria"), bots.staff(OWNER_ID, "Olga")
        owner.block()
        async with staff_bot(bots.server, database, bots.clock) as admin:
            order = await paid_order(bots.shop, "c1", {PLENTY: 1})
            await bots.server.wait_for(lambda: count(manager, f"#{order.number}") == 1)
            await drained(admin)
        assert count(owner, "New paid order") == 0


async def test_low_stock_alert_once_per_crossing(database: Database) -> None:
    async with customer_bot_only(database) as bots:
        manager = bots.staff(MANAGER_ID, "Maria")
        support = bots.staff(SUPPORT_ID, "Sid")
        async with staff_bot(bots.server, database, bots.clock) as admin:
            await paid_order(bots.shop, "c1", {LOW: 9})   # 15 → 6: above the threshold
            await paid_order(bots.shop, "c2", {LOW: 1})   # 6 → 5: crosses
            await paid_order(bots.shop, "c3", {LOW: 2})   # 5 → 3: already low
            await bots.server.wait_for(lambda: count(manager, "Low stock", LOW) == 1)
            await drained(admin)
            assert count(manager, "Low stock", LOW, "5 left (threshold 5)") == 1

            # Staff restock from the alert (above the threshold re-arms it) …
            alert = next(m for m in manager.messages() if "Low stock" in m.body)
            await manager.press("📦 Restock…", in_message=alert)
            await manager.send("20")
            assert "now 23 in stock" in manager.text()
            # … so the next crossing alerts again, once.
            await paid_order(bots.shop, "c4", {LOW: 19})   # 23 → 4
            await bots.server.wait_for(lambda: count(manager, "Low stock", LOW) == 2)
            await drained(admin)
        assert count(manager, "Low stock", LOW) == 2
        assert count(support, "Low stock") == 0  # support staff do not handle stock


async def test_a_staff_group_gets_the_alerts_instead_of_each_member(database: Database) -> None:
    group_id = -1001234567890
    async with customer_bot_only(database, staff_chat_id=group_id) as bots:
        manager = bots.staff(MANAGER_ID, "Maria")
        # The fake serves the group as a chat with the group's (negative) id.
        group = bots.server.user(group_id, "Shop staff", bot=ADMIN_TOKEN)
        async with staff_bot(bots.server, database, bots.clock,
                             staff_chat_id=group_id) as admin:
            order = await paid_order(bots.shop, "c1", {PLENTY: 1})
            await bots.server.wait_for(lambda: count(group, f"New paid order #{order.number}"))
            await drained(admin)
        assert count(group, "New paid order") == 1
        assert count(manager, "New paid order") == 0
        # Every action is offered in the group; the core checks whoever presses.
        assert "✅ Confirm" in group.buttons()


async def test_a_payment_that_does_not_match_its_order_alerts_managers(
        database: Database) -> None:
    async with customer_bot_only(database) as bots:
        manager = bots.staff(MANAGER_ID, "Maria")
        actor, address_id = await customer(bots.shop, "c1")
        variant = await bots.shop.catalog.variant(sku=PLENTY)
        quotes = await bots.shop.shipping.quotes(country="FR", weight_grams=500,
                                                 goods_total=variant.price)
        order = await buy(bots.shop, actor, address_id, quotes[0].method_id, {variant.id: 1})
        async with staff_bot(bots.server, database, bots.clock) as admin:
            await bots.shop.payments.record(ConfirmedPayment(
                ProviderName.TEST, "evt1", order.id, "pay1", amount=1, currency="EUR"))
            await bots.server.wait_for(lambda: count(manager, "Payment problem"))
            await drained(admin)
        text = next(m.body for m in manager.messages() if "Payment problem" in m.body)
        assert f"Order #{order.number}" in text and "did not match" in text
        assert "received 0.01 EUR" in text
        assert "📋 Open order" in manager.buttons()


async def test_an_undeliverable_customer_message_is_reported_to_support(
        database: Database) -> None:
    async with customer_bot_only(database) as bots:
        support = bots.staff(SUPPORT_ID, "Sid")
        customer_info = await bots.shop.customers.get_or_create("whatsapp", "PL.123",
                                                                name="Zofia")
        async with staff_bot(bots.server, database, bots.clock) as admin:
            async with bots.shop.sessions.begin() as session:
                session.add(OutboxEvent(topic="notification.failed", payload={
                    "channel": "whatsapp", "customer_id": customer_info.id,
                    "topic": "order.status_changed", "event_id": 1, "code": 131026,
                    "reason": "Message undeliverable"}))
            bots.shop.relay.wake()
            await bots.server.wait_for(lambda: count(support, "could not be delivered"))
            await drained(admin)
        text = next(m.body for m in support.messages() if "could not be delivered" in m.body)
        assert "Zofia" in text and "Message undeliverable" in text and "whatsapp" in text
