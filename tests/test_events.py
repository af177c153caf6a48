"""The outbox relay and idempotent consumers, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.db.base import utcnow
from shop.db.engine import create_engine, session_factory
from shop.events.consumers import idempotent, once, receipt_consumer
from shop.events.delivery import DeliveredEvent
from shop.events.models import EventDelivery, OutboxEvent
from shop.events.outbox import Topic, publish
from shop.events.relay import Relay
from shop.events.retry_policy import RetryPolicy
from shop.redaction import describe_error
from tests.conftest import Database

WAIT = 10.0  # seconds any condition in these tests may take before the test fails

effects_metadata = MetaData()
effects = Table(
    "test_effects",
    effects_metadata,
    Column("event_id", BigInteger, nullable=False),
    Column("actor", String(60), nullable=False),
)


class Clock:
    """A hand-driven clock, starting at the real time so event timestamps line up."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Recorder:
    """A handler remembering what it received."""

    def __init__(self) -> None:
        self.events: list[DeliveredEvent] = []
        self._arrived = asyncio.Event()

    async def __call__(self, event: DeliveredEvent) -> None:
        self.events.append(event)
        self._arrived.set()

    async def wait_for(self, count: int) -> None:
        """Return once ``count`` events have arrived; fail the test after WAIT seconds."""
        async def arrived() -> None:
            while len(self.events) < count:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(arrived(), WAIT)

    @property
    def ids(self) -> list[int]:
        return [event.id for event in self.events]


class Crash(BaseException):
    """Stands for the process dying: the relay does not catch it, like a real crash."""


async def publish_in_one_transaction(db: Database, *items: tuple[Topic, dict[str, Any]]) -> None:
    async with db.sessions.begin() as session:
        for topic, payload in items:
            publish(session, topic, payload)


async def all_event_ids(db: Database, *topics: Topic) -> list[int]:
    query = select(OutboxEvent.id).order_by(OutboxEvent.id)
    if topics:
        query = query.where(OutboxEvent.topic.in_([str(topic) for topic in topics]))
    async with db.sessions() as session:
        return list((await session.scalars(query)).all())


async def delivery_row(db: Database, consumer: str, event_id: int) -> EventDelivery:
    async with db.sessions() as session:
        return (await session.scalars(select(EventDelivery).where(
            EventDelivery.consumer == consumer, EventDelivery.event_id == event_id))).one()


async def drain(relay: Relay, max_passes: int = 50) -> int:
    total = 0
    for _ in range(max_passes):
        delivered = await relay.run_once()
        if delivered == 0:
            return total
        total += delivered
    raise AssertionError("the relay never ran out of work")


async def create_effects_table(db: Database) -> None:
    async with db.engine.begin() as connection:
        await connection.run_sync(effects_metadata.create_all)


async def effect_counts(db: Database) -> Counter[tuple[str, int]]:
    async with db.sessions() as session:
        rows = (await session.execute(select(effects.c.actor, effects.c.event_id))).all()
    return Counter((actor, event_id) for actor, event_id in rows)


async def insert_event(db: Database, event_id: int, created_at: datetime) -> None:
    """An outbox row with a chosen id: stands in for a transaction that commits late."""
    async with db.sessions.begin() as session:
        session.add(OutboxEvent(id=event_id, topic=str(Topic.ORDER_PAID),
                                payload={"n": event_id}, created_at=created_at))


