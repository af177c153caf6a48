from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from shop.cart.models import PromoCode, PromoRedemption
from shop.cart.promo import (
    PromoRefused,
    create_promo,
    evaluate,
    find_promo,
    percent_of,
    redeem,
    release,
    set_promo_active,
)
from shop.cart.types import PromoInfo, PromoReason
from shop.customers.service import CustomerService
from shop.errors import InvalidInput, PromoInvalid
from shop.money import Money
from shop.orders.models import Order
from tests.conftest import Database

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
_numbers = itertools.count(1000)


def eur(minor: int) -> Money:
    return Money("EUR", minor)



async def _customer(db: Database, external_id: str) -> int:
    return (await CustomerService(db.sessions).get_or_create("telegram", external_id)).id


async def _orders(db: Database, customer_id: int, count: int) -> list[int]:
    async with db.sessions.begin() as session:
        orders = [Order(number=next(_numbers), customer_id=customer_id,
                        status="awaiting_payment", checkout_key=f"test:{next(_numbers)}",
                        currency="EUR", subtotal=1000, total=1000) for _ in range(count)]
        session.add_all(orders)
        await session.flush()
        return [order.id for order in orders]


async def _promo(db: Database, **fields: object) -> PromoInfo:
    async with db.sessions.begin() as session:
        return await create_promo(session, **fields)  # type: ignore[arg-type]


async def _used(db: Database, promo_id: int) -> tuple[int, int]:
    async with db.sessions() as session:
        count = (await session.execute(select(PromoCode.used_count)
                                       .where(PromoCode.id == promo_id))).scalar_one()
        rows = (await session.execute(
            select(func.count()).select_from(PromoRedemption)
            .where(PromoRedemption.promo_code_id == promo_id))).scalar_one()
    return count, rows


async def _evaluate(db: Database, code: str, subtotal: Money, *, customer_id: int | None = None,
                    now: datetime = NOW) -> int:
    async with db.sessions() as session:
        return await evaluate(session, code, customer_id=customer_id, subtotal=subtotal, now=now)


def test_percent_rounds_half_up() -> None:
    assert percent_of(1005, 15) == 151   # 150.75
    assert percent_of(1003, 10) == 100   # 100.3
    assert percent_of(5, 10) == 1        # 0.5 goes to the customer
    assert percent_of(4, 10) == 0        # 0.4
    assert percent_of(1, 50) == 1
    assert percent_of(2999, 100) == 2999
    assert percent_of(10**15 + 1, 33) == (10**15 + 1) * 33 // 100  # exact on big totals


async def test_create_validates(database: Database) -> None:
    made = await _promo(database, code=" summer-25_x ", kind="percent", value=25)
    assert (made.code, made.kind, made.value, made.used_count, made.active) == (
        "SUMMER-25_X", "percent", 25, 0, True)
    assert made.label == "25% off"
    fixed = await _promo(database, code="FIVE", kind="fixed", value=500, currency="eur")
    assert fixed.currency == "EUR" and fixed.label == "5.00 EUR off"
    later = NOW + timedelta(days=1)
    bad: list[tuple[dict[str, object], str]] = [
        ({"code": "AB", "kind": "percent", "value": 5}, "3 to 40"),
        ({"code": "A" * 41, "kind": "percent", "value": 5}, "3 to 40"),
        ({"code": "NO SPACE", "kind": "percent", "value": 5}, "3 to 40"),
        ({"code": "ÉTÉ1", "kind": "percent", "value": 5}, "3 to 40"),
        ({"code": "OK1", "kind": "bogo", "value": 5}, "unknown promo kind"),
        ({"code": "OK1", "kind": "percent", "value": 0}, "1 or more"),
        ({"code": "OK1", "kind": "percent", "value": 101}, "1 to 100"),
        ({"code": "OK1", "kind": "fixed", "value": 500}, "needs a currency"),
        ({"code": "OK1", "kind": "fixed", "value": 500, "currency": "EURO"}, "unknown currency"),
        ({"code": "OK1", "kind": "percent", "value": 5, "min_total": 100}, "needs a currency"),
        ({"code": "OK1", "kind": "percent", "value": 5, "min_total": -1}, "0 or more"),
        ({"code": "OK1", "kind": "percent", "value": 5, "starts_at": later, "ends_at": NOW},
         "end after it starts"),
        ({"code": "OK1", "kind": "percent", "value": 5, "starts_at": NOW, "ends_at": NOW},
         "end after it starts"),
        ({"code": "OK1", "kind": "percent", "value": 5, "ends_at": datetime(2030, 1, 1)},
         "time zone"),
        ({"code": "OK1", "kind": "percent", "value": 5, "max_uses": 0}, "1 or more"),
        ({"code": "OK1", "kind": "percent", "value": 5, "max_uses_per_customer": -3},
         "1 or more"),
        ({"code": "five", "kind": "percent", "value": 5}, "already exists"),
    ]
    for fields, message in bad:
        with pytest.raises(InvalidInput, match=message):
            await _promo(database, **fields)


