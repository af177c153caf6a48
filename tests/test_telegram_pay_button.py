"""The Pay button pays for what its summary showed: a forged or out-of-date Pay button (another
shipping method, another address, an old format) places no order and says it is out of date;
the real button still works and the order has the method the customer chose."""

from __future__ import annotations

import re

from bot.flows.checkout_summary import checkout_token
from shop.auth import CustomerActor
from shop.bootstrap import Shop
from shop.shipping.admin import list_methods
from tests.conftest import Database
from tests.fakes.telegram_users import TelegramUser
from tests.support.telegram import running_customer_bot

ALICE = 6001


async def actor_of(shop: Shop, user: TelegramUser) -> CustomerActor:
    return CustomerActor((await shop.customers.get_or_create("telegram", str(user.id))).id)


async def method_ids(shop: Shop) -> dict[str, int]:
    async with shop.sessions() as session:
        return {m.code: m.id for m in await list_methods(session)}


async def test_forged_pay_buttons_cannot_change_the_shipping_method(database: Database) -> None:
    async with running_customer_bot(database) as (tg, shop):
        alice = tg.user(ALICE, "Alice")
        actor = await actor_of(shop, alice)
        methods = await method_ids(shop)
        await alice.send("/start p_classic-tee")
        await alice.press("M")
        await alice.press("Black")
        await alice.press("➕ Add to cart")
        await alice.send("/cart")
        await alice.press(re.compile("^✅"))
        for line in ("Ada Lovelace", "12 Rue de Rivoli", "Paris", "75001", "FR"):
            await alice.send(line)
        summary = await alice.press(re.compile("^Courier"))
        assert "Shipping (Courier (1–2 days)): €6.00" in summary.text
        shown = alice.latest(with_keyboard=True)
        assert shown is not None
        (pay,) = [b for row in shown.keyboard for b in row if b.text.startswith("💳 Pay")]
        assert pay.callback_data is not None
        _, version, token = pay.callback_data.split(":")
        (address,) = await shop.customers.addresses(actor.customer_id)
        forged = [
            f"copay:{version}",
            f"copay:{version}:{methods['pickup']}",  # the old format: a method id
            f"copay:{version}:{methods['post']}",
            f"copay:{version}:{checkout_token(int(version), address.id, methods['pickup'])}",
            f"copay:{version}:{checkout_token(int(version), address.id, methods['post'])}",
            f"copay:{version}:{checkout_token(int(version), None, methods['pickup'])}",
            f"copay:{version}:kdeadbeef00",
        ]
        for data in forged:
            reply = await alice.press_data(data, expect=1)
            # The same answer twice edits nothing: Telegram says so, and that is fine.
            failed = [c for c in reply.errors if "message is not modified" not in (c.error or "")]
            assert reply.answer is not None and not failed, data
            said = f"{reply.text} {reply.answer.text or ''}"
            assert "out of date" in said or "no longer valid" in said, (data, said)
            assert not await shop.orders.orders(actor), f"{data} placed an order"
        assert "This button is out of date" in alice.text()
        assert "Shipping (Courier (1–2 days)): €6.00" in alice.text(), "the summary as it is"

        placed = await alice.press_data(pay.callback_data, shown.message_id, expect=1)
        assert "is placed" in placed.text
        (order,) = await shop.orders.orders(actor)
        view = await shop.orders.order(actor, order.id)
        assert view.shipping_method == "Courier (1–2 days)" and view.shipping_total.minor == 600
        assert view.address is not None and view.address.street == "12 Rue de Rivoli"
        assert token.startswith("k")