async def test_each_subscriber_gets_each_event_once_in_order(database: Database) -> None:
    await publish_in_one_transaction(
        database, *[(Topic.ORDER_PLACED, {"n": n}) for n in range(4)])
    await publish_in_one_transaction(
        database, *[(Topic.ORDER_PAID, {"n": n}) for n in range(4, 9)])
    await publish_in_one_transaction(
        database, *[(Topic.STOCK_LOW, {"n": n}) for n in range(9, 12)])
    alerts, notes = Recorder(), Recorder()
    relay = Relay(database.sessions, batch_size=5)
    relay.subscribe("staff_alerts", alerts)
    relay.subscribe("customer_notifications", notes)

    assert await relay.pending() == 24
    assert await relay.run_once() == 10  # one batch of 5 per consumer
    assert await drain(relay) == 14
    ids = await all_event_ids(database)
    for recorder in (alerts, notes):
        assert recorder.ids == ids
        assert [event.payload["n"] for event in recorder.events] == list(range(12))
        assert recorder.events[0].topic == "order.placed"
        assert recorder.events[-1].topic == "stock.low"
        assert recorder.events[0].created_at.tzinfo is not None
    assert await relay.run_once() == 0
    assert await relay.pending() == 0
    row = await delivery_row(database, "staff_alerts", ids[5])
    assert (row.done, row.attempts, row.next_attempt_at, row.last_error) == (True, 1, None, None)

    # A restarted relay finds nothing left to do.
    again = Recorder()
    restarted = Relay(database.sessions)
    restarted.subscribe("staff_alerts", again)
    assert await drain(restarted) == 0 and again.events == []


async def test_topic_filtering(database: Database) -> None:
    await publish_in_one_transaction(
        database,
        (Topic.ORDER_PLACED, {"n": 1}), (Topic.ORDER_PAID, {"n": 2}),
        (Topic.STOCK_LOW, {"n": 3}), (Topic.SUPPORT_MESSAGE, {"n": 4}),
        (Topic.ORDER_PAID, {"n": 5}),
    )
    paid, stock_and_support, everything = Recorder(), Recorder(), Recorder()
    relay = Relay(database.sessions)
    relay.subscribe("paid", paid, [Topic.ORDER_PAID])
    relay.subscribe("stock_and_support", stock_and_support, ["stock.low", "support.message"])
    relay.subscribe("everything", everything)
    assert await relay.pending("paid") == 2
    assert await relay.pending("stock_and_support") == 2
    assert await relay.pending("everything") == 5

    await drain(relay)
    assert [e.payload["n"] for e in paid.events] == [2, 5]
    assert [e.payload["n"] for e in stock_and_support.events] == [3, 4]
    assert [e.payload["n"] for e in everything.events] == [1, 2, 3, 4, 5]
    async with database.sessions() as session:
        rows = await session.scalar(select(func.count()).select_from(EventDelivery)
                                    .where(EventDelivery.consumer == "paid"))
    assert rows == 2  # no rows for events of other topics


async def test_event_of_rolled_back_transaction_is_never_delivered(database: Database) -> None:
    clock = Clock()
    recorder = Recorder()
    relay = Relay(database.sessions, clock=clock)
    relay.subscribe("alerts", recorder)
    await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": "kept-1"}))

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with database.sessions.begin() as session:
            publish(session, Topic.ORDER_PAID, {"n": "rolled-back"})
            await session.flush()  # it had an id, like a real failed checkout
            raise Abort
    await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": "kept-2"}))

    await drain(relay)
    clock.advance(3600)  # long after any gap has settled
    await drain(relay)
    assert [e.payload["n"] for e in recorder.events] == ["kept-1", "kept-2"]
    assert await relay.pending() == 0


async def test_failing_handler_is_retried_with_backoff(database: Database) -> None:
    clock = Clock()
    calls: list[int] = []

    async def flaky(event: DeliveredEvent) -> None:
        calls.append(event.id)
        if len(calls) <= 2:
            raise ConnectionError("admin bot unreachable")

    relay = Relay(database.sessions, clock=clock, retry=RetryPolicy(jitter=0))
    relay.subscribe("staff_alerts", flaky)
    await publish_in_one_transaction(database, (Topic.PAYMENT_PROBLEM, {"order": 7}))
    [event_id] = await all_event_ids(database)

    assert await relay.run_once() == 0
    row = await delivery_row(database, "staff_alerts", event_id)
    assert (row.done, row.attempts) == (False, 1)
    assert row.last_error == "ConnectionError: admin bot unreachable"
    assert row.next_attempt_at == clock.now + timedelta(seconds=1)

    assert await relay.run_once() == 0  # still backing off: not even called
    clock.advance(0.9)
    assert await relay.run_once() == 0
    assert calls == [event_id]
    assert await relay.pending("staff_alerts") == 1

    clock.advance(0.1)
    assert await relay.run_once() == 0  # second failure, now 2 s
    row = await delivery_row(database, "staff_alerts", event_id)
    assert row.attempts == 2 and row.next_attempt_at == clock.now + timedelta(seconds=2)
    clock.advance(1.9)
    assert await relay.run_once() == 0 and len(calls) == 2
    clock.advance(0.1)
    assert await relay.run_once() == 1
    assert calls == [event_id] * 3
    row = await delivery_row(database, "staff_alerts", event_id)
    assert (row.done, row.attempts, row.last_error, row.next_attempt_at) == (True, 3, None, None)
    assert await relay.pending() == 0


