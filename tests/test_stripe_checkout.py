"""StripeCheckout through the real stripe SDK (async HTTPX client) against the fake Stripe."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from shop.errors import InvalidInput, PaymentRejected, ProviderError
from shop.payments.base import ConfirmedPayment, PayableLine, PayableOrder, ProviderName
from shop.payments.stripe_checkout import (
    StripeCheckout,
    from_stripe_amount,
    to_stripe_amount,
    with_language,
)
from tests.fakes.stripe_server import FakeStripe

# stripe-python hands httpx its form body as `data=<str>`, which httpx 0.28 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

KEY = "sk_test_chatshop_4242424242424242"
SECRET = "whsec_chatshop_test"


def make_order(**changes: Any) -> PayableOrder:
    fields: dict[str, Any] = dict(
        order_id=7, number=1042, currency="EUR", total=2450, subtotal=2000, discount=0,
        shipping_total=450, shipping_name="Courier", digital_only=False,
        lines=(PayableLine("T-shirt", 2, 1600), PayableLine("Mug", 1, 400)), language="fr")
    fields.update(changes)
    return PayableOrder(**fields)


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe(KEY, webhook_secret=SECRET) as server:
        yield server


def make_checkout(api_base: str, *, api_key: str = KEY) -> StripeCheckout:
    return StripeCheckout(api_key=api_key, webhook_secret=SECRET, api_base=api_base,
                          success_url="https://shop.example/paid?session={CHECKOUT_SESSION_ID}",
                          cancel_url="https://shop.example/cancelled")


@pytest.fixture
async def checkout(fake: FakeStripe) -> AsyncIterator[StripeCheckout]:
    async with make_checkout(fake.base_url) as provider:
        yield provider


@pytest.fixture
async def webhook_endpoint(
    fake: FakeStripe, checkout: StripeCheckout
) -> AsyncIterator[list[ConfirmedPayment | PaymentRejected | None]]:
    """Our side of the webhook: a tiny aiohttp app parsing the raw body it receives."""
    received: list[ConfirmedPayment | PaymentRejected | None] = []

    async def stripe_webhook(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            payment = checkout.parse_webhook(raw, request.headers.get("Stripe-Signature"))
        except PaymentRejected as error:
            received.append(error)
            return web.json_response({"error": error.message}, status=400)
        received.append(payment)
        return web.json_response({"received": True})

    app = web.Application()
    app.router.add_post("/webhooks/stripe", stripe_webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.webhook_url = f"http://{host}:{port}/webhooks/stripe"
    yield received
    await runner.cleanup()


def session_posts(fake: FakeStripe) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path == "/v1/checkout/sessions"]


# -- Checkout Sessions ---------------------------------------------------------------------

async def test_a_session_asks_for_the_order_total_with_our_ids(
    fake: FakeStripe, checkout: StripeCheckout
) -> None:
    link = await checkout.create_session(make_order(), customer_email="ann@example.com")

    assert link.session_id in fake.sessions
    session = fake.sessions[link.session_id]
    assert link.url == session["url"]
    assert (session["amount_total"], session["currency"]) == (2450, "eur")
    [sent] = session_posts(fake)
    assert sent.idempotency_key == "checkout-order-7"
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    params = sent.params
    assert params["mode"] == "payment"
    assert params["metadata"] == {"order_id": "7", "order_number": "1042"}
    assert params["payment_intent_data"]["metadata"] == params["metadata"]
    assert params["client_reference_id"] == "7"
    assert params["customer_email"] == "ann@example.com"
    assert params["locale"] == "fr"
    # The landing pages learn the customer's language; Stripe's placeholder is left whole.
    assert params["success_url"] == ("https://shop.example/paid?session={CHECKOUT_SESSION_ID}"
                                     "&lang=fr")
    assert params["cancel_url"] == "https://shop.example/cancelled?lang=fr"
    assert "expires_at" not in params
    lines = [(i["price_data"]["product_data"]["name"], i["price_data"]["unit_amount"],
              i["quantity"], i["price_data"]["currency"]) for i in params["line_items"]]
    assert lines == [("T-shirt", "800", "2", "eur"), ("Mug", "400", "1", "eur"),
                     ("Shipping: Courier", "450", "1", "eur")]


def test_the_language_is_added_to_a_url_whatever_its_shape() -> None:
    assert with_language("https://s.example/ok", "pl") == "https://s.example/ok?lang=pl"
    assert with_language("https://s.example/ok?a=1#top", "pl") == (
        "https://s.example/ok?a=1&lang=pl#top")
    assert with_language("https://s.example/ok", "pt-BR") == "https://s.example/ok?lang=pt-BR"
    # Never anything that could break the URL.
    assert with_language("https://s.example/ok", "en&x=<b>") == "https://s.example/ok"


async def test_a_discounted_order_is_one_line_for_the_total(
    fake: FakeStripe, checkout: StripeCheckout
) -> None:
    order = make_order(discount=300, total=2150)
    link = await checkout.create_session(order)
    assert fake.sessions[link.session_id]["amount_total"] == 2150
    [item] = session_posts(fake)[0].params["line_items"]
    assert item["quantity"] == "1"
    assert item["price_data"]["unit_amount"] == "2150"
    product = item["price_data"]["product_data"]
    assert product["name"] == "Order #1042"
    assert product["description"] == "2 × T-shirt, 1 × Mug, shipping, discount applied"


async def test_a_line_not_dividing_by_its_quantity_is_sent_as_one_line(
    fake: FakeStripe, checkout: StripeCheckout
) -> None:
    order = make_order(lines=(PayableLine("Socks", 3, 1000),), subtotal=1000, total=1000,
                       shipping_total=0, shipping_name=None)
    link = await checkout.create_session(order)
    assert fake.sessions[link.session_id]["amount_total"] == 1000
    [item] = session_posts(fake)[0].params["line_items"]
    assert (item["price_data"]["product_data"]["name"], item["quantity"]) == ("Socks × 3", "1")


async def test_asking_twice_for_one_order_replays_the_same_session(
    fake: FakeStripe, checkout: StripeCheckout
) -> None:
    expires = datetime.now(UTC) + timedelta(minutes=10)  # a reservation about to run out
    first = await checkout.create_session(make_order(), expires_at=expires)
    second = await checkout.create_session(make_order(), expires_at=expires)
    assert second == first
    assert len(fake.sessions) == 1
    [_, replay] = session_posts(fake)
    assert replay.idempotency_key == "checkout-order-7"


async def test_other_parameters_for_the_same_order_make_a_new_session(
    fake: FakeStripe, checkout: StripeCheckout
) -> None:
    first = await checkout.create_session(make_order())
    second = await checkout.create_session(make_order(), customer_email="new@example.com")
    assert second.session_id != first.session_id
    keys = [r.idempotency_key for r in session_posts(fake)]
    assert keys[:2] == ["checkout-order-7", "checkout-order-7"]
    assert keys[2].startswith("checkout-order-7-")


async def test_expiry_is_clamped_into_stripes_window(
    fake: FakeStripe, checkout: StripeCheckout
) -> None:
    now = time.time()
    soon = await checkout.create_session(
        make_order(), expires_at=datetime.now(UTC) + timedelta(minutes=5))
    late = await checkout.create_session(
        make_order(order_id=8), expires_at=(datetime.now() + timedelta(days=3)))  # naive: UTC
    assert now + 30 * 60 <= fake.sessions[soon.session_id]["expires_at"] <= now + 45 * 60
    assert now + 23 * 3600 <= fake.sessions[late.session_id]["expires_at"] <= now + 24 * 3600


async def test_a_transient_500_is_retried_under_the_same_key(
    fake: FakeStripe, checkout: StripeCheckout
) -> None:
    fake.fail_next(500)
    link = await checkout.create_session(make_order())
    attempts = session_posts(fake)
    assert [r.status for r in attempts] == [500, 200]
    assert {r.idempotency_key for r in attempts} == {"checkout-order-7"}
    assert list(fake.sessions) == [link.session_id]


async def test_persistent_500s_become_a_provider_error_after_two_retries(
    fake: FakeStripe, checkout: StripeCheckout
) -> None:
    fake.fail_next(500, times=3)
    with pytest.raises(ProviderError, match="An unknown error occurred") as caught:
        await checkout.create_session(make_order())
    assert len(session_posts(fake)) == 3
    assert KEY not in str(caught.value)


async def test_a_wrong_api_key_is_a_provider_error_that_hides_the_key(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    wrong = "sk_test_not_the_right_one_1234"
    async with make_checkout(fake.base_url, api_key=wrong) as provider:
        with pytest.raises(ProviderError) as caught:
            await provider.create_session(make_order())
    message = caught.value.message
    assert "API key" in message
    assert wrong not in message and "1234" not in message and KEY not in message
    assert getattr(caught.value, "http_status", None) == 401
    assert "Stripe refused the API key" in caplog.text
    assert wrong not in caplog.text and "_1234" not in caplog.text


async def test_an_unreachable_stripe_is_a_provider_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with make_checkout(f"http://127.0.0.1:{port}") as provider:
        with pytest.raises(ProviderError, match="could not reach Stripe"):
            await provider.create_session(make_order())


async def test_amounts_follow_stripes_minor_units() -> None:
    assert to_stripe_amount(1999, "EUR") == 1999
    assert to_stripe_amount(500, "JPY") == 500
    assert to_stripe_amount(5000, "ISK") == 500000  # Stripe counts ISK in hundredths
    assert from_stripe_amount(500000, "ISK") == 5000
    assert to_stripe_amount(12300, "MGA") == 123  # Stripe counts MGA in whole ariary
    with pytest.raises(InvalidInput):
        to_stripe_amount(12345, "MGA")


# -- webhooks --------------------------------------------------------------------------------

async def test_the_signed_completion_event_reaches_our_endpoint_as_a_payment(
    fake: FakeStripe, checkout: StripeCheckout,
    webhook_endpoint: list[ConfirmedPayment | PaymentRejected | None],
) -> None:
    link = await checkout.create_session(make_order())
    event = await fake.complete_session(link.session_id)

    assert fake.deliveries[-1].status == 200
    [payment] = webhook_endpoint
    assert payment == ConfirmedPayment(
        provider=ProviderName.STRIPE, event_id=event["id"], order_id=7,
        provider_payment_id=fake.sessions[link.session_id]["payment_intent"],
        amount=2450, currency="EUR", raw=event)


async def test_an_isk_payment_comes_back_in_our_units(
    fake: FakeStripe, checkout: StripeCheckout,
) -> None:
    order = make_order(currency="ISK", lines=(PayableLine("Wool hat", 1, 5000),),
                       subtotal=5000, total=5000, shipping_total=0, shipping_name=None)
    link = await checkout.create_session(order)
    assert fake.sessions[link.session_id]["amount_total"] == 500000
    await fake.complete_session(link.session_id)
    delivery = fake.deliveries[-1]
    payment = checkout.parse_webhook(delivery.body, delivery.signature)
    assert payment is not None and (payment.amount, payment.currency) == (5000, "ISK")


async def paid_event(fake: FakeStripe, checkout: StripeCheckout) -> tuple[bytes, str]:
    link = await checkout.create_session(make_order())
    await fake.complete_session(link.session_id)
    delivery = fake.deliveries[-1]
    return delivery.body, delivery.signature


async def test_forged_or_altered_webhooks_are_refused(
    fake: FakeStripe, checkout: StripeCheckout
) -> None:
    body, signature = await paid_event(fake, checkout)
    assert checkout.parse_webhook(body, signature) is not None

    forged = fake.sign(body, secret="whsec_someone_else")
    with pytest.raises(PaymentRejected, match="bad signature"):
        checkout.parse_webhook(body, forged)
    changed = body.replace(b'"amount_total": 2450', b'"amount_total": 1')
    assert changed != body
    with pytest.raises(PaymentRejected, match="bad signature"):
        checkout.parse_webhook(changed, signature)
    for missing in (None, ""):
        with pytest.raises(PaymentRejected, match="no Stripe-Signature"):
            checkout.parse_webhook(body, missing)
    with pytest.raises(PaymentRejected, match="bad signature"):
        checkout.parse_webhook(body, signature.split(",")[0])  # timestamp, no v1
    with pytest.raises(PaymentRejected, match="bad signature"):
        checkout.parse_webhook(body, "garbage")


async def test_a_stale_signature_is_refused(fake: FakeStripe, checkout: StripeCheckout) -> None:
    body, signature = await paid_event(fake, checkout)
    signed_at = int(signature.split(",")[0].removeprefix("t="))
    assert checkout.parse_webhook(body, signature, now=signed_at + 299) is not None
    with pytest.raises(PaymentRejected, match="outside the 300 s tolerance"):
        checkout.parse_webhook(body, signature, now=signed_at + 301)
    old = fake.sign(body, int(time.time()) - 600)  # a replay of an old, genuine delivery
    with pytest.raises(PaymentRejected, match="tolerance"):
        checkout.parse_webhook(body, old)


async def test_any_of_several_v1_signatures_may_match(
    fake: FakeStripe, checkout: StripeCheckout
) -> None:
    body, signature = await paid_event(fake, checkout)
    timestamp, good = signature.split(",")
    rolled = f"{timestamp},v1={'0' * 64},{good}"  # during a secret roll Stripe sends two
    assert checkout.parse_webhook(body, rolled) is not None


async def test_a_signed_body_that_is_not_json_is_refused(
    fake: FakeStripe, checkout: StripeCheckout
) -> None:
    for body in (b"{not json", b"[1, 2]"):
        with pytest.raises(PaymentRejected, match="JSON"):
            checkout.parse_webhook(body, fake.sign(body))


async def test_other_events_and_unpaid_sessions_are_ignored(
    fake: FakeStripe, checkout: StripeCheckout
) -> None:
    link = await checkout.create_session(make_order())
    session = dict(fake.sessions[link.session_id])
    for event in (fake.make_event("payment_intent.created", {"id": "pi_1"}),
                  fake.make_event("checkout.session.completed", session),  # unpaid: async method
                  fake.make_event("checkout.session.expired", session)):
        body = json.dumps(event).encode()
        assert checkout.parse_webhook(body, fake.sign(body)) is None


async def test_a_late_async_payment_counts(fake: FakeStripe, checkout: StripeCheckout) -> None:
    link = await checkout.create_session(make_order())
    await fake.complete_session(link.session_id,
                                event_type="checkout.session.async_payment_succeeded")
    delivery = fake.deliveries[-1]
    payment = checkout.parse_webhook(delivery.body, delivery.signature)
    assert payment is not None and payment.order_id == 7


async def test_a_paid_session_not_naming_our_order_is_refused(
    fake: FakeStripe, checkout: StripeCheckout
) -> None:
    session = {"id": "cs_test_x", "object": "checkout.session", "payment_status": "paid",
               "amount_total": 100, "currency": "eur", "payment_intent": "pi_x"}
    for metadata in ({}, {"order_id": "seven"}):
        body = json.dumps(fake.make_event("checkout.session.completed",
                                          {**session, "metadata": metadata})).encode()
        with pytest.raises(PaymentRejected, match="order_id"):
            checkout.parse_webhook(body, fake.sign(body))


async def test_webhooks_are_refused_without_a_configured_secret(fake: FakeStripe) -> None:
    async with StripeCheckout(api_key=KEY, webhook_secret=None, api_base=fake.base_url,
                              success_url="https://s/ok", cancel_url="https://s/no") as provider:
        body = b"{}"
        with pytest.raises(PaymentRejected, match="STRIPE_WEBHOOK_SECRET"):
            provider.parse_webhook(body, fake.sign(body))


# -- refunds ---------------------------------------------------------------------------------

async def test_a_checkout_payment_is_refunded_on_its_payment_intent(
    fake: FakeStripe, checkout: StripeCheckout
) -> None:
    link = await checkout.create_session(make_order())
    await fake.complete_session(link.session_id)
    intent = fake.sessions[link.session_id]["payment_intent"]

    refund_id = await checkout.refund_payment_intent(intent, 1000, "refund-7-1")
    again = await checkout.refund_payment_intent(intent, 1000, "refund-7-1")  # a retry
    assert again == refund_id
    assert list(fake.refunds) == [refund_id]
    refund = fake.refunds[refund_id]
    assert (refund["amount"], refund["payment_intent"]) == (1000, intent)
    sent = next(r for r in fake.requests if r.path == "/v1/refunds")
    assert sent.idempotency_key == "refund-7-1"
    assert sent.params == {"payment_intent": intent, "amount": "1000"}


async def test_a_telegram_card_payment_is_refunded_on_its_charge(
    fake: FakeStripe, checkout: StripeCheckout
) -> None:
    charge = fake.create_charge(3000, "eur")
    refund_id = await checkout.refund_charge(charge, 3000, "refund-9-1", currency="EUR")
    assert fake.refunds[refund_id]["charge"] == charge
    assert fake.charges[charge]["refunded"] is True


async def test_a_refund_above_what_remains_carries_stripes_message(
    fake: FakeStripe, checkout: StripeCheckout
) -> None:
    charge = fake.create_charge(1000, "eur")
    await checkout.refund_charge(charge, 700, "refund-1")
    with pytest.raises(ProviderError, match="greater than unrefunded amount") as caught:
        await checkout.refund_charge(charge, 400, "refund-2")
    assert getattr(caught.value, "stripe_code", None) == "amount_too_large"
    assert fake.charges[charge]["amount_refunded"] == 700
    with pytest.raises(InvalidInput):
        await checkout.refund_charge(charge, 0, "refund-3")
