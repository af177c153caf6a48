"""Stock handling and reports from the staff bot: search by name or SKU, restock, set, the
low-stock threshold; `/report` with a chart whose figures match the orders; the daily
summary once a day."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from admin_bot.alerts import CONSUMER
from shop.catalog.models import Variant
from tests.conftest import Database
from tests.support.admin import (
    ADMIN_TOKEN,
    MANAGER_ID,
    OWNER_ID,
    SUPPORT_ID,
    both_bots,
    customer_bot_only,
    paid_order,
    staff_bot,
)
from tests.support.shop import Clock
from tests.support.waiting import eventually
from tests.test_admin_alerts import count

PNG = b"\x89PNG\r\n\x1a\n"


async def test_stock_by_search_and_sku(database: Database) -> None:
    async with both_bots(database) as bots:
        manager = bots.staff(MANAGER_ID, "Maria")
        found = await manager.send("/stock brton tee")  # a typo, as in the customer search
        assert "Stock for" in found.text
        assert any("TEE-BRT-RED-S" in b and "⛔" in b for b in manager.buttons())
        await manager.press(lambda label: "TEE-BRT-RED-S" in label)
        await manager.press("+5")
        assert "now 5 in stock" in manager.text()
        await manager.press("Set stock…")
        await manager.send("-3")
        assert "not a whole number" in manager.text()
        await manager.send("12")
        assert "Stock set to 12." in manager.text()
        await manager.press("Threshold…")
        await manager.send("15")
        card = manager.text()
        assert "Low-stock threshold: 15" in card and "In stock: 12" in card
        variant = await bots.shop.catalog.variant(sku="TEE-BRT-RED-S")
        assert (variant.stock, variant.low_stock_threshold) == (12, 15)

        exact = await manager.send("/stock hod-zip-nvy-s")
        assert "HOD-ZIP-NVY-S" in " ".join(manager.buttons()) and "Stock for" in exact.text
        low = await manager.send("/lowstock")
        assert "Under the low-stock threshold" in low.text
        assert any("HOD-ZIP-NVY-S" in b for b in manager.buttons())
        assert any("TEE-BRT-RED-S" in b for b in manager.buttons())
        # More than fit: the true count, and the emptiest shown.
        async with bots.shop.sessions.begin() as session:
            await session.execute(update(Variant).values(low_stock_threshold=100_000))
        everything = await bots.shop.catalog.low_stock()
        assert everything.total > 20 and len(everything.variants) == everything.total
        many = await manager.send("/lowstock")
        assert (f"Under the low-stock threshold: {everything.total}, the emptiest 20 here:"
                in many.text)
        skus = [v.sku for v in everything.variants[:20]]
        assert [sku for b in manager.buttons() for sku in skus if sku in b] == skus
        nothing = await manager.send("/stock zzzzqqq")
        assert "Nothing in the catalog matches" in nothing.text

        support = bots.staff(SUPPORT_ID, "Sid")
        await support.send("/stock brton tee")
        await support.press(lambda label: "TEE-BRT-NVY-S" in label)
        assert "+5" not in support.buttons()  # no stock permission: no stock buttons …
        forged = await support.press_data(f"s.add:{variant.id}:5")  # … and no effect
        assert forged.answer is not None and "may not do this" in (forged.answer.text or "")
        assert (await bots.shop.catalog.variant(sku="TEE-BRT-RED-S")).stock == 12


async def test_report_with_a_chart_matches_the_orders(database: Database) -> None:
    async with both_bots(database) as bots:
        owner = bots.staff(OWNER_ID, "Olga")
        shoppers = [bots.customer(4001 + i, f"Shopper {i}") for i in range(3)]
        for shopper in shoppers:
            await shopper.send("mountain tee")  # a search: the top of the funnel
        orders = [await paid_order(bots.shop, str(4001 + i), items) for i, items in enumerate(
            ({"TEE-MTN-GRY-S": 2}, {"TEE-MTN-GRY-S": 1, "HOD-ZIP-CHR-M": 1},
             {"HOD-ZIP-CHR-M": 1}))]
        revenue = sum(o.total.minor for o in orders)
        average = (revenue * 2 + len(orders)) // (2 * len(orders))

        async def alerts_delivered() -> bool:
            return sum("New paid order" in m.body for m in owner.messages()) == len(orders)

        # The new-order alerts reach the owner's chat on their own time; a screen counted
        # below must not be one of them.
        await eventually(alerts_delivered)
        await owner.send("/report today", expect=2)
        text = next(m.body for m in owner.messages() if "Sales, today" in m.body)
        assert f"Revenue: €{revenue // 100}.{revenue % 100:02d}" in text
        assert f"Orders paid: 3 · average €{average // 100}.{average % 100:02d}" in text
        # Ranked by revenue: two zip hoodies earn more than three tees.
        assert "1. Heavyweight Zip Hoodie — 2 sold" in text
        assert "2. Mountain Line Graphic Tee — 3 sold" in text
        assert "searched 3 → added to cart 3 → checked out 3 → paid 3" in text
        (photo,) = bots.server.calls("sendPhoto", bot=ADMIN_TOKEN, chat_id=OWNER_ID)
        chart = owner.messages()[-1]
        assert chart.photo and photo.ok
        stored = bots.server.files[chart.photo_file_id]
        assert stored.data is not None and stored.data.startswith(PNG)

        await owner.press("last 7 days", in_message=owner.messages()[-2], expect=2)
        assert len(bots.server.calls("sendPhoto", bot=ADMIN_TOKEN, chat_id=OWNER_ID)) == 2
        support = bots.staff(SUPPORT_ID, "Sid")
        denied = await support.send("/report week")
        assert "may not do this" in denied.text


async def test_daily_summary_once_a_day(database: Database) -> None:
    clock = Clock(datetime(2026, 11, 1, 15, 0, tzinfo=UTC))
    settings = {"daily_report_hour": 8, "shop_timezone": "Europe/Paris"}
    async with customer_bot_only(database, clock, **settings) as bots:
        owner, manager = bots.staff(OWNER_ID, "Olga"), bots.staff(MANAGER_ID, "Maria")
        support = bots.staff(SUPPORT_ID, "Sid")
        order = await paid_order(bots.shop, "c1", {"TEE-MTN-GRY-S": 1})
        clock.now = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # 07:00 in Paris: not yet
        async with staff_bot(bots.server, database, clock, **settings) as admin:
            async def nothing_pending() -> bool:
                return await admin.shop.relay.pending(CONSUMER) == 0
            await eventually(nothing_pending)
            assert count(owner, "Daily summary") == 0
        clock.now = datetime(2026, 11, 2, 7, 30, tzinfo=UTC)  # 08:30 in Paris
        for _ in range(2):  # a restart the same day sends nothing more
            async with staff_bot(bots.server, database, clock, **settings) as admin:
                await bots.server.wait_for(lambda: count(owner, "Daily summary") == 1
                                           and count(manager, "Daily summary") == 1)
                await eventually(nothing_pending)
        total = order.total.minor
        summary = next(m.body for m in owner.messages() if "Daily summary" in m.body)
        assert "2026-11-01" in summary and f"€{total // 100}.{total % 100:02d}" in summary
        assert count(owner, "Daily summary") == 1 and count(support, "Daily summary") == 0
        assert len(bots.server.calls("sendPhoto", bot=ADMIN_TOKEN, chat_id=OWNER_ID)) == 1
