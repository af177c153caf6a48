"""Stripe end to end: Checkout link → the customer pays → signed webhook to our real HTTP
endpoint → order paid; refunds through Stripe for Checkout and Telegram card payments."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from shop.bootstrap import Shop, build_shop
from shop.money import Money
from shop.orders.states import OrderStatus
from shop.payments.models import Payment
from shop.settings import load_settings
from shop.web.stripe_webhook import PATH, add_stripe_route
from tests.conftest import Database
from tests.fakes.stripe_server import FakeStripe
from tests.support.shop import MANAGER, Clock, buy, customer, seed_basics

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
KEY = "sk_test_chatshop_5555555555554444"
SECRET = "whsec_chatshop_e2e"


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe(KEY, webhook_secret=SECRET) as server:
        yield server


@pytest.fixture
async def shop(database: Database, fake: FakeStripe) -> AsyncIterator[Shop]:
    settings = load_settings(database_url=database.url, stripe_api_key=KEY,
                             stripe_webhook_secret=SECRET, stripe_api_base=fake.base_url,
                             payment_provider_token="284685063:TEST:token")
    shop = build_shop(settings, database.engine, clock=Clock())
    app = web.Application()
    add_stripe_route(app, shop.payments)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.webhook_url = f"http://{host}:{port}{PATH}"
    try:
        yield shop
    finally:
        await runner.cleanup()
        assert shop.stripe is not None
        await shop.stripe.aclose()


async def payments(shop: Shop) -> int:
    async with shop.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Payment)) or 0)


async def post(url: str, body: bytes, signature: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    async with aiohttp.ClientSession() as http, http.post(url, data=body,
                                                          headers=headers) as response:
        return response.status


async def test_checkout_link_paid_through_the_webhook(shop: Shop, fake: FakeStripe) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "wa-1")
    order = await buy(shop, alice, address, ids["courier"], {ids["TEE-M"]: 1})
    link = await shop.payments.stripe_link(alice, order.id, email="alice@example.com")
    assert link.url.startswith("http") and link.session_id in fake.sessions
    session = fake.sessions[link.session_id]
    assert (session["amount_total"], session["currency"]) == (2600, "eur")
    assert session["metadata"]["order_id"] == str(order.id)

    event = await fake.complete_session(link.session_id)
    assert fake.deliveries[-1].status == 200
    view = await shop.orders.order(alice, order.id)
    assert view.status == OrderStatus.PAID and view.paid == Money("EUR", 2600)

    # Stripe delivers the same event again (it retries until it sees a 2xx).
    await fake.send_event(event)
    assert fake.deliveries[-1].status == 200
    assert await payments(shop) == 1

    result = await shop.payments.refund(MANAGER, order.id, 600, "shipping refunded")
    assert result.ok and result.refunded == Money("EUR", 600)
    (refund,) = fake.refunds.values()
    assert (refund["amount"], refund["payment_intent"]) == (600, session["payment_intent"])


async def test_forged_stale_and_altered_webhooks_are_refused(shop: Shop,
                                                             fake: FakeStripe) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "wa-2")
    order = await buy(shop, alice, address, ids["pickup"], {ids["TEE-M"]: 1})
    link = await shop.payments.stripe_link(alice, order.id)
    session = dict(fake.sessions[link.session_id], status="complete", payment_status="paid",
                   payment_intent="pi_forged")
    event = fake.make_event("checkout.session.completed", session)
    body = json.dumps(event).encode()
    url = fake.webhook_url or ""
    assert await post(url, body, None) == 400
    assert await post(url, body, "t=1,v1=" + "0" * 64) == 400
    assert await post(url, body, fake.sign(body, timestamp=int(time.time()) - 3600)) == 400
    altered = body.replace(b'"amount_total": 2000', b'"amount_total": 1')
    assert altered != body
    assert await post(url, altered, fake.sign(body)) == 400
    assert await post(url, b"not json", fake.sign(b"not json")) == 400
    assert await payments(shop) == 0
    assert (await shop.orders.order(alice, order.id)).status == OrderStatus.AWAITING_PAYMENT
    # The genuine article still works afterwards.
    assert await post(url, body, fake.sign(body)) == 200
    assert (await shop.orders.order(alice, order.id)).status == OrderStatus.PAID


async def test_telegram_card_payment_is_refunded_on_its_stripe_charge(
        shop: Shop, fake: FakeStripe) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "300")
    order = await buy(shop, alice, address, ids["pickup"], {ids["TEE-L"]: 2})
    invoice = await shop.payments.telegram_invoice(alice, order.id)
    charge = fake.create_charge(4400, "eur")
    await shop.payments.telegram_payment(
        payload=invoice.payload, currency="EUR", total_amount=4400,
        telegram_payment_charge_id="tg_1", provider_payment_charge_id=charge)
    done = await shop.payments.refund(MANAGER, order.id, 1000, "one shirt was stained")
    assert done.ok
    rest = await shop.payments.refund(MANAGER, order.id, 3400, "the rest")
    assert rest.ok and rest.refunded == Money("EUR", 3400)
    assert sorted(r["amount"] for r in fake.refunds.values()) == [1000, 3400]
    assert all(r["charge"] == charge for r in fake.refunds.values())
    view = await shop.orders.order(alice, order.id)
    assert view.refunded == view.paid == Money("EUR", 4400)
