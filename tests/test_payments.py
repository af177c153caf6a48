from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from shop.bootstrap import Shop
from shop.errors import NotAllowed, NotYourOrder, PaymentRejected, RefundRefused
from shop.events.models import OutboxEvent
from shop.money import Money
from shop.orders.checkout import CheckoutRequest
from shop.orders.states import OrderStatus
from shop.payments.base import ConfirmedPayment, PayableLine, PayableOrder, ProviderName
from shop.payments.models import Payment, Refund
from shop.payments.recording import Outcome
from shop.payments.telegram_invoice import card_invoice
from tests.conftest import Database
from tests.support.shop import MANAGER, Clock, buy, customer, make_shop, pay, seed_basics


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def shop(database: Database, clock: Clock) -> Shop:
    return make_shop(database, clock, payment_provider_token="284685063:TEST:token")


async def count(shop: Shop, model: type) -> int:
    async with shop.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def events(shop: Shop, topic: str) -> list[dict[str, object]]:
    async with shop.sessions() as session:
        return list((await session.execute(select(OutboxEvent.payload).where(
            OutboxEvent.topic == topic).order_by(OutboxEvent.id))).scalars())


async def test_test_provider_payment_commits_stock_and_clears_cart(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["pickup"], {ids["TEE-M"]: 2})
    await pay(shop, alice, order.id)
    view = await shop.orders.order(alice, order.id)
    assert view.status == OrderStatus.PAID and view.paid == Money("EUR", 4000)
    assert view.expires_at is None and view.paid_at is not None
    assert (await shop.catalog.variant(sku="TEE-M")).stock == 48  # stays taken
    assert (await shop.carts.view(alice.customer_id)).is_empty
    paid = await events(shop, "order.paid")
    assert paid == [{"order_id": order.id, "number": order.number,
                     "customer_id": alice.customer_id, "total": 4000, "currency": "EUR",
                     "provider": "test", "amount": 4000, "paid_currency": "EUR"}]


async def test_replayed_payment_is_recorded_once(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["pickup"], {ids["TEE-M"]: 1})
    token = await shop.payments.test_confirmation(alice, order.id)
    first = await shop.payments.confirm_test_payment(token)
    sequential = [await shop.payments.confirm_test_payment(token) for _ in range(4)]
    concurrent = await asyncio.gather(*(shop.payments.confirm_test_payment(token)
                                        for _ in range(5)))
    assert first.outcome == Outcome.PAID
    assert {r.outcome for r in [*sequential, *concurrent]} == {Outcome.DUPLICATE}
    assert await count(shop, Payment) == 1
    assert len(await events(shop, "order.paid")) == 1


@pytest.mark.parametrize("tamper", ["amount", "mac", "order", "garbage"])
async def test_forged_test_confirmation_is_refused(shop: Shop, tamper: str) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["pickup"], {ids["TEE-M"]: 1})
    token = await shop.payments.test_confirmation(alice, order.id)
    parts = token.split(":")
    if tamper == "amount":
        parts[3] = "1"
    elif tamper == "mac":
        parts[5] = parts[5][::-1]
    elif tamper == "order":
        parts[1] = str(int(parts[1]) + 1)
    else:
        parts = ["tp1", "x"]
    with pytest.raises(PaymentRejected):
        await shop.payments.confirm_test_payment(":".join(parts))
    assert await count(shop, Payment) == 0
    assert (await shop.orders.order(alice, order.id)).status == OrderStatus.AWAITING_PAYMENT


async def test_amount_mismatch_fulfils_nothing_and_tells_staff(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["pickup"], {ids["TEE-M"]: 1})
    result = await shop.payments.record(ConfirmedPayment(
        ProviderName.TEST, "evt1", order.id, "pay1", amount=1999, currency="EUR"))
    assert result.outcome == Outcome.MISMATCH
    assert (await shop.orders.order(alice, order.id)).status == OrderStatus.AWAITING_PAYMENT
    problems = await events(shop, "payment.problem")
    assert [p["problem"] for p in problems] == ["mismatch"]
    assert problems[0]["detail"] == "received 19.99 EUR, expected 20.00 EUR"
    wrong_currency = await shop.payments.record(ConfirmedPayment(
        ProviderName.TEST, "evt2", order.id, "pay2", amount=2000, currency="USD"))
    assert wrong_currency.outcome == Outcome.MISMATCH


