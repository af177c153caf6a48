"""A Telegram customer who pays on a Stripe Checkout page (no invoice provider configured)
gets the receipt in Telegram when Stripe's webhook arrives."""

from __future__ import annotations

import re

from aiohttp import web

from shop.orders.states import OrderStatus
from shop.web.app import build_app
from shop.web.stripe_webhook import PATH
from tests.conftest import Database
from tests.fakes.stripe_server import FakeStripe
from tests.support.telegram import running_customer_bot
from tests.test_telegram_journeys import STRIPE_KEY, actor_of, shown, tee_in_cart

ALICE = 3101
WEBHOOK_SECRET = "whsec_fake_secret"


async def test_paying_on_the_stripe_page_sends_the_receipt_to_the_chat(
        database: Database) -> None:
    async with FakeStripe(STRIPE_KEY, webhook_secret=WEBHOOK_SECRET) as stripe, \
            running_customer_bot(database, stripe_api_key=STRIPE_KEY,
                                 stripe_api_base=stripe.base_url,
                                 stripe_webhook_secret=WEBHOOK_SECRET) as (tg, shop):
        runner = web.AppRunner(build_app(shop), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            host, port = runner.addresses[0][:2]
            stripe.webhook_url = f"http://{host}:{port}{PATH}"
            alice = tg.user(ALICE, "Alice")
            await tee_in_cart(alice)
            await alice.send("/cart")
            await alice.press(re.compile("^✅"))
            for line in ("Ada Lovelace", "12 Rue de Rivoli", "Paris", "75001", "FR"):
                await alice.send(line)
            await alice.press(re.compile("^Courier"))
            await alice.press(re.compile("^💳"))
            pay_step = await shown(tg, alice, "secure payment page")
            assert "#1001" in pay_step
            (session_id,) = stripe.sessions
            await stripe.complete_session(session_id)

            receipt = await shown(tg, alice, "Order #1001 is paid")
            (order,) = await shop.orders.orders(await actor_of(shop, alice))
            assert order.status == OrderStatus.PAID
            assert "Classic Organic Cotton Tee" in receipt
            receipts = [m for m in tg.chat(ALICE) if "Order #1001 is paid" in m.body]
            assert len(receipts) == 1
        finally:
            await runner.cleanup()