async def test_each_reason_a_code_is_refused(database: Database) -> None:
    me = await _customer(database, "1")
    await _promo(database, code="OFF", kind="percent", value=5)
    async with database.sessions.begin() as session:
        await set_promo_active(session, "off", False)
    await _promo(database, code="SOON", kind="percent", value=5, starts_at=NOW + timedelta(hours=1))
    await _promo(database, code="OVER", kind="percent", value=5, ends_at=NOW)
    await _promo(database, code="MIN", kind="percent", value=5, currency="EUR", min_total=3000)
    await _promo(database, code="USD", kind="fixed", value=500, currency="USD")
    once = await _promo(database, code="ONCE", kind="percent", value=5, max_uses=1)
    mine = await _promo(database, code="MINE", kind="percent", value=5, max_uses_per_customer=1)
    orders = await _orders(database, me, 2)
    async with database.sessions.begin() as session:
        await redeem(session, once.id, customer_id=me, order_id=orders[0])
        await redeem(session, mine.id, customer_id=me, order_id=orders[1])

    cases = [
        ("NOPE", PromoReason.UNKNOWN, "promo code NOPE does not exist"),
        ("off", PromoReason.INACTIVE, "no longer active"),
        ("SOON", PromoReason.NOT_YET_VALID, "valid from 2025-06-01 13:00 UTC"),
        ("OVER", PromoReason.EXPIRED, "expired on 2025-06-01 12:00 UTC"),
        ("MIN", PromoReason.BELOW_MINIMUM, r"spend at least 30\.00 EUR to use promo code MIN"),
        ("USD", PromoReason.CURRENCY, "only applies to orders in USD"),
        ("ONCE", PromoReason.USED_UP, "has been used up"),
        ("MINE", PromoReason.CUSTOMER_LIMIT, "already used promo code MINE"),
    ]
    for code, reason, message in cases:
        with pytest.raises(PromoRefused, match=message) as refused:
            await _evaluate(database, code, eur(2999), customer_id=me)
        assert refused.value.reason is reason, code
    # The edges on the other side are fine.
    assert await _evaluate(database, "SOON", eur(1000), now=NOW + timedelta(hours=1)) == 50
    assert await _evaluate(database, "OVER", eur(1000), now=NOW - timedelta(seconds=1)) == 50
    assert await _evaluate(database, "MIN", eur(3000)) == 150
    assert await _evaluate(database, "MINE", eur(1000), customer_id=None) == 50
    other = await _customer(database, "2")
    assert await _evaluate(database, " mine ", eur(1000), customer_id=other) == 50


async def test_discount_amounts(database: Database) -> None:
    await _promo(database, code="P15", kind="percent", value=15)
    await _promo(database, code="ALL", kind="percent", value=100)
    await _promo(database, code="FIX5", kind="fixed", value=500, currency="EUR")
    assert await _evaluate(database, "p15", eur(1005)) == 151
    assert await _evaluate(database, "ALL", eur(2999)) == 2999
    assert await _evaluate(database, "FIX5", eur(2999)) == 500
    assert await _evaluate(database, "FIX5", eur(350)) == 350  # capped at the subtotal
    assert await _evaluate(database, "FIX5", eur(0)) == 0
    async with database.sessions() as session:
        info = await find_promo(session, "fix5")
        assert await evaluate(session, info, customer_id=None, subtotal=eur(700), now=NOW) == 500


async def test_concurrent_redeems_respect_max_uses(database: Database) -> None:
    promo = await _promo(database, code="FIRST5", kind="percent", value=10, max_uses=5)
    customers = [await _customer(database, f"c{i}") for i in range(20)]
    orders = [(await _orders(database, c, 1))[0] for c in customers]

    async def attempt(customer_id: int, order_id: int) -> bool:
        try:
            async with database.sessions.begin() as session:
                await redeem(session, promo.id, customer_id=customer_id, order_id=order_id)
        except PromoInvalid:
            return False
        return True

    results = await asyncio.gather(*(attempt(c, o) for c, o in zip(customers, orders,
                                                                     strict=True)))
    assert sum(results) == 5
    assert await _used(database, promo.id) == (5, 5)


