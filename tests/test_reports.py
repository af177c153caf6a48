"""Sales reports on both databases: a scripted few days of sales in Paris time, every figure
checked against the orders the script made; period boundaries; permissions; the daily
summary published once a day."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.exc import OperationalError

from shop.auth import CustomerActor
from shop.bootstrap import Shop
from shop.db.engine import create_engine, session_factory
from shop.errors import InvalidInput, NotAllowed, OutOfStock
from shop.events.models import OutboxEvent
from shop.money import Money
from shop.orders.checkout import CheckoutRequest
from shop.orders.returns import ReturnItem
from shop.orders.types import OrderView
from shop.payments.models import Refund
from shop.payments.recording import Outcome
from shop.reports.daily import publish_daily_report
from shop.reports.funnel import FunnelRecorder
from shop.reports.models import FunnelEvent
from shop.reports.types import Period, SalesReport
from tests.conftest import Database
from tests.support.flows import Chat
from tests.support.shop import (
    MANAGER,
    OWNER,
    SUPPORT,
    Clock,
    buy,
    customer,
    make_shop,
    pay,
    seed_basics,
)
from tests.support.waiting import eventually

PARIS = ZoneInfo("Europe/Paris")


def paris(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Paris wall-clock time in 2026, as the UTC instant the shop's clock gives."""
    return datetime(2026, month, day, hour, minute, tzinfo=PARIS).astimezone(UTC)


def half_up(value: Fraction) -> int:
    return int(value + Fraction(1, 2))


@pytest.fixture
def clock() -> Clock:
    return Clock(paris(10, 30, 12))


@pytest.fixture
async def shop(database: Database, clock: Clock) -> Shop:
    return make_shop(database, clock, shop_timezone="Europe/Paris", daily_report_hour=8)


async def stamp_refunds(shop: Shop, order_id: int, at: datetime) -> None:
    """Refund rows take their time from the wall clock (the column default), not the shop's
    clock; put this order's refunds at the scripted moment they were issued."""
    async with shop.sessions.begin() as session:
        await session.execute(update(Refund).where(Refund.order_id == order_id)
                              .values(created_at=at))


@dataclass
class Script:
    e: OrderView  # paid Oct 30, delivered, return requested today
    d: OrderView  # paid yesterday 23:30 Paris, part refunded today
    a: OrderView  # paid today 00:10 Paris (23:10 UTC yesterday), paid twice
    b: OrderView  # paid today, cancelled and refunded today
    h: OrderView  # digital, paid today in Telegram Stars, refunded in full today
    c: OrderView  # checked out today, never paid