async def test_permanent_failure_does_not_block_later_events(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    delivered: list[int] = []
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

    async def handler(event: DeliveredEvent) -> None:
        if event.payload["n"] == 2:
            raise RuntimeError(f"POST https://api.telegram.org/bot{token}/sendMessage failed")
        delivered.append(event.payload["n"])

    relay = Relay(database.sessions, clock=clock,
                  retry=RetryPolicy(jitter=0, max_backoff_s=4, alert_after_attempts=4))
    relay.subscribe("staff_alerts", handler)
    for n in range(1, 6):
        await publish_in_one_transaction(database, (Topic.STOCK_LOW, {"n": n}))
    stuck = (await all_event_ids(database))[1]

    with caplog.at_level(logging.WARNING, logger="shop.events.relay"):
        assert await relay.run_once() == 4
        assert delivered == [1, 3, 4, 5]
        assert await relay.pending() == 1
        await publish_in_one_transaction(database, (Topic.STOCK_LOW, {"n": 6}))
        assert await relay.run_once() == 1 and delivered[-1] == 6

        delays = []
        for _ in range(5):
            clock.advance(10)
            assert await relay.run_once() == 0
            row = await delivery_row(database, "staff_alerts", stuck)
            assert row.next_attempt_at is not None
            delays.append((row.next_attempt_at - clock.now).total_seconds())
    assert delays == [2, 4, 4, 4, 4]  # 1 s after the first attempt, doubling, capped
    assert row.attempts == 6 and not row.done
    assert row.last_error is not None and row.last_error.startswith("RuntimeError: POST")
    assert token not in row.last_error and "[redacted]" in row.last_error
    failures = [r for r in caplog.records if "failed on event" in r.getMessage()]
    assert [r.levelno for r in failures] == [logging.WARNING] * 3 + [logging.ERROR] * 3
    assert all("staff_alerts" in r.getMessage() and "stock.low" in r.getMessage()
               and token not in r.getMessage() for r in failures)
    assert await relay.pending() == 1


async def test_crash_redelivers_and_receipt_prevents_double_effect(database: Database) -> None:
    await create_effects_table(database)
    clock = Clock()
    handled: list[int] = []
    crash_next = [True]

    async def handler(event: DeliveredEvent) -> None:
        async def record(session: AsyncSession) -> None:
            await session.execute(insert(effects).values(event_id=event.id, actor="ledger"))

        await once(database.sessions, "ledger", event.id, record)
        handled.append(event.id)
        if crash_next.pop() if crash_next else False:
            raise Crash  # dies after the effect committed, before the relay marked it done

    def new_relay() -> Relay:
        relay = Relay(database.sessions, clock=clock, lease_s=30)
        relay.subscribe("ledger", handler)
        return relay

    await publish_in_one_transaction(database, (Topic.ORDER_PAID, {"order": 1}))
    [event_id] = await all_event_ids(database)
    with pytest.raises(Crash):
        await new_relay().run_once()
    row = await delivery_row(database, "ledger", event_id)
    assert (row.done, row.attempts) == (False, 1)

    restarted = new_relay()
    assert await restarted.pending() == 1
    assert await restarted.run_once() == 0  # the dead worker's lease still holds
    clock.advance(30)
    assert await restarted.run_once() == 1
    assert handled == [event_id, event_id]  # delivered twice: at least once
    assert await effect_counts(database) == {("ledger", event_id): 1}  # but done once
    row = await delivery_row(database, "ledger", event_id)
    assert (row.done, row.attempts) == (True, 2)
    receipt = await delivery_row(database, receipt_consumer("ledger"), event_id)
    assert receipt.done


async def test_once_rolls_back_with_the_action_and_serialises_callers(
    database: Database,
) -> None:
    await create_effects_table(database)

    async def failing(session: AsyncSession) -> None:
        await session.execute(insert(effects).values(event_id=1, actor="failed"))
        raise ValueError("no")

    with pytest.raises(ValueError):
        await once(database.sessions, "audit", 1, failing)
    assert await effect_counts(database) == {}  # neither effect nor receipt committed

    async def slow(session: AsyncSession) -> None:
        await asyncio.sleep(0)
        await session.execute(insert(effects).values(event_id=1, actor="audit"))

    ran = await asyncio.gather(*(once(database.sessions, "audit", 1, slow) for _ in range(5)))
    assert sorted(ran) == [False, False, False, False, True]
    assert await effect_counts(database) == {("audit", 1): 1}

    @idempotent(database.sessions, "audit")
    async def audit(session: AsyncSession, event: DeliveredEvent) -> None:
        await session.execute(insert(effects).values(event_id=event.id, actor="audit"))

    event = DeliveredEvent(2, "order.paid", {}, utcnow())
    await audit(event)
    await audit(event)
    assert await effect_counts(database) == {("audit", 1): 1, ("audit", 2): 1}


async def test_two_relays_handle_each_event_once_per_consumer(database: Database) -> None:
    for batch in range(6):
        await publish_in_one_transaction(
            database, *[(Topic.ORDER_PLACED, {"n": batch * 10 + n}) for n in range(10)])
    handled: Counter[tuple[str, int]] = Counter()

    def handler(consumer: str) -> Callable[[DeliveredEvent], Awaitable[None]]:
        async def handle(event: DeliveredEvent) -> None:
            handled[consumer, event.id] += 1
            await asyncio.sleep(0)  # let the other relay interleave

        return handle

    other_engine = create_engine(database.url)
    try:
        relays = []
        for sessions in (database.sessions, session_factory(other_engine)):
            relay = Relay(sessions, batch_size=10)
            relay.subscribe("staff_alerts", handler("staff_alerts"))
            relay.subscribe("customer_notifications", handler("customer_notifications"))
            relays.append(relay)
        total = 0
        for _ in range(50):
            counts = await asyncio.gather(*(relay.run_once() for relay in relays))
            total += sum(counts)
            if counts == [0, 0]:
                break
    finally:
        await other_engine.dispose()
    ids = await all_event_ids(database)
    assert total == 120
    assert handled == Counter({(consumer, event_id): 1 for event_id in ids
                               for consumer in ("staff_alerts", "customer_notifications")})


async def test_run_delivers_on_wake_and_stops_cleanly(database: Database) -> None:
    recorder = Recorder()
    relay = Relay(database.sessions, poll_interval_s=3600)  # only wake() can prompt a pass
    relay.subscribe("alerts", recorder)
    await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": 1}))
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await recorder.wait_for(1)
        await publish_in_one_transaction(database, (Topic.ORDER_PAID, {"n": 2}))
        relay.wake()
        await recorder.wait_for(2)
        assert [e.payload["n"] for e in recorder.events] == [1, 2]
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT)
    assert task.result() is None
    assert await relay.pending() == 0