async def test_concurrent_redeems_respect_per_customer_limit(database: Database) -> None:
    promo = await _promo(database, code="TWICE", kind="percent", value=10,
                         max_uses_per_customer=2)
    me = await _customer(database, "1")
    orders = await _orders(database, me, 10)

    async def attempt(order_id: int) -> PromoReason | None:
        try:
            async with database.sessions.begin() as session:
                await redeem(session, promo.id, customer_id=me, order_id=order_id)
        except PromoRefused as refused:
            return refused.reason
        return None

    results = await asyncio.gather(*(attempt(o) for o in orders))
    assert results.count(None) == 2
    assert results.count(PromoReason.CUSTOMER_LIMIT) == 8
    assert await _used(database, promo.id) == (2, 2)


async def test_refusal_leaves_nothing_when_the_caller_carries_on(database: Database) -> None:
    promo = await _promo(database, code="ONE", kind="percent", value=10,
                         max_uses_per_customer=1)
    me = await _customer(database, "1")
    first, second = await _orders(database, me, 2)
    async with database.sessions.begin() as session:
        await redeem(session, promo.id, customer_id=me, order_id=first)
        with pytest.raises(PromoRefused, match="once per customer"):
            await redeem(session, promo.id, customer_id=me, order_id=second)
        # The checkout may go on without the discount; the refused use must not count.
    assert await _used(database, promo.id) == (1, 1)


async def test_redeem_is_idempotent_per_order_and_release_gives_back(database: Database) -> None:
    promo = await _promo(database, code="SOLO", kind="fixed", value=100, currency="EUR",
                         max_uses=1)
    other = await _promo(database, code="ELSE", kind="percent", value=5)
    me = await _customer(database, "1")
    first, second = await _orders(database, me, 2)
    async with database.sessions.begin() as session:
        await redeem(session, promo.id, customer_id=me, order_id=first)
        await redeem(session, promo.id, customer_id=me, order_id=first)  # a retry
        with pytest.raises(InvalidInput):
            await redeem(session, other.id, customer_id=me, order_id=first)
    assert await _used(database, promo.id) == (1, 1)
    with pytest.raises(PromoRefused, match="used up"):
        async with database.sessions.begin() as session:
            await redeem(session, promo.id, customer_id=me, order_id=second)

    async with database.sessions.begin() as session:
        await release(session, first)
    assert await _used(database, promo.id) == (0, 0)
    async with database.sessions.begin() as session:
        await release(session, first)  # again: nothing more given back
        await release(session, 999_999)  # an order without a code
    assert await _used(database, promo.id) == (0, 0)
    async with database.sessions.begin() as session:
        await redeem(session, promo.id, customer_id=me, order_id=second)
    assert await _used(database, promo.id) == (1, 1)


async def test_concurrent_releases_give_back_once(database: Database) -> None:
    promo = await _promo(database, code="BACK", kind="percent", value=10)
    me = await _customer(database, "1")
    kept, cancelled = await _orders(database, me, 2)
    async with database.sessions.begin() as session:
        await redeem(session, promo.id, customer_id=me, order_id=kept)
        await redeem(session, promo.id, customer_id=me, order_id=cancelled)

    async def undo() -> None:
        async with database.sessions.begin() as session:
            await release(session, cancelled)

    await asyncio.gather(*(undo() for _ in range(5)))
    assert await _used(database, promo.id) == (1, 1)


async def test_inactive_or_missing_code_cannot_be_redeemed(database: Database) -> None:
    promo = await _promo(database, code="GONE", kind="percent", value=10)
    async with database.sessions.begin() as session:
        await set_promo_active(session, "GONE", False)
    me = await _customer(database, "1")
    (order,) = await _orders(database, me, 1)
    for promo_id, reason in [(promo.id, PromoReason.INACTIVE), (999_999, PromoReason.UNKNOWN)]:
        with pytest.raises(PromoRefused) as refused:
            async with database.sessions.begin() as session:
                await redeem(session, promo_id, customer_id=me, order_id=order)
        assert refused.value.reason is reason
