"""The Redis Streams relay when things go wrong: dead workers, Redis restarting empty or
going away, workers racing to publish, and trimming that must not lose unread entries."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from shop.db.base import utcnow
from shop.db.engine import create_engine, session_factory
from shop.events.delivery import DeliveredEvent
from shop.events.outbox import Topic
from shop.events.retry_policy import RetryPolicy
from shop.events.stream_store import StreamKeys, StreamPublisher, retire_idle_groups, trim
from tests import test_stream_relay as shared
from tests.conftest import Database
from tests.support.redis import RedisServer
from tests.support.waiting import eventually
from tests.test_events import Recorder, all_event_ids, publish_in_one_transaction
from tests.test_stream_relay import FAST, WAIT, MakeRelay, Running, deliver_all

client, make_relay, prefix = shared.client, shared.make_relay, shared.prefix  # the fixtures

# Real-time retries, quick enough for a test: the backoff runs on the real clock here.
QUICK_RETRIES = {**FAST, "retry": RetryPolicy(base_backoff_s=0.02, max_backoff_s=0.1, jitter=0)}


async def test_entry_of_a_dead_worker_is_taken_over_after_the_lease(
    database: Database, make_relay: MakeRelay, client: aioredis.Redis, prefix: str,
) -> None:
    entered = asyncio.Event()

    async def hangs(event: DeliveredEvent) -> None:
        entered.set()
        await asyncio.Event().wait()

    dying = make_relay(lease_s=60)
    dying.subscribe("alerts", hangs)
    survivor_got = Recorder()
    survivor = make_relay(lease_s=0.3)  # takes over entries idle for 0.3 s
    survivor.subscribe("alerts", survivor_got)
    await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": 1}))

    task = asyncio.create_task(dying.run_once())
    await asyncio.wait_for(entered.wait(), WAIT)
    task.cancel()  # the worker dies holding the entry, never acknowledging it
    with pytest.raises(asyncio.CancelledError):
        await task
    [pending] = await client.xpending_range(f"{prefix}:events", "alerts", "-", "+", 10)
    assert pending["times_delivered"] == 1

    async def taken_over() -> bool:
        await survivor.run_once()
        return bool(survivor_got.events)

    await eventually(taken_over, within=WAIT)
    assert [e.payload["n"] for e in survivor_got.events] == [1]
    assert await survivor.pending() == 0
    assert await client.xpending_range(f"{prefix}:events", "alerts", "-", "+", 10) == []


async def test_redis_restarting_empty_loses_nothing(
    database: Database, make_relay: MakeRelay, redis_server: RedisServer,
) -> None:
    seen: Counter[tuple[str, int]] = Counter()
    notes_work = asyncio.Event()

    async def alerts(event: DeliveredEvent) -> None:
        seen["alerts", event.id] += 1

    async def notes(event: DeliveredEvent) -> None:
        if not notes_work.is_set():
            raise RuntimeError("customer bot down")
        seen["notes", event.id] += 1

    other_engine = create_engine(database.url)
    try:
        workers = [make_relay(sessions, **QUICK_RETRIES)
                   for sessions in (database.sessions, session_factory(other_engine))]
        for worker in workers:
            worker.subscribe("alerts", alerts)
            worker.subscribe("notes", notes)
        async with Running(*workers) as running:
            await publish_in_one_transaction(
                database, *[(Topic.ORDER_PAID, {"n": n}) for n in range(3)])
            running.wake()

            async def alerts_done() -> bool:
                return await workers[0].pending("alerts") == 0

            await eventually(alerts_done, within=WAIT)
            assert await workers[0].pending("notes") == 3  # handled by nobody yet

            redis_server.restart()  # everything in Redis is gone
            await publish_in_one_transaction(
                database, *[(Topic.ORDER_PAID, {"n": n}) for n in range(3, 5)])
            running.wake()
            notes_work.set()
            await running.until_nothing_pending()
    finally:
        await other_engine.dispose()
    before, after = (await all_event_ids(database))[:3], (await all_event_ids(database))[3:]
    assert all(seen["alerts", event_id] == 1 for event_id in before)  # completed: not again
    assert all(seen["alerts", event_id] >= 1 for event_id in after)
    assert all(seen["notes", event_id] >= 1 for event_id in before + after)


async def test_run_rides_out_redis_being_down(
    database: Database, make_relay: MakeRelay, redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder()
    relay = make_relay(**QUICK_RETRIES)
    relay.subscribe("alerts", recorder)
    with caplog.at_level(logging.DEBUG, logger="shop.events"):
        async with Running(relay) as running:
            await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": 1}))
            running.wake()
            await recorder.wait_for(1)

            redis_server._kill()  # down, and not back until told
            try:
                await publish_in_one_transaction(
                    database, (Topic.ORDER_PLACED, {"n": 2}), (Topic.ORDER_PAID, {"n": 3}))
                running.wake()

                async def retried_for_a_while() -> bool:
                    assert not any(task.done() for task in running.tasks)
                    return len(_messages(caplog, "still unreachable")) >= 10

                await eventually(retried_for_a_while, within=WAIT)
                assert await relay.pending() == 2  # waiting in the outbox
            finally:
                redis_server._launch()
            await recorder.wait_for(3)
            await running.until_nothing_pending()
    assert [e.payload["n"] for e in recorder.events] == [1, 2, 3]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING
                and "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not once per try
    assert len(_messages(caplog, "Redis reachable again")) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


async def test_two_copies_of_an_event_read_by_two_workers_are_handled_once(
    database: Database, make_relay: MakeRelay, client: aioredis.Redis, prefix: str,
) -> None:
    keys = StreamKeys(prefix)
    started, finish = asyncio.Event(), asyncio.Event()
    handled: list[int] = []

    async def slow(event: DeliveredEvent) -> None:
        handled.append(event.id)
        started.set()
        await finish.wait()

    first, second = make_relay(**QUICK_RETRIES), make_relay(**QUICK_RETRIES)
    for relay in (first, second):
        relay.subscribe("alerts", slow)
    await publish_in_one_transaction(database, (Topic.ORDER_PAID, {"order": 7}))
    [event_id] = await all_event_ids(database)
    busy = asyncio.create_task(first.run_once())  # publishes the event and starts on it
    await asyncio.wait_for(started.wait(), WAIT)
    # A backfill's copy of the same event, for this consumer alone, read by the other worker.
    copy = DeliveredEvent(event_id, "order.paid", {"order": 7}, utcnow())
    assert await StreamPublisher(client, keys).publish(copy, only_for="alerts")
    assert await second.run_once() == 0  # the first worker holds the event: not handled here
    assert handled == [event_id]
    finish.set()
    await asyncio.wait_for(busy, WAIT)

    async def copy_acknowledged() -> bool:
        await second.run_once()  # its copy, looked at again: done by now, acknowledged unread
        groups = await client.xinfo_groups(keys.stream)
        return [g["pending"] for g in groups if g["name"] == "alerts"] == [0]

    await eventually(copy_acknowledged, within=WAIT)
    assert handled == [event_id]
    assert await second.pending("alerts") == 0


async def test_racing_publishers_add_one_entry(
    database: Database, make_relay: MakeRelay, client: aioredis.Redis, redis_url: str,
    prefix: str,
) -> None:
    await publish_in_one_transaction(database, (Topic.ORDER_PAID, {"order": 7}))
    [event_id] = await all_event_ids(database)
    event = DeliveredEvent(event_id, "order.paid", {"order": 7}, utcnow())
    keys = StreamKeys(prefix)
    other = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        added = await asyncio.gather(StreamPublisher(client, keys).publish(event),
                                     StreamPublisher(other, keys).publish(event))
    finally:
        await other.aclose()
    assert sorted(added) == [False, True]
    assert await client.xlen(keys.stream) == 1

    # Those were workers that added the event and died before marking it published: a
    # relay now finds it unpublished in the database, publishes again, and adds nothing.
    recorder = Recorder()
    relay = make_relay()
    relay.subscribe("alerts", recorder)
    await deliver_all(relay)
    assert await client.xlen(keys.stream) == 1
    assert recorder.ids == [event_id]


async def test_trim_never_drops_entries_a_group_still_needs(
    client: aioredis.Redis, prefix: str,
) -> None:
    keys = StreamKeys(prefix)
    assert await trim(client, keys) == 0  # no stream at all
    ids = [await client.xadd(keys.stream, {"n": str(n)}) for n in range(300)]
    assert await trim(client, keys) == 0  # no group: nobody said what they have read
    await client.xgroup_create(keys.stream, "fast", id="0")
    await client.xgroup_create(keys.stream, "slow", id="0")
    await read_and_ack(client, keys.stream, "fast", 300, ack=lambda n: True)
    assert await trim(client, keys) == 0  # "slow" has read nothing

    await read_and_ack(client, keys.stream, "slow", 250, ack=lambda n: not 120 <= n < 130)
    removed = await trim(client, keys)
    assert removed > 0
    remaining = [entry_id for entry_id, _ in await client.xrange(keys.stream)]
    assert set(ids[120:]) <= set(remaining)  # pending from 120, unread from 250: all kept
    assert len(remaining) == 300 - removed

    await client.xack(keys.stream, "slow", *ids[120:130])
    await read_and_ack(client, keys.stream, "slow", 50, ack=lambda n: True)
    await trim(client, keys)
    assert await client.xlen(keys.stream) < 300 - removed  # all read: more goes


async def test_idle_groups_of_consumers_nobody_runs_are_retired_and_stop_pinning_the_stream(
    client: aioredis.Redis, prefix: str,
) -> None:
    keys = StreamKeys(prefix)
    assert await retire_idle_groups(client, keys, keep=(), idle_s=0) == []  # no stream yet
    for n in range(200):
        await client.xadd(keys.stream, {"n": str(n)})
    for group in ("alerts", "removed", "other"):
        await client.xgroup_create(keys.stream, group, id="0")
    await client.set(keys.ready("removed"), "1")
    # Redis trims whole nodes of 100 entries: the groups kept read well past the first ones.
    for group, count in (("alerts", 180), ("removed", 20), ("other", 170)):
        await read_and_ack(client, keys.stream, group, count, ack=lambda n: True)
    assert await trim(client, keys) == 0  # "removed" has read only 20

    async def members_idle(group: str, at_least_ms: int) -> bool:
        members = await client.xinfo_consumers(keys.stream, group)
        return all(int(m["idle"]) >= at_least_ms for m in members)

    await eventually(lambda: members_idle("removed", 300))
    await read_and_ack(client, keys.stream, "other", 10, ack=lambda n: True)  # still in use
    retired = await retire_idle_groups(client, keys, keep={"alerts"}, idle_s=0.3)

    # "alerts" is this worker's own (idle or not), "other" was read a moment ago.
    assert retired == ["removed"]
    names = {g["name"] for g in await client.xinfo_groups(keys.stream)}
    assert names == {"alerts", "other"}
    assert not await client.exists(keys.ready("removed"))
    assert await trim(client, keys) > 0  # what "alerts" and "other" have read can go now
    assert await retire_idle_groups(client, keys, keep={"alerts"}, idle_s=3600) == []
    # A group made and never read may be one a worker is filling right now: left alone.
    await client.xgroup_create(keys.stream, "just_made", id="0")
    assert await retire_idle_groups(client, keys, keep={"alerts", "other"}, idle_s=0) == []


async def test_a_retired_consumer_that_comes_back_refills_its_group_from_the_outbox(
    database: Database, make_relay: MakeRelay, client: aioredis.Redis, prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    keys = StreamKeys(prefix)
    old = make_relay()
    old_alerts = Recorder()
    old.subscribe("alerts", old_alerts)
    await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": 1}))
    await deliver_all(old)
    await old.close()  # the consumer goes away (a removed feature, a stopped staff worker)
    await publish_in_one_transaction(database, (Topic.ORDER_PLACED, {"n": 2}))

    other = make_relay(trim_interval_s=0, retire_groups_after_s=0.3)
    other.subscribe("receipts", Recorder())

    async def alerts_group_gone() -> bool:
        await other.run_once()  # publishes event 2, then trims: retires what is idle
        return "alerts" not in {g["name"] for g in await client.xinfo_groups(keys.stream)}

    with caplog.at_level(logging.WARNING, logger="shop.events.stream_relay"):
        await eventually(alerts_group_gone)
    assert "destroyed the stream group of consumer alerts" in caplog.text

    back = make_relay()
    alerts = Recorder()
    back.subscribe("alerts", alerts)
    await deliver_all(back)
    assert [e.payload["n"] for e in alerts.events] == [2]  # the one it had not handled yet
    assert [e.payload["n"] for e in old_alerts.events] == [1]


async def read_and_ack(client: aioredis.Redis, stream: str, group: str, count: int,
                       ack: Callable[[int], bool]) -> None:
    reply = await client.xreadgroup(group, "reader", {stream: ">"}, count=count)
    [(_, entries)] = reply
    assert len(entries) == count
    to_ack = [entry_id for entry_id, fields in entries if ack(int(fields["n"]))]
    if to_ack:
        await client.xack(stream, group, *to_ack)