async def test_stop_finishes_the_batch_in_hand(database: Database) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    delivered: list[int] = []

    async def slow(event: DeliveredEvent) -> None:
        entered.set()
        await release.wait()
        delivered.append(event.payload["n"])

    relay = Relay(database.sessions, poll_interval_s=3600)
    relay.subscribe("alerts", slow)
    await publish_in_one_transaction(
        database, (Topic.ORDER_PLACED, {"n": 1}), (Topic.ORDER_PLACED, {"n": 2}))
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.wait_for(entered.wait(), WAIT)
    stop.set()
    finished, _ = await asyncio.wait({task}, timeout=0.1)
    assert not finished  # still in the handler: stopping does not abandon it
    release.set()
    await asyncio.wait_for(task, WAIT)
    assert delivered == [1, 2]
    assert await relay.pending() == 0


async def test_run_survives_a_failing_pass(database: Database) -> None:
    recorder = Recorder()
    relay = Relay(database.sessions, poll_interval_s=0.01)
    relay.subscribe("alerts", recorder)
    real_run_once = relay.run_once
    failures = [OSError("database went away")]

    async def flaky_run_once() -> int:
        if failures:
            raise failures.pop()
        return await real_run_once()

    relay.run_once = flaky_run_once  # type: ignore[method-assign]
    await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": 1}))
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await recorder.wait_for(1)
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT)
    assert not failures