async def scripted_sales(shop: Shop, clock: Clock) -> Script:
    ids = await seed_basics(shop)

    eve, eve_address = await customer(shop, "500")
    e = await buy(shop, eve, eve_address, ids["pickup"], {ids["TEE-M"]: 1})
    await pay(shop, eve, e.id)
    await shop.orders.confirm(MANAGER, e.id)
    await shop.orders.ship(MANAGER, e.id, carrier="Post", tracking_number="RR1")
    await shop.orders.deliver(MANAGER, e.id)

    clock.now = paris(11, 1, 23, 30)
    dan, dan_address = await customer(shop, "400")
    shop.reports.searched(dan.customer_id)
    d = await buy(shop, dan, dan_address, ids["post"], {ids["TEE-M"]: 2})
    await pay(shop, dan, d.id)

    clock.now = paris(11, 2, 0, 10)
    ann, ann_address = await customer(shop, "100")
    shop.reports.searched(ann.customer_id)
    shop.reports.searched(ann.customer_id)
    a = await buy(shop, ann, ann_address, ids["pickup"], {ids["TEE-M"]: 1, ids["MUG"]: 1})
    first = await shop.payments.test_confirmation(ann, a.id)
    clock.advance(seconds=5)  # a second payment page, both paid at the same instant
    second = await shop.payments.test_confirmation(ann, a.id)
    assert (await shop.payments.confirm_test_payment(first)).outcome == Outcome.PAID
    assert (await shop.payments.confirm_test_payment(second)).outcome == Outcome.EXTRA_REFUND
    await stamp_refunds(shop, a.id, clock.now)

    clock.now = paris(11, 2, 9)
    bob, bob_address = await customer(shop, "200")
    shop.reports.searched(bob.customer_id)
    b = await buy(shop, bob, bob_address, ids["courier"], {ids["TEE-L"]: 2})
    await pay(shop, bob, b.id)

    clock.now = paris(11, 2, 10)
    hal, _ = await customer(shop, "600")
    await shop.carts.add(hal.customer_id, ids["EBOOK"], 2)
    h = await shop.orders.checkout(CheckoutRequest(hal.customer_id))
    invoice = await shop.payments.telegram_invoice(hal, h.id)
    assert invoice.currency == "XTR"
    await shop.payments.telegram_payment(
        payload=invoice.payload, currency="XTR", total_amount=invoice.prices[0].amount,
        telegram_payment_charge_id="stxHal", provider_payment_charge_id="")

    clock.now = paris(11, 2, 11)
    cid, cid_address = await customer(shop, "300")
    shop.reports.searched(cid.customer_id)
    c = await buy(shop, cid, cid_address, ids["pickup"], {ids["TEE-L"]: 1})

    clock.now = paris(11, 2, 12)
    fay, _ = await customer(shop, "700")
    await shop.carts.add(fay.customer_id, ids["MUG"], 1)
    gus, _ = await customer(shop, "800")
    shop.reports.searched(gus.customer_id)

    clock.now = paris(11, 2, 13)
    await shop.returns.request(eve, e.id, [ReturnItem(e.lines[0].id, 1)], "too small")

    clock.now = paris(11, 2, 14)
    await shop.orders.cancel(MANAGER, b.id, reason="changed mind")
    await stamp_refunds(shop, b.id, clock.now)

    async def refund_stars(user_id: int, charge_id: str) -> None:
        pass

    shop.refunds.stars = refund_stars
    assert (await shop.payments.refund(MANAGER, h.id, None, "wrong book")).ok
    await stamp_refunds(shop, h.id, clock.now)
    assert (await shop.payments.refund(MANAGER, d.id, 500, "scratched")).ok
    await stamp_refunds(shop, d.id, clock.now)

    clock.now = paris(11, 2, 16)
    return Script(e=e, d=d, a=a, b=b, h=h, c=c)


def money(minor: int) -> Money:
    return Money("EUR", minor)


def day_series(report: SalesReport) -> dict[date, tuple[int, int]]:
    return {d.day: (d.revenue.minor, d.orders) for d in report.days}


