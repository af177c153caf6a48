"""Pickup orders need no address (and only pickup may go without one); an order paid with
Telegram Stars shows what it is worth in its currency and the Stars it was paid with.
Both databases, through the shop's services."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from shop.auth import CustomerActor
from shop.bootstrap import Shop
from shop.db.engine import create_engine
from shop.db.migrate import upgrade
from shop.demo.loader import load_demo
from shop.errors import InputReason, InvalidInput, PaymentRejected
from shop.money import Money
from shop.orders.checkout import CheckoutRequest
from shop.orders.models import Order
from shop.orders.states import OrderStatus
from shop.payments.recording import Outcome
from shop.shipping.admin import create_method, list_methods, update_method
from shop.shipping.types import ShippingKind
from tests.conftest import Database
from tests.support.shop import Clock, customer, make_shop, seed_basics

TOKEN = "284685063:TEST:token"


@pytest.fixture
async def shop(database: Database) -> Shop:
    return make_shop(database, Clock(), payment_provider_token=TOKEN)


async def orders_in_db(shop: Shop) -> int:
    async with shop.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Order)) or 0)


async def test_pickup_order_has_no_address_and_its_invoice_asks_for_none(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, _ = await customer(shop, "100")
    await shop.carts.add(alice.customer_id, ids["TEE-M"], 2)
    order = await shop.orders.checkout(CheckoutRequest(alice.customer_id, None, ids["pickup"]))
    assert order.status == OrderStatus.AWAITING_PAYMENT and order.pickup
    assert order.address is None and order.shipping_method == "Pickup at the shop"
    assert order.shipping_total == Money("EUR", 0) and order.total == Money("EUR", 4000)

    invoice = await shop.payments.telegram_invoice(alice, order.id)
    assert invoice.currency == "EUR" and invoice.total == 4000
    assert not invoice.need_shipping_address and not invoice.is_flexible
    with pytest.raises(PaymentRejected) as no_delivery:
        await shop.payments.shipping_options(payload=invoice.payload, country="FR")
    assert no_delivery.value.reason == "no_delivery"

    # A delivery order still asks for the address in the payment sheet.
    bob, bob_address = await customer(shop, "200")
    await shop.carts.add(bob.customer_id, ids["TEE-L"], 1)
    courier = await shop.orders.checkout(CheckoutRequest(bob.customer_id, bob_address,
                                                         ids["courier"]))
    assert not courier.pickup and courier.address is not None
    card = await shop.payments.telegram_invoice(bob, courier.id)
    assert card.need_shipping_address and card.is_flexible


async def test_only_pickup_goes_without_an_address(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, address = await customer(shop, "100")
    await shop.carts.add(alice.customer_id, ids["MUG"], 1)
    for method in ("courier", "post"):
        with pytest.raises(InvalidInput) as refused:
            await shop.orders.checkout(CheckoutRequest(alice.customer_id, None, ids[method]))
        assert refused.value.field == "address" and refused.value.reason == InputReason.REQUIRED
        assert refused.value.params["method"] in ("Courier (1–2 days)", "Post (3–5 days)")
        assert "delivery address" in str(refused.value)
    with pytest.raises(InvalidInput) as no_method:
        await shop.orders.checkout(CheckoutRequest(alice.customer_id, address, None))
    assert no_method.value.field == "shipping_method"
    assert await orders_in_db(shop) == 0
    assert (await shop.catalog.variant(sku="MUG")).stock == 3, "nothing reserved"
    # Pickup with an address (as before) is still accepted: the address is kept.
    kept = await shop.orders.checkout(CheckoutRequest(alice.customer_id, address, ids["pickup"]))
    assert kept.address is not None and not kept.pickup


async def test_pickup_quotes_without_a_country_and_the_demo_marks_its_pickup(
        shop: Shop) -> None:
    await load_demo(shop)
    async with shop.sessions() as session:
        methods = await list_methods(session)
    pickup = [m for m in methods if not m.needs_address]
    assert [(m.code, m.kind) for m in pickup] == [("pickup", ShippingKind.PICKUP)]
    assert all(m.needs_address for m in methods if m.code != "pickup")
    quotes = await shop.shipping.quotes(country=None, weight_grams=1200,
                                        goods_total=Money("EUR", 4000))
    assert [(q.code, q.free, q.needs_address) for q in quotes] == [("pickup", True, False)]
    to_france = await shop.shipping.quotes(country="FR", weight_grams=1200,
                                           goods_total=Money("EUR", 4000))
    assert {q.code for q in to_france} == {"pickup", "courier", "post"}


async def test_a_priced_collection_point_needs_no_address_and_pickup_never_one(
        shop: Shop) -> None:
    ids = await seed_basics(shop)
    async with shop.sessions.begin() as session:
        locker = await create_method(session, code="locker", name="Parcel locker",
                                     kind="flat", currency="EUR", price=299,
                                     needs_address=False, position=5)
        with pytest.raises(InvalidInput) as pickup_with_address:
            await create_method(session, code="shop2", name="Shop 2", kind="pickup",
                                 currency="EUR", needs_address=True)
        assert pickup_with_address.value.field == "needs_address"
        moved = await update_method(session, ids["courier"], kind="pickup", price=0)
        assert not moved.needs_address, "a method turned into pickup stops asking"
        back = await update_method(session, ids["courier"], kind="flat", price=600)
        assert back.needs_address
    assert not locker.needs_address
    alice, _ = await customer(shop, "100")
    await shop.carts.add(alice.customer_id, ids["MUG"], 1)
    quotes = await shop.shipping.quotes(country=None, weight_grams=300,
                                        goods_total=Money("EUR", 1250))
    assert [(q.code, q.price.minor) for q in quotes] == [("pickup", 0), ("locker", 299)]
    order = await shop.orders.checkout(CheckoutRequest(alice.customer_id, None, locker.id))
    assert order.address is None and order.pickup
    assert order.shipping_total == Money("EUR", 299) and order.total == Money("EUR", 1549)


async def test_migration_0006_keeps_existing_pickup_methods_addressless(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await upgrade(engine, "0005")
        async with engine.begin() as conn:
            for code, kind in (("pickup", "pickup"), ("courier", "flat")):
                await conn.execute(text(
                    "INSERT INTO shipping_methods (code, name, kind, price, currency, "
                    "countries, active, position) VALUES (:code, :code, :kind, 0, 'EUR', "
                    "'[\"*\"]', 1, 0)"), {"code": code, "kind": kind})
        await upgrade(engine, "0006")
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT code, needs_address FROM shipping_methods ORDER BY code"))).all()
        assert [(code, bool(needs)) for code, needs in rows] == [("courier", True),
                                                                 ("pickup", False)]
    finally:
        await engine.dispose()


async def pay_with_stars(shop: Shop, actor: CustomerActor, order_id: int, charge: str,
                         stars: int | None = None) -> Outcome:
    invoice = await shop.payments.telegram_invoice(actor, order_id)
    assert invoice.currency == "XTR"
    result = await shop.payments.telegram_payment(
        payload=invoice.payload, currency="XTR",
        total_amount=invoice.total if stars is None else stars,
        telegram_payment_charge_id=charge, provider_payment_charge_id=None)
    return result.outcome


async def test_stars_payment_is_worth_the_total_and_shown_in_stars(shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, _ = await customer(shop, "100")
    await shop.carts.add(alice.customer_id, ids["EBOOK"], 1)
    order = await shop.orders.checkout(CheckoutRequest(alice.customer_id))
    assert order.paid == Money("EUR", 0) and order.paid_stars == 0
    assert await pay_with_stars(shop, alice, order.id, "stars-1") == Outcome.PAID
    paid = await shop.orders.order(alice, order.id)
    assert paid.status == OrderStatus.PAID
    assert paid.paid == paid.total == Money("EUR", 900)  # 9.00 EUR at 50 Stars per euro
    assert paid.paid_stars == 450 and paid.refunded_stars == 0
    assert paid.refunded == Money("EUR", 0)


async def test_stars_that_do_not_pay_the_order_are_worth_nothing_in_its_currency(
        shop: Shop) -> None:
    ids = await seed_basics(shop)
    alice, _ = await customer(shop, "100")
    await shop.carts.add(alice.customer_id, ids["EBOOK"], 1)
    order = await shop.orders.checkout(CheckoutRequest(alice.customer_id))
    assert await pay_with_stars(shop, alice, order.id, "short", stars=7) == Outcome.MISMATCH
    view = await shop.orders.order(alice, order.id)
    assert view.status == OrderStatus.AWAITING_PAYMENT
    assert view.paid == Money("EUR", 0) and view.paid_stars == 7