async def test_cancellation_propagates_and_leaves_the_event_for_later(database: Database) -> None:
    clock = Clock()
    entered = asyncio.Event()
    calls: list[int] = []

    async def hangs(event: DeliveredEvent) -> None:
        calls.append(event.id)
        if len(calls) == 1:
            entered.set()
            await asyncio.Event().wait()

    relay = Relay(database.sessions, clock=clock, lease_s=60)
    relay.subscribe("alerts", hangs)
    await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": 1}))
    task = asyncio.create_task(relay.run_once())
    await asyncio.wait_for(entered.wait(), WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await relay.pending() == 1
    clock.advance(60)
    assert await relay.run_once() == 1 and len(calls) == 2


async def test_slow_handler_times_out_at_the_lease(database: Database) -> None:
    async def stuck(event: DeliveredEvent) -> None:
        await asyncio.Event().wait()

    relay = Relay(database.sessions, lease_s=0.05)
    relay.subscribe("alerts", stuck)
    await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": 1}))
    assert await asyncio.wait_for(relay.run_once(), WAIT) == 0
    [event_id] = await all_event_ids(database)
    row = await delivery_row(database, "alerts", event_id)
    assert (row.done, row.attempts, row.last_error) == (False, 1, "TimeoutError")


async def test_pending_counts(database: Database) -> None:
    clock = Clock()

    async def refuse_paid(event: DeliveredEvent) -> None:
        if event.topic == "order.paid":
            raise RuntimeError("not now")

    relay = Relay(database.sessions, clock=clock)
    relay.subscribe("all", refuse_paid)
    relay.subscribe("stock", Recorder(), [Topic.STOCK_LOW])
    assert await relay.pending() == 0
    await publish_in_one_transaction(
        database, (Topic.ORDER_PLACED, {}), (Topic.ORDER_PAID, {}), (Topic.STOCK_LOW, {}),
        (Topic.ORDER_PAID, {}), (Topic.STOCK_LOW, {}))
    assert await relay.pending("all") == 5
    assert await relay.pending("stock") == 2
    assert await relay.pending() == 7
    with pytest.raises(KeyError):
        await relay.pending("nobody")
    assert await relay.run_once() == 5
    assert await relay.pending("all") == 2  # the two failing, backing off
    assert await relay.pending("stock") == 0
    assert await relay.pending() == 2


async def test_new_consumers_see_history_unless_starting_from_latest(database: Database) -> None:
    await publish_in_one_transaction(
        database, *[(Topic.ORDER_PLACED, {"n": n}) for n in range(3)])
    history, latest = Recorder(), Recorder()
    relay = Relay(database.sessions)
    relay.subscribe("history", history)
    relay.subscribe("latest", latest, start_from_latest=True)
    assert await relay.pending("latest") == 0
    await drain(relay)
    assert [e.payload["n"] for e in history.events] == [0, 1, 2]
    assert latest.events == []

    await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": 3}))
    restarted_before_delivery = Relay(database.sessions)
    after_restart = Recorder()
    restarted_before_delivery.subscribe("latest", after_restart, start_from_latest=True)
    await drain(restarted_before_delivery)
    assert [e.payload["n"] for e in after_restart.events] == [3]  # the start point was kept


async def test_start_from_latest_on_empty_outbox(database: Database) -> None:
    recorder = Recorder()
    relay = Relay(database.sessions)
    relay.subscribe("latest", recorder, start_from_latest=True)
    assert await relay.run_once() == 0
    await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": 1}))
    assert await relay.run_once() == 1 and recorder.events[0].payload == {"n": 1}


async def test_event_committing_below_the_watermark_is_still_delivered(
    database: Database,
) -> None:
    """Ids are taken at insert, not commit: a lower id can appear after a higher one."""
    clock = Clock()
    recorder = Recorder()
    relay = Relay(database.sessions, clock=clock, gap_grace_s=120, rescan_interval_s=600)
    relay.subscribe("alerts", recorder)
    await insert_event(database, 10, clock.now)
    assert await relay.run_once() == 1
    await insert_event(database, 5, clock.now)  # committed while 10 is recent: a young gap
    assert await relay.run_once() == 1
    assert recorder.ids == [10, 5]

    clock.advance(121)  # the gaps below 10 have settled; the watermark moves past them
    assert await relay.run_once() == 0
    await insert_event(database, 7, clock.now)  # a transaction older than the grace period
    assert await relay.run_once() == 0
    clock.advance(600)  # the periodic rescan finds it
    assert await relay.run_once() == 1
    assert recorder.ids == [10, 5, 7]
    assert await relay.pending() == 0


async def test_concurrent_transactions_committing_out_of_id_order(database: Database) -> None:
    if database.backend != "postgresql":
        pytest.skip("SQLite serialises writers, so ids always commit in order")
    recorder = Recorder()
    relay = Relay(database.sessions)
    relay.subscribe("alerts", recorder)
    async with database.sessions() as slow_session:
        async with slow_session.begin():
            publish(slow_session, Topic.ORDER_PLACED, {"n": "slow"})
            await slow_session.flush()
            await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": "fast"}))
            assert await relay.run_once() == 1
        assert await relay.run_once() == 1
    assert [e.payload["n"] for e in recorder.events] == ["fast", "slow"]
    assert recorder.ids[0] > recorder.ids[1]


async def test_watermark_reads_one_snapshot(database: Database) -> None:
    """An event committing while the relay computes its watermark is not stepped over."""
    if database.backend != "postgresql":
        pytest.skip("an SQLite transaction always reads one snapshot")
    hook: list[Callable[[], Awaitable[None]]] = []

    class Interleaving(AsyncSession):
        async def scalar(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
            result = await super().scalar(statement, *args, **kwargs)
            if hook and result is None and "min(outbox_events.id)" in str(statement):
                await hook.pop()()  # another transaction commits between two reads
            return result

    recorder = Recorder()
    relay = Relay(async_sessionmaker(database.engine, class_=Interleaving,
                                     expire_on_commit=False))
    relay.subscribe("alerts", recorder)
    await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": "first"}))
    async with database.sessions() as held, held.begin():
        publish(held, Topic.ORDER_PLACED, {"n": "late"})
        await held.flush()
        await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": "third"}))
        hook.append(held.commit)
        assert await relay.run_once() == 2
    assert not hook
    assert await relay.run_once() == 1
    assert [e.payload["n"] for e in recorder.events] == ["first", "third", "late"]


def test_describe_error_is_short_and_masks_secrets() -> None:
    described = describe_error(RuntimeError(
        "POST https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/x "
        "with sk_live_51Habcdefghijkl, whsec_abcdefghij, password=hunter2, "
        "postgresql://shop:s3cret@db/shop, Authorization: Bearer abc.def\n" + "x" * 1000))
    assert described.startswith("RuntimeError: POST https://api.telegram.org/bot[redacted]")
    for secret in ("AAHdqTcv", "51Habc", "abcdefghij", "hunter2", "s3cret", "abc.def"):
        assert secret not in described
    assert "\n" not in described and len(described) <= 300
    assert describe_error(TimeoutError()) == "TimeoutError"


def test_subscribe_validates() -> None:
    relay = Relay(async_sessionmaker())
    relay.subscribe("alerts", Recorder())
    with pytest.raises(ValueError):
        relay.subscribe("alerts", Recorder())
    with pytest.raises(ValueError):
        relay.subscribe("once:alerts", Recorder())
    with pytest.raises(ValueError):
        relay.subscribe("x" * 61, Recorder())
    with pytest.raises(ValueError):
        relay.subscribe("nothing", Recorder(), [])
