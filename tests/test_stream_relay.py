"""The Redis Streams relay: delivery, topics, starting points and retries.

Real redis-server (``redis_url``) and real databases (``database``: SQLite and PostgreSQL).
Each test uses its own key prefix, so the streams of different tests never meet.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.db.engine import create_engine, session_factory
from shop.events.delivery import DeliveredEvent
from shop.events.models import EventDelivery
from shop.events.outbox import Topic
from shop.events.relay import Relay
from shop.events.relay_port import EventRelay
from shop.events.retry_policy import RetryPolicy
from shop.events.stream_relay import StreamRelay
from tests.conftest import Database
from tests.support.waiting import eventually
from tests.test_events import Clock, Recorder, all_event_ids, publish_in_one_transaction

WAIT = 15.0
MakeRelay = Callable[..., StreamRelay]
FAST = {"block_s": 0.05, "poll_interval_s": 0.05, "reconnect_min_s": 0.02,
        "reconnect_max_s": 0.2}


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        yield connection
    finally:
        await connection.aclose()


@pytest.fixture
async def make_relay(database: Database, redis_url: str, prefix: str
                     ) -> AsyncIterator[MakeRelay]:
    """Build stream relays on the test's database and prefix; all are closed at the end."""
    made: list[StreamRelay] = []

    def make(sessions: async_sessionmaker[AsyncSession] | None = None,
             **options: Any) -> StreamRelay:
        options.setdefault("prefix", prefix)
        relay = StreamRelay(sessions or database.sessions, redis_url, **options)
        made.append(relay)
        return relay

    yield make
    for relay in made:
        await relay.close()


async def deliver_all(*relays: StreamRelay) -> None:
    """Run passes on every relay until none of their consumers has anything pending."""
    async def settled() -> bool:
        await asyncio.gather(*(relay.run_once() for relay in relays))
        counts = [await relay.pending() for relay in relays]
        return not any(counts)

    await eventually(settled, within=WAIT)


class Running:
    """Relays running ``run(stop)`` in tasks, stopped (and checked) on exit."""

    def __init__(self, *relays: StreamRelay) -> None:
        self.relays = relays
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Running:
        self.tasks = [asyncio.create_task(relay.run(self.stop)) for relay in self.relays]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks), WAIT)

    def wake(self) -> None:
        for relay in self.relays:
            relay.wake()

    async def until_nothing_pending(self) -> None:
        async def settled() -> bool:
            assert not any(task.done() for task in self.tasks), "a run() loop ended"
            return not any([await relay.pending() for relay in self.relays])

        await eventually(settled, within=WAIT)


def counting(seen: Counter[tuple[str, int]], consumer: str
             ) -> Callable[[DeliveredEvent], Awaitable[None]]:
    async def handle(event: DeliveredEvent) -> None:
        seen[consumer, event.id] += 1
        await asyncio.sleep(0)  # let the other worker interleave

    return handle


async def test_both_relays_satisfy_the_port() -> None:
    relays: list[EventRelay] = [Relay(async_sessionmaker()),
                                StreamRelay(async_sessionmaker(), "redis://127.0.0.1:1/0")]
    with pytest.raises(ValueError):
        relays[1].subscribe("redis_stream", Recorder())  # the publisher's own name
    for relay in relays:
        await relay.close()


async def test_two_workers_deliver_every_event_once_per_consumer(
    database: Database, make_relay: MakeRelay, client: aioredis.Redis, prefix: str,
) -> None:
    seen: Counter[tuple[str, int]] = Counter()
    other_engine = create_engine(database.url)  # the second worker has its own connections
    try:
        workers = [make_relay(sessions, **FAST)
                   for sessions in (database.sessions, session_factory(other_engine))]
        for worker in workers:
            for consumer in ("staff_alerts", "customer_notifications"):
                worker.subscribe(consumer, counting(seen, consumer))
        async with Running(*workers) as running:
            for batch in range(3):
                await publish_in_one_transaction(
                    database, *[(Topic.ORDER_PLACED, {"n": batch * 10 + n}) for n in range(10)])
                running.wake()
            await running.until_nothing_pending()

            async def every_entry_acknowledged() -> bool:
                # A copy whose event another worker was handling is looked at again after
                # the first backoff, and acknowledged unread then.
                groups = await client.xinfo_groups(f"{prefix}:events")
                return all(group["pending"] == 0 for group in groups)

            await eventually(every_entry_acknowledged, within=WAIT)
    finally:
        await other_engine.dispose()
    ids = await all_event_ids(database)
    assert len(ids) == 30
    assert seen == Counter({(consumer, event_id): 1 for event_id in ids
                            for consumer in ("staff_alerts", "customer_notifications")})
    entries = [fields for _, fields in await client.xrange(f"{prefix}:events")]
    # Published once, by one worker or the other. A worker filling a new group may add a
    # copy for that group alone (see shop.events.stream_groups); two members then read one
    # copy each, and the handling claim keeps the event from being handled twice (above).
    assert sorted(int(f["id"]) for f in entries if "for" not in f) == ids
    assert all(f["for"] in ("staff_alerts", "customer_notifications")
               for f in entries if "for" in f)
    for group in await client.xinfo_groups(f"{prefix}:events"):
        assert group["pending"] == 0