async def test_today_yesterday_week_month_add_up_to_the_orders(shop: Shop, clock: Clock
                                                               ) -> None:
    s = await scripted_sales(shop, clock)
    assert s.b.total == money(2 * 2200 + 600)  # the courier is not free under 50 EUR
    assert s.h.total == money(2 * 900)

    today = await shop.reports.report(MANAGER, "today")
    assert (today.period, today.first_day, today.last_day) == (
        Period.TODAY, date(2026, 11, 2), date(2026, 11, 2))
    assert today.start == datetime(2026, 11, 1, 23, tzinfo=UTC)
    assert today.end == datetime(2026, 11, 2, 23, tzinfo=UTC)
    assert today.label == "2026-11-02" and today.generated_at == clock.now
    gross = s.a.total.minor + s.b.total.minor + s.h.total.minor  # paid today, Paris time
    # B and the Stars order back in full, 5.00 of yesterday's D; A's second payment was
    # never revenue, so giving it back is not counted.
    refunded = s.b.total.minor + s.h.total.minor + 500
    assert today.revenue == money(gross) and today.orders_paid == 3
    assert today.refunded == money(refunded) and today.net == money(gross - refunded)
    assert today.average_order_value == money(half_up(Fraction(gross, 3)))
    assert [(p.title, p.units, p.revenue) for p in today.top_products] == [
        ("Classic Tee", 3, money(2000 + 2 * 2200)),
        ("Python E-book", 2, money(2 * 900)),
        ("Enamel Mug", 1, money(1250)),
    ]
    f = today.funnel
    # Searched: Ann (twice), Bob, Cid, Gus. Carts: Ann (two adds), Bob, Hal, Cid, Fay.
    assert (f.searched, f.searches) == (4, 5)
    assert (f.added_to_cart, f.cart_adds) == (5, 6)
    assert (f.checked_out, f.checkouts) == (4, 4)  # Ann, Bob, Hal, Cid
    assert (f.paid, f.paid_orders) == (3, 3)
    assert today.returns_requested == 1
    assert today.return_rate_bp == half_up(Fraction(1 * 10_000, 3)) == 3333
    assert day_series(today) == {date(2026, 11, 2): (gross, 3)}

    yesterday = await shop.reports.report(OWNER, Period.YESTERDAY)
    assert yesterday.start == datetime(2026, 10, 31, 23, tzinfo=UTC)
    assert yesterday.revenue == money(s.d.total.minor) and yesterday.orders_paid == 1
    assert yesterday.refunded == money(0)  # D's refund came today
    assert [(p.title, p.units) for p in yesterday.top_products] == [("Classic Tee", 2)]
    assert yesterday.funnel.steps() == (("searched", 1), ("added_to_cart", 1),
                                        ("checked_out", 1), ("paid", 1))
    assert (yesterday.returns_requested, yesterday.return_rate_bp) == (0, 0)

    week = await shop.reports.report(MANAGER, " Week ")
    assert (week.first_day, week.last_day, len(week.days)) == (
        date(2026, 10, 27), date(2026, 11, 2), 7)
    week_gross = gross + s.e.total.minor + s.d.total.minor
    assert week.revenue == money(week_gross) and week.orders_paid == 5
    assert week.refunded == money(refunded)
    assert week.top_products[0].title == "Classic Tee"
    assert (week.top_products[0].units, week.top_products[0].revenue) == (
        1 + 2 + 1 + 2, money(4 * 2000 + 2 * 2200))
    assert day_series(week) == {
        date(2026, 10, 27) + timedelta(days=i): (0, 0) for i in range(7)} | {
        date(2026, 10, 30): (s.e.total.minor, 1), date(2026, 11, 1): (s.d.total.minor, 1),
        date(2026, 11, 2): (gross, 3)}
    assert (week.funnel.searched, week.funnel.added_to_cart, week.funnel.checked_out,
            week.funnel.paid) == (5, 7, 6, 5)
    assert week.return_rate_bp == 2000  # one return per five orders paid

    month = await shop.reports.report(MANAGER, "month")
    assert (month.first_day, len(month.days)) == (date(2026, 10, 4), 30)
    assert month.start == datetime(2026, 10, 3, 22, tzinfo=UTC)  # still summer time then
    assert sum(d.revenue.minor for d in month.days) == month.revenue.minor == week_gross
    assert month.funnel == week.funnel


async def test_boundaries_follow_the_shop_time_zone(shop: Shop, clock: Clock) -> None:
    ids = await seed_basics(shop)
    ann, address = await customer(shop, "100")
    clock.now = paris(11, 1, 23, 59)
    late = await buy(shop, ann, address, ids["pickup"], {ids["MUG"]: 1})
    await pay(shop, ann, late.id)
    clock.now = paris(11, 2, 0, 0)  # 23:00 UTC on Nov 1, already Nov 2 in Paris
    early = await buy(shop, ann, address, ids["pickup"], {ids["TEE-M"]: 1})
    await pay(shop, ann, early.id)

    today = await shop.reports.report(MANAGER, "today", now=paris(11, 2, 23, 59))
    assert today.revenue == early.total and today.orders_paid == 1
    yesterday = await shop.reports.report(MANAGER, "yesterday", now=paris(11, 2, 1))
    assert yesterday.revenue == late.total and yesterday.orders_paid == 1
    # At 00:30 Paris on Nov 3 both are in the past: "today" is empty.
    empty = await shop.reports.report(MANAGER, "today", now=paris(11, 3, 0, 30))
    assert (empty.revenue, empty.orders_paid, empty.top_products) == (money(0), 0, ())
    assert empty.average_order_value == money(0) and empty.return_rate_bp is None
    assert day_series(empty) == {date(2026, 11, 3): (0, 0)}


