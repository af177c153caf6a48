"""The fake Stripe server itself, spoken to with plain httpx: Stripe's wire format and rules."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.fakes.stripe_server import FakeStripe, parse_form

KEY = "sk_test_fake_key_0123456789"


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe(KEY, webhook_secret="whsec_test") as server:
        yield server


@pytest.fixture
async def api(fake: FakeStripe) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.base_url,
                                 headers={"Authorization": f"Bearer {KEY}"}) as client:
        yield client


def session_form(**extra: str) -> dict[str, str]:
    return {
        "mode": "payment",
        "line_items[0][quantity]": "2",
        "line_items[0][price_data][currency]": "eur",
        "line_items[0][price_data][unit_amount]": "1000",
        "line_items[0][price_data][product_data][name]": "T-shirt",
        "line_items[1][quantity]": "1",
        "line_items[1][price_data][currency]": "eur",
        "line_items[1][price_data][unit_amount]": "450",
        "line_items[1][price_data][product_data][name]": "Shipping",
        "metadata[order_id]": "5",
        "metadata[order_number]": "1005",
        "client_reference_id": "5",
        "success_url": "https://shop.example/ok",
        **extra,
    }


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    return error


def test_bracket_notation_becomes_nested_dicts_and_lists() -> None:
    parsed = parse_form([
        ("line_items[1][quantity]", "3"),
        ("line_items[0][price_data][unit_amount]", "1000"),
        ("line_items[0][quantity]", "1"),
        ("metadata[order_id]", "5"),
        ("expand[]", "payment_intent"),
        ("expand[]", "line_items"),
        ("mode", "payment"),
    ])
    assert parsed == {
        "line_items": [{"price_data": {"unit_amount": "1000"}, "quantity": "1"},
                       {"quantity": "3"}],
        "metadata": {"order_id": "5"},
        "expand": ["payment_intent", "line_items"],
        "mode": "payment",
    }


async def test_requests_without_an_api_key_are_refused(fake: FakeStripe) -> None:
    async with httpx.AsyncClient(base_url=fake.base_url) as client:
        response = await client.post("/v1/checkout/sessions", data=session_form())
    assert response.status_code == 401
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert "did not provide an API key" in error["message"]
    assert fake.sessions == {}


async def test_a_wrong_api_key_is_refused_and_masked(fake: FakeStripe) -> None:
    wrong = "sk_test_wrongwrongwrong9876"
    async with httpx.AsyncClient(base_url=fake.base_url,
                                 headers={"Authorization": f"Bearer {wrong}"}) as client:
        response = await client.get("/v1/checkout/sessions/cs_test_x")
    assert response.status_code == 401
    message = error_of(response)["message"]
    assert message.startswith("Invalid API Key provided: sk_test_****")
    assert message.endswith("9876") and wrong not in message


async def test_a_session_is_created_from_a_form_and_read_back(
    fake: FakeStripe, api: httpx.AsyncClient
) -> None:
    response = await api.post("/v1/checkout/sessions", data=session_form())
    assert response.status_code == 200, response.text
    assert response.headers["Request-Id"].startswith("req_")
    session = response.json()
    assert session["object"] == "checkout.session"
    assert session["id"].startswith("cs_test_")
    assert (session["amount_total"], session["currency"]) == (2450, "eur")
    assert session["metadata"] == {"order_id": "5", "order_number": "1005"}
    assert session["client_reference_id"] == "5"
    assert (session["status"], session["payment_status"]) == ("open", "unpaid")
    assert session["payment_intent"] is None
    assert session["url"].startswith(fake.base_url)
    assert session["expires_at"] > time.time() + 23 * 3600
    recorded = fake.requests[-1]
    assert recorded.params["line_items"][0]["price_data"]["product_data"]["name"] == "T-shirt"

    again = await api.get(f"/v1/checkout/sessions/{session['id']}")
    assert again.json() == session


async def test_missing_and_invalid_params_are_400s_naming_the_param(
    api: httpx.AsyncClient,
) -> None:
    form = session_form()
    del form["mode"]
    response = await api.post("/v1/checkout/sessions", data=form)
    assert response.status_code == 400
    assert error_of(response) | {"message": ""} == {
        "type": "invalid_request_error", "code": "parameter_missing", "param": "mode",
        "message": "", "doc_url": "https://stripe.com/docs/error-codes/parameter-missing"}

    response = await api.post("/v1/checkout/sessions",
                              data=session_form(**{"line_items[0][quantity]": "two"}))
    assert error_of(response)["code"] == "parameter_invalid_integer"
    assert error_of(response)["param"] == "line_items[0][quantity]"

    soon = str(int(time.time()) + 600)
    response = await api.post("/v1/checkout/sessions", data=session_form(expires_at=soon))
    assert response.status_code == 400
    assert error_of(response)["param"] == "expires_at"


async def test_unknown_ids_and_urls_are_404s(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/checkout/sessions/cs_test_nope")
    assert response.status_code == 404
    assert error_of(response)["code"] == "resource_missing"
    response = await api.post("/v1/customers", data={"email": "a@b.c"})
    assert response.status_code == 404
    assert "Unrecognized request URL" in error_of(response)["message"]


async def test_an_idempotency_key_replays_the_first_answer(
    fake: FakeStripe, api: httpx.AsyncClient
) -> None:
    headers = {"Idempotency-Key": "checkout-order-5"}
    first = await api.post("/v1/checkout/sessions", data=session_form(), headers=headers)
    second = await api.post("/v1/checkout/sessions", data=session_form(), headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(fake.sessions) == 1


async def test_an_idempotency_key_reused_with_other_params_is_refused(
    fake: FakeStripe, api: httpx.AsyncClient
) -> None:
    headers = {"Idempotency-Key": "checkout-order-5"}
    await api.post("/v1/checkout/sessions", data=session_form(), headers=headers)
    response = await api.post("/v1/checkout/sessions",
                              data=session_form(customer_email="x@example.com"), headers=headers)
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "idempotency_error"
    assert "checkout-order-5" in error["message"]
    assert len(fake.sessions) == 1


async def test_refunds_are_checked_against_the_charge(
    fake: FakeStripe, api: httpx.AsyncClient
) -> None:
    charge = fake.create_charge(1000, "EUR")
    response = await api.post("/v1/refunds", data={"charge": charge, "amount": "400"})
    refund = response.json()
    assert response.status_code == 200
    assert {k: refund[k] for k in ("object", "amount", "charge", "status", "currency")} == {
        "object": "refund", "amount": 400, "charge": charge, "status": "succeeded",
        "currency": "eur"}

    response = await api.post("/v1/refunds", data={"charge": charge, "amount": "601"})
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["param"]) == ("amount_too_large", "amount")
    assert "greater than unrefunded amount" in error["message"]

    rest = await api.post("/v1/refunds", data={"charge": charge})  # no amount: what remains
    assert rest.json()["amount"] == 600
    assert fake.charges[charge]["refunded"] is True

    response = await api.post("/v1/refunds", data={"charge": charge, "amount": "1"})
    assert error_of(response)["code"] == "charge_already_refunded"


async def test_refund_by_payment_intent_and_its_errors(
    fake: FakeStripe, api: httpx.AsyncClient
) -> None:
    session = (await api.post("/v1/checkout/sessions", data=session_form())).json()
    event = await fake.complete_session(session["id"])
    intent = event["data"]["object"]["payment_intent"]
    response = await api.post("/v1/refunds", data={"payment_intent": intent, "amount": "450"})
    assert response.json()["payment_intent"] == intent
    assert response.json()["charge"] == fake.payment_intents[intent]

    response = await api.post("/v1/refunds", data={"payment_intent": "pi_missing"})
    assert (response.status_code, error_of(response)["code"]) == (404, "resource_missing")
    assert error_of(response)["param"] == "payment_intent"
    response = await api.post("/v1/refunds", data={"amount": "100"})
    assert (response.status_code, error_of(response)["code"]) == (400, "parameter_missing")


async def test_a_refused_refund_is_replayed_under_its_key(
    fake: FakeStripe, api: httpx.AsyncClient
) -> None:
    charge = fake.create_charge(500, "eur")
    headers = {"Idempotency-Key": "refund-1"}
    first = await api.post("/v1/refunds", data={"charge": charge, "amount": "900"},
                           headers=headers)
    second = await api.post("/v1/refunds", data={"charge": charge, "amount": "900"},
                            headers=headers)
    assert first.status_code == second.status_code == 400
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"


async def test_injected_failures_answer_once(fake: FakeStripe, api: httpx.AsyncClient) -> None:
    fake.fail_next(500)
    failed = await api.post("/v1/checkout/sessions", data=session_form(),
                            headers={"Idempotency-Key": "k"})
    assert failed.status_code == 500
    assert error_of(failed)["type"] == "api_error"
    ok = await api.post("/v1/checkout/sessions", data=session_form(),
                        headers={"Idempotency-Key": "k"})
    assert ok.status_code == 200  # the failure was not remembered under the key
    assert [r.status for r in fake.requests] == [500, 200]


async def test_completing_a_session_posts_a_signed_event(fake: FakeStripe,
                                                         api: httpx.AsyncClient) -> None:
    received: list[tuple[bytes, str]] = []

    async def endpoint(request: web.Request) -> web.Response:
        received.append((await request.read(), request.headers["Stripe-Signature"]))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        fake.webhook_url = f"http://{host}:{port}/hook"
        session = (await api.post("/v1/checkout/sessions", data=session_form())).json()
        event = await fake.complete_session(session["id"])
    finally:
        await runner.cleanup()

    assert fake.deliveries[-1].status == 200
    body, header = received[0]
    fields = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(b"whsec_test", f"{fields['t']}.".encode() + body,
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)
    assert abs(int(fields["t"]) - time.time()) < 5
    assert event["type"] == "checkout.session.completed"
    paid = event["data"]["object"]
    assert (paid["payment_status"], paid["status"]) == ("paid", "complete")
    assert paid["payment_intent"].startswith("pi_")
    assert fake.sessions[session["id"]]["payment_status"] == "paid"