async def test_topic_filtering(
    database: Database, make_relay: MakeRelay,
) -> None:
    await publish_in_one_transaction(
        database,
        (Topic.ORDER_PLACED, {"n": 1}), (Topic.ORDER_PAID, {"n": 2}),
        (Topic.STOCK_LOW, {"n": 3}), (Topic.SUPPORT_MESSAGE, {"n": 4}),
        (Topic.ORDER_PAID, {"n": 5}),
    )
    paid, stock_and_support, everything = Recorder(), Recorder(), Recorder()
    relay = make_relay()
    relay.subscribe("paid", paid, [Topic.ORDER_PAID])
    relay.subscribe("stock_and_support", stock_and_support, ["stock.low", "support.message"])
    relay.subscribe("everything", everything)
    assert await relay.pending("paid") == 2
    assert await relay.pending("stock_and_support") == 2
    assert await relay.pending() == 9
    with pytest.raises(KeyError):
        await relay.pending("nobody")

    await deliver_all(relay)
    assert [e.payload["n"] for e in paid.events] == [2, 5]
    assert [e.payload["n"] for e in stock_and_support.events] == [3, 4]
    assert [e.payload["n"] for e in everything.events] == [1, 2, 3, 4, 5]  # in id order
    assert everything.events[1].topic == "order.paid"
    assert everything.events[0].created_at.tzinfo is not None
    async with database.sessions() as session:
        rows = await session.scalar(select(func.count()).select_from(EventDelivery)
                                    .where(EventDelivery.consumer == "paid"))
    assert rows == 2  # completions only: none for events of other topics


async def test_start_from_latest(database: Database, make_relay: MakeRelay) -> None:
    await publish_in_one_transaction(
        database, *[(Topic.ORDER_PLACED, {"n": n}) for n in range(3)])
    history, latest = Recorder(), Recorder()
    relay = make_relay()
    relay.subscribe("history", history)
    relay.subscribe("latest", latest, start_from_latest=True)
    assert await relay.pending("latest") == 0
    assert await relay.pending("history") == 3
    await deliver_all(relay)
    assert [e.payload["n"] for e in history.events] == [0, 1, 2]
    assert latest.events == []

    await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": 3}))
    await deliver_all(relay)
    assert [e.payload["n"] for e in latest.events] == [3]

    # A restarted worker keeps the starting point and finds nothing left to do.
    again = Recorder()
    restarted = make_relay()
    restarted.subscribe("latest", again, start_from_latest=True)
    await deliver_all(restarted)
    assert await restarted.run_once() == 0 and again.events == []


async def test_failing_handler_backs_off_without_blocking_later_events(
    database: Database, make_relay: MakeRelay, caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    calls: list[int] = []

    async def flaky(event: DeliveredEvent) -> None:
        calls.append(event.payload["n"])
        if event.payload["n"] == 1 and calls.count(1) <= 2:
            raise ConnectionError(f"POST https://api.telegram.org/bot{token}/sendMessage")

    relay = make_relay(clock=clock, retry=RetryPolicy(jitter=0))
    relay.subscribe("staff_alerts", flaky)
    await publish_in_one_transaction(
        database, *[(Topic.PAYMENT_PROBLEM, {"n": n}) for n in (1, 2, 3)])

    with caplog.at_level(logging.WARNING, logger="shop.events.stream_relay"):
        assert await relay.run_once() == 2
        assert calls == [1, 2, 3]  # the failure did not hold back 2 and 3
        assert await relay.pending() == 1
        assert await relay.run_once() == 0
        clock.advance(0.9)
        assert await relay.run_once() == 0
        assert calls == [1, 2, 3]  # still backing off: not even called
        clock.advance(0.1)
        assert await relay.run_once() == 0  # second failure; now 2 s
        clock.advance(1.9)
        assert await relay.run_once() == 0 and calls.count(1) == 2
        await publish_in_one_transaction(database, (Topic.PAYMENT_PROBLEM, {"n": 4}))
        assert await relay.run_once() == 1  # new events go on meanwhile
        clock.advance(0.1)
        assert await relay.run_once() == 1
    assert calls == [1, 2, 3, 1, 4, 1]
    assert await relay.pending() == 0
    failures = [r for r in caplog.records if "failed on event" in r.getMessage()]
    assert len(failures) == 2 and all(r.levelno == logging.WARNING for r in failures)
    assert "attempt 1; retrying in 1.0s" in failures[0].getMessage()
    assert "attempt 2; retrying in 2.0s" in failures[1].getMessage()
    assert all("staff_alerts" in r.getMessage() and token not in r.getMessage()
               and "[redacted]" in r.getMessage() for r in failures)
    [first_id] = (await all_event_ids(database))[:1]
    async with database.sessions() as session:
        row = (await session.scalars(select(EventDelivery).where(
            EventDelivery.consumer == "staff_alerts",
            EventDelivery.event_id == first_id))).one()
    assert (row.done, row.attempts) == (True, 3)


async def test_run_delivers_on_wake_and_stops(database: Database, make_relay: MakeRelay) -> None:
    recorder = Recorder()
    relay = make_relay(block_s=0.05, poll_interval_s=3600)  # only wake() prompts publishing
    relay.subscribe("alerts", recorder)
    async with Running(relay) as running:
        await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": 1}))
        running.wake()
        await recorder.wait_for(1)
        await publish_in_one_transaction(database, (Topic.ORDER_PAID, {"n": 2}))
        running.wake()
        await recorder.wait_for(2)
    assert [e.payload["n"] for e in recorder.events] == [1, 2]
    assert await relay.pending() == 0