async def test_average_order_value_rounds_half_up(shop: Shop, clock: Clock) -> None:
    ids = await seed_basics(shop)
    clock.now = paris(11, 2, 10)
    expected = {2: 1625, 3: 1750, 4: 1813}  # 3250/2, 5250/3, 7250/4 = 1812.5 → up
    for n, sku in enumerate(("MUG", "TEE-M", "TEE-M", "TEE-M"), start=1):
        who, address = await customer(shop, str(n))
        order = await buy(shop, who, address, ids["pickup"], {ids[sku]: 1})
        await pay(shop, who, order.id)
        report = await shop.reports.report(MANAGER, "today")
        assert report.orders_paid == n
        if n in expected:
            assert report.average_order_value == money(expected[n])


async def test_permissions_and_periods(shop: Shop) -> None:
    with pytest.raises(NotAllowed):
        await shop.reports.report(SUPPORT, "today")
    with pytest.raises(NotAllowed):
        await shop.reports.report(CustomerActor(1), "today")
    with pytest.raises(InvalidInput, match="today, yesterday, week"):
        await shop.reports.report(OWNER, "decade")
    assert (await shop.reports.report(OWNER, "today")).orders_paid == 0


async def test_daily_summary_is_published_once_a_day_from_its_hour(
        shop: Shop, clock: Clock) -> None:
    async def publish(at: datetime) -> bool:
        return await publish_daily_report(shop.sessions, now=at, hour=8,
                                          timezone="Europe/Paris")

    assert not await publish(paris(11, 2, 7, 59))
    # Several workers at the hour: exactly one publishes.
    results = await asyncio.gather(*(publish(paris(11, 2, 8)) for _ in range(3)))
    assert sorted(results) == [False, False, True]
    assert not await publish(paris(11, 2, 22))  # a restart later that day
    assert await publish(paris(11, 3, 9))
    async with shop.sessions() as session:
        events = (await session.execute(select(OutboxEvent.payload).where(
            OutboxEvent.topic == "report.daily").order_by(OutboxEvent.id))).scalars().all()
    assert [e["day"] for e in events] == ["2026-11-01", "2026-11-02"]


async def test_searching_in_the_chat_and_adding_to_cart_are_funnel_steps(
        shop: Shop, clock: Clock) -> None:
    await seed_basics(shop)
    await shop.catalog.load_index()
    clock.now = paris(11, 2, 10)
    chat = await Chat.open(shop, "900")
    found = await chat.send("mug")
    assert "Results for" in found.text.plain
    await chat.press("In stock only")  # refining the results is not a new search
    await chat.send("tee")
    funnel = (await shop.reports.report(MANAGER, "today")).funnel
    assert (funnel.searched, funnel.searches) == (1, 2)
    # A refused add (out of stock) is rolled back with its funnel step.
    mug = (await shop.catalog.variant(sku="MUG")).id
    with pytest.raises(OutOfStock):
        await shop.carts.add(chat.convo.customer_id, mug, 4)
    await shop.carts.add(chat.convo.customer_id, mug, 1)
    funnel = (await shop.reports.report(MANAGER, "today")).funnel
    assert (funnel.added_to_cart, funnel.cart_adds) == (1, 1)