async def test_late_payment_reserves_again_or_is_refunded(shop: Shop, clock: Clock) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    bob, bob_address = await customer(shop, "200")
    late = await buy(shop, alice, address, ids["pickup"], {ids["TEE-M"]: 1})
    gone = await buy(shop, bob, bob_address, ids["pickup"], {ids["MUG"]: 3})
    late_token = await shop.payments.test_confirmation(alice, late.id)
    gone_token = await shop.payments.test_confirmation(bob, gone.id)
    clock.advance(minutes=31)
    assert await shop.orders.expire_due() == 2
    carol, carol_address = await customer(shop, "300")
    await buy(shop, carol, carol_address, ids["pickup"], {ids["MUG"]: 2})  # takes the mugs

    assert (await shop.payments.confirm_test_payment(late_token)).outcome == Outcome.PAID
    assert (await shop.orders.order(alice, late.id)).status == OrderStatus.PAID
    assert (await shop.catalog.variant(sku="TEE-M")).stock == 49

    refunded = await shop.payments.confirm_test_payment(gone_token)
    assert refunded.outcome == Outcome.LATE_REFUND
    view = await shop.orders.order(bob, gone.id)
    assert view.status == OrderStatus.CANCELLED
    assert view.paid == view.refunded == Money("EUR", 3750)
    assert (await shop.catalog.variant(sku="MUG")).stock == 1
    assert [p["problem"] for p in await events(shop, "payment.problem")] == [
        "late_payment_refunded"]


async def test_second_payment_for_a_paid_order_is_refunded(shop: Shop, clock: Clock) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["pickup"], {ids["TEE-M"]: 1})
    first = await shop.payments.test_confirmation(alice, order.id)
    clock.advance(seconds=5)  # a second payment page opened before the first was paid
    second = await shop.payments.test_confirmation(alice, order.id)
    await shop.payments.confirm_test_payment(first)
    result = await shop.payments.confirm_test_payment(second)
    assert result.outcome == Outcome.EXTRA_REFUND
    view = await shop.orders.order(alice, order.id)
    assert view.status == OrderStatus.PAID
    assert view.paid == Money("EUR", 4000) and view.refunded == Money("EUR", 2000)


async def test_refunds_never_exceed_what_was_paid(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["pickup"], {ids["TEE-M"]: 2})
    await pay(shop, alice, order.id)
    with pytest.raises(RefundRefused, match=r"at most 40\.00 EUR"):
        await shop.payments.refund(MANAGER, order.id, 4001, "too much")
    partial = await shop.payments.refund(MANAGER, order.id, 1500, "damaged box")
    assert partial.ok and partial.refunded == Money("EUR", 1500)
    with pytest.raises(RefundRefused, match=r"at most 25\.00 EUR"):
        await shop.payments.refund(MANAGER, order.id, 2501, "again")
    rest = await shop.payments.refund(MANAGER, order.id, None, "the rest")
    assert rest.refunded == Money("EUR", 2500)
    with pytest.raises(RefundRefused, match="nothing is left"):
        await shop.payments.refund(MANAGER, order.id, 1, "more")
    async with shop.sessions() as session:
        statuses = list((await session.execute(select(Refund.status))).scalars())
    assert statuses == ["succeeded", "succeeded"]
    assert len(await events(shop, "refund.issued")) == 2