async def test_searches_wait_for_a_working_database(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "not yet"
    engine = create_engine(f"sqlite+aiosqlite:///{folder / 'shop.db'}")
    try:
        recorder = FunnelRecorder(session_factory(engine), max_pending=3)
        for customer_id in (0, 1, 2):
            recorder.searched(customer_id)
        assert await recorder.flush() is False  # no database: kept
        for customer_id in (3, 4):  # over 3 waiting: the oldest dropped
            recorder.searched(customer_id)
        assert await recorder.flush() is False
        assert recorder.pending == 3
        assert caplog.text.count("dropping the oldest") == 1  # said once, not per search
        folder.mkdir()  # the database is back
        async with engine.begin() as connection:
            await connection.run_sync(FunnelEvent.metadata.create_all,
                                      tables=[cast(Table, FunnelEvent.__table__)])
        assert await recorder.flush() is True and recorder.pending == 0
        async with engine.connect() as connection:
            kept = (await connection.execute(select(FunnelEvent.customer_id)
                                             .order_by(FunnelEvent.id))).scalars().all()
        assert kept == [2, 3, 4]
        assert "2 funnel steps were dropped while the database refused them" in caplog.text
    finally:
        await engine.dispose()


async def test_funnel_steps_are_stored_with_the_shop_clock(shop: Shop, clock: Clock) -> None:
    clock.now = paris(11, 2, 10)
    shop.reports.searched(42)
    clock.advance(seconds=30)  # written later, stamped with the time of the search
    assert await shop.reports.funnel.flush() is True
    async with shop.sessions() as session:
        rows = (await session.execute(select(FunnelEvent.kind, FunnelEvent.customer_id,
                                             FunnelEvent.at))).tuples().all()
        assert await session.scalar(select(func.count()).select_from(FunnelEvent)) == 1
    assert rows == [("search", 42, paris(11, 2, 10))]


async def _stored_searches_are(shop: Shop, count: int) -> bool:
    async with shop.sessions() as session:
        return await session.scalar(select(func.count()).select_from(FunnelEvent)) == count


async def test_searches_are_written_in_batches_by_the_background_and_at_close(
        shop: Shop) -> None:
    shop.reports.funnel = FunnelRecorder(shop.sessions, flush_every_s=0.05, batch=10)
    stop = asyncio.Event()
    running = asyncio.create_task(shop.reports.funnel.run(stop))
    try:
        for customer_id in range(3):
            shop.reports.searched(customer_id)
        assert shop.reports.funnel.pending == 3  # noted: the search wrote nothing
        await eventually(lambda: _stored_searches_are(shop, 3))
        # A full batch goes without waiting for the period.
        shop.reports.funnel = FunnelRecorder(shop.sessions, flush_every_s=3600, batch=10)
        for customer_id in range(25):
            shop.reports.searched(customer_id)
        await eventually(lambda: _stored_searches_are(shop, 28))
    finally:
        stop.set()
        await running
    shop.reports.searched(99)
    shop.reports.searched(100)
    assert shop.reports.funnel.pending == 2
    await shop.close()  # a worker shutting down writes what is left
    assert await _stored_searches_are(shop, 30)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_long_report_on_sqlite_leaves_the_event_loop_free(shop: Shop,
                                                                  clock: Clock) -> None:
    """The SQLite driver runs statements in the loop's thread; a report's scans run on a
    thread of their own instead (shop.db.engine.create_long_read_engine)."""
    start = clock.now - timedelta(days=20)
    rows = [{"kind": "search" if n % 3 else "cart", "customer_id": n % 4000,
             "at": start + timedelta(seconds=n * 7)} for n in range(150_000)]
    async with shop.sessions.begin() as session:
        await session.execute(insert(FunnelEvent), rows)
    turns = 0
    done = asyncio.Event()

    async def other_customers() -> None:  # stands for every other update the loop serves
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(other_customers())
    try:
        report = await shop.reports.report(OWNER, "month")
    finally:
        done.set()
        await ticker
    assert report.funnel.searches == 100_000 and report.funnel.cart_adds == 50_000
    # Held by the report, the loop would turn once per statement (a few dozen times); free,
    # it turns thousands of times while SQLite counts.
    assert turns > 1_000, turns


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_long_read_connection_cannot_write(shop: Shop) -> None:
    assert shop.long_read_engine is not None
    async with session_factory(shop.long_read_engine)() as session:
        with pytest.raises(OperationalError, match="readonly database"):
            await session.execute(insert(FunnelEvent), [{"kind": "search", "customer_id": 1,
                                                         "at": datetime.now(UTC)}])