async def test_customers_cannot_pay_or_refund_others_orders(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    mallory, _ = await customer(shop, "666")
    order = await buy(shop, alice, address, ids["pickup"], {ids["TEE-M"]: 1})
    with pytest.raises(NotYourOrder):
        await shop.payments.test_confirmation(mallory, order.id)
    with pytest.raises(NotYourOrder):
        await shop.payments.telegram_invoice(mallory, order.id)
    with pytest.raises(NotAllowed):
        await shop.payments.refund(mallory, order.id, None, "give me")


async def test_telegram_card_invoice_precheckout_and_payment(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["courier"], {ids["TEE-M"]: 1})
    invoice = await shop.payments.telegram_invoice(alice, order.id)
    assert invoice.provider == ProviderName.TELEGRAM and invoice.currency == "EUR"
    assert invoice.provider_token == "284685063:TEST:token"
    # The sheet asks for the address and offers the shipping chosen at checkout.
    assert [(p.label, p.amount) for p in invoice.prices] == [("Classic Tee (M) × 1", 2000)]
    assert invoice.is_flexible and invoice.need_shipping_address
    (offer,) = await shop.payments.shipping_options(payload=invoice.payload, country="fr")
    assert (offer.title, offer.amount) == ("Courier (1–2 days)", 600)
    assert invoice.total + offer.amount == order.total.minor
    assert len(invoice.payload.encode()) <= 128
    with pytest.raises(PaymentRejected):
        await shop.payments.shipping_options(payload="o1:1:1:forged", country="FR")
    assert await shop.payments.precheckout(payload=invoice.payload, currency="EUR",
                                           total_amount=2600, actor=alice) == order.id
    with pytest.raises(PaymentRejected, match="amount of this invoice is out of date"):
        await shop.payments.precheckout(payload=invoice.payload, currency="EUR",
                                        total_amount=100)
    altered = invoice.payload[:-1] + ("1" if invoice.payload.endswith("0") else "0")
    with pytest.raises(PaymentRejected):
        await shop.payments.precheckout(payload=altered, currency="EUR", total_amount=2600)
    for _ in range(3):
        result = await shop.payments.telegram_payment(
            payload=invoice.payload, currency="EUR", total_amount=2600,
            telegram_payment_charge_id="tg_charge_1", provider_payment_charge_id="ch_123")
    assert result.outcome == Outcome.DUPLICATE
    assert (await shop.orders.order(alice, order.id)).status == OrderStatus.PAID
    with pytest.raises(PaymentRejected, match="already paid"):
        await shop.payments.precheckout(payload=invoice.payload, currency="EUR",
                                        total_amount=2600)


async def test_stars_invoice_for_digital_goods_and_full_refunds_only(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, _ = await customer(shop, "100")
    await shop.carts.add(alice.customer_id, ids["EBOOK"], 2)
    order = await shop.orders.checkout(CheckoutRequest(alice.customer_id))
    invoice = await shop.payments.telegram_invoice(alice, order.id)
    assert invoice.provider == ProviderName.STARS and invoice.currency == "XTR"
    assert invoice.provider_token is None and len(invoice.prices) == 1
    assert invoice.prices[0].amount == 900  # 18.00 EUR × 50 Stars
    await shop.payments.telegram_payment(
        payload=invoice.payload, currency="XTR", total_amount=900,
        telegram_payment_charge_id="stxCharge", provider_payment_charge_id="")
    refunded_to: list[tuple[int, str]] = []

    async def refund_star_payment(user_id: int, charge_id: str) -> None:
        refunded_to.append((user_id, charge_id))

    shop.refunds.stars = refund_star_payment
    with pytest.raises(RefundRefused, match="only be refunded in full"):
        await shop.payments.refund(MANAGER, order.id, 100, "partial")
    result = await shop.payments.refund(MANAGER, order.id, None, "changed mind")
    assert result.ok and result.refunded == Money("XTR", 900)
    assert refunded_to == [(100, "stxCharge")]


def test_card_invoice_uses_each_currency_exponent() -> None:
    order = PayableOrder(order_id=1, number=1001, currency="JPY", total=3300, subtotal=3000,
                         discount=200, shipping_total=500, shipping_name="Yamato",
                         digital_only=False, lines=(PayableLine("Tea", 2, 3000),))
    invoice = card_invoice(order, shop_name="Shop", payload="p", provider_token="t")
    assert [(p.label, p.amount) for p in invoice.prices] == [
        ("Order #1001, discount applied", 2800), ("Yamato", 500)]
    assert invoice.total == 3300 and all(p.amount > 0 for p in invoice.prices)


async def test_failed_provider_refund_gives_the_amount_back(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    order = await buy(shop, alice, address, ids["pickup"], {ids["TEE-M"]: 1})
    invoice = await shop.payments.telegram_invoice(alice, order.id)
    await shop.payments.telegram_payment(
        payload=invoice.payload, currency="EUR", total_amount=2000,
        telegram_payment_charge_id="tg2", provider_payment_charge_id="ch_missing")
    # No STRIPE_API_KEY: the card refund cannot be made, and says why.
    result = await shop.payments.refund(MANAGER, order.id, None, "cancel")
    assert not result.ok and "STRIPE_API_KEY" in result.failed[0]
    view = await shop.orders.order(alice, order.id)
    assert view.refunded == Money("EUR", 0)
    assert [p["problem"] for p in await events(shop, "payment.problem")] == ["refund_failed"]
    async with shop.sessions() as session:
        assert (await session.execute(select(Refund.status))).scalar_one() == "failed"
    assert not (await shop.orders.order(alice, order.id)).refunded.minor
