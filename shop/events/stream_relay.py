"""The event relay on Redis Streams with consumer groups, for several workers (``REDIS_URL``).

How an event travels:

1. **Publishing.** An inner database :class:`Relay` with the single consumer ``redis_stream``
   hands each committed outbox event to a Lua script that adds it to the stream unless it was
   added before (:mod:`shop.events.stream_store`). The inner relay brings leases, retries and
   safety between workers; the script makes a race, or a crash between XADD and marking the
   publication done, harmless. Before each publishing pass the worker pings Redis, so while
   Redis is away events simply wait in the outbox.
2. **Consuming.** Each consumer is a group; each worker process one member (host, pid,
   random). A pass takes entries abandoned by dead members (XAUTOCLAIM, idle over
   ``lease_s``), its own retries that are due, and new entries (XREADGROUP, blocking briefly
   inside :meth:`StreamRelay.run`). Entries of other topics, re-published for another
   consumer, at or below the consumer's baseline, or already completed per the database are
   acknowledged unread. Otherwise the handler runs, completion is recorded in
   ``event_deliveries`` and only then the entry is acknowledged (:mod:`.stream_groups`).
3. **Failures.** A failed entry stays pending for its member, which retries it with the
   database relay's exponential backoff on the relay's clock and keeps its idle time fresh
   meanwhile; later entries go on. Order by id holds within a batch, not across retries.
4. **Redis data loss.** Groups are re-created and refilled from the database (see
   :mod:`.stream_groups`); :meth:`StreamRelay.pending` counts from the database alone.
5. **Redis unreachable.** One warning per outage, then retries with a doubling pause; never
   a crash, never a busy loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

from shop.db.base import utcnow
from shop.events import stream_records as records
from shop.events.delivery import DeliveredEvent, Handler, checked_subscription
from shop.events.relay import Relay
from shop.events.retry_policy import DEFAULT_RETRY, RetryPolicy
from shop.events.stream_groups import Consumer, Groups, Retry, entry_order
from shop.events.stream_outage import Outage, first_of
from shop.events.stream_store import (
    OUTAGE_ERRORS,
    StreamEntry,
    StreamKeys,
    StreamPublisher,
    claim_handling,
    is_nogroup,
    open_redis,
    release_handling,
    retire_idle_groups,
    trim,
)

log = logging.getLogger(__name__)
PUBLISHER = "redis_stream"  # the inner relay's consumer name; reserved


class StreamRelay:
    """Delivers outbox events through a Redis stream, at least once, across workers."""

    def __init__(
        self,
        sessions: records.Sessions,
        redis_url: str,
        *,
        prefix: str = "chatshop",
        batch_size: int = 100,
        poll_interval_s: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
        retry: RetryPolicy = DEFAULT_RETRY,
        lease_s: float = 60.0,
        block_s: float = 1.0,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 10.0,
        trim_interval_s: float = 60.0,
        retire_groups_after_s: float = 24 * 3600.0,
    ) -> None:
        """Configure the relay; nothing connects until the first pass.

        ``retry``, ``lease_s`` and ``clock`` mean what they mean for
        :class:`Relay`; ``lease_s`` is also how long an entry must sit idle in another
        member's hands before it is taken over. ``block_s`` bounds each blocking read, and
        so how late :meth:`run` notices ``stop``. ``prefix`` names every Redis key. The group
        of a consumer this worker does not run, unread for ``retire_groups_after_s``, is
        destroyed when the stream is trimmed (see :func:`retire_idle_groups`).
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if min(lease_s, poll_interval_s, block_s, reconnect_min_s, reconnect_max_s) <= 0:
            raise ValueError("intervals must be positive")
        self._sessions = sessions
        self._clock = clock
        self._batch_size = batch_size
        self._retry = retry
        self._lease_s = lease_s
        self._poll_interval_s = poll_interval_s
        self._block_ms = max(1, int(block_s * 1000))
        self._trim_interval_s = trim_interval_s
        self._retire_groups_after_s = retire_groups_after_s
        self._last_trim = -float("inf")
        self._redis = open_redis(redis_url, block_s=block_s)
        self._keys = StreamKeys(prefix)
        member = self._member = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self._publisher = StreamPublisher(self._redis, self._keys)
        self._groups = Groups(self._redis, self._keys, member, sessions, self._publisher,
                              publisher_name=PUBLISHER, lease_s=lease_s,
                              batch_size=batch_size)
        self._outbox = Relay(sessions, batch_size=batch_size, poll_interval_s=poll_interval_s,
                             clock=clock, retry=retry, lease_s=lease_s,
                             expected_errors=OUTAGE_ERRORS)
        self._outbox.subscribe(PUBLISHER, self._publish)
        self._consumers: dict[str, Consumer] = {}
        self._wake = asyncio.Event()
        self._outage = Outage(reconnect_min_s, reconnect_max_s)
        self._publish_failed = False

    def subscribe(
        self,
        consumer: str,
        handler: Handler,
        topics: Iterable[str] | None = None,
        *,
        start_from_latest: bool = False,
    ) -> None:
        """Deliver events of ``topics`` (all topics when None) to ``handler`` as ``consumer``.

        The name is the durable identity (database rows, Redis group): keep it stable.
        Subscribe before :meth:`run`.
        """
        topic_set = checked_subscription(consumer, topics, self._consumers, {PUBLISHER})
        self._consumers[consumer] = Consumer(consumer, handler, topic_set, start_from_latest)

    def wake(self) -> None:
        """Ask a running :meth:`run` to publish now; call after committing new events."""
        self._wake.set()

    async def run_once(self) -> int:
        """Publish what is due, then one pass per consumer (no waiting); return successes.

        While Redis is unreachable this logs once and returns 0; database errors are raised
        once every consumer's pass has finished, as with :class:`Relay`.
        """
        await self._publish_pass()
        consumers = list(self._consumers.values())
        results = await asyncio.gather(*(self._pass(consumer, None) for consumer in consumers),
                                       return_exceptions=True)
        delivered, failures = 0, []
        for consumer, result in zip(consumers, results, strict=True):
            if isinstance(result, OUTAGE_ERRORS):
                self._outage.noticed(result)
            elif isinstance(result, BaseException):
                if isinstance(result, Exception):
                    log.error("stream relay pass for consumer %s failed", consumer.name,
                              exc_info=result)
                failures.append(result)
            else:
                delivered += result[0]
        if failures:
            raise next((f for f in failures if not isinstance(f, Exception)), failures[0])
        await self._maybe_trim()
        return delivered

    async def run(self, stop: asyncio.Event) -> None:
        """Publish and deliver until ``stop`` is set; each consumer runs on its own.

        Setting ``stop`` lets each handler in hand finish (within ``block_s`` otherwise);
        cancelling does not.
        """
        tasks = [asyncio.create_task(self._publish_loop(stop))]
        tasks += [asyncio.create_task(self._consume_loop(consumer, stop))
                  for consumer in self._consumers.values()]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def pending(self, consumer: str | None = None) -> int:
        """Count events not completed yet, for one consumer or all, from the database."""
        if consumer is None:
            selected = list(self._consumers.values())
        elif consumer in self._consumers:
            selected = [self._consumers[consumer]]
        else:
            raise KeyError(f"unknown consumer {consumer!r}")
        total = 0
        for subscription in selected:
            if subscription.baseline is None:
                async with subscription.lock:
                    await self._groups.start(subscription, self._clock())
            total += await records.pending_count(self._sessions, subscription.name,
                                                 subscription.topics, subscription.baseline or 0)
        return total

    async def close(self) -> None:
        """Leave the groups (when holding nothing) and close the Redis connections."""
        for consumer in self._consumers.values():
            try:
                await self._groups.leave(consumer)
            except RedisError:
                break  # unreachable or gone: members without entries are harmless
        await self._redis.aclose()

    async def _publish(self, event: DeliveredEvent) -> None:
        if self._publish_failed:
            raise RedisConnectionError("Redis unreachable")  # fail fast for the rest of a pass
        try:
            await self._publisher.publish(event)
        except OUTAGE_ERRORS as error:
            self._publish_failed = True
            self._outage.noticed(error)
            raise

    async def _publish_pass(self) -> int | None:
        """Publish one batch from the outbox; None when Redis is unreachable."""
        began = self._outage.mark()
        try:
            await self._redis.ping()
        except OUTAGE_ERRORS as error:
            self._outage.noticed(error)
            return None
        self._publish_failed = False
        published = await self._outbox.run_once()
        if self._publish_failed:
            return None
        self._outage.back(began)
        return published

    async def _pass(self, consumer: Consumer, block_ms: int | None) -> tuple[int, int, bool]:
        """(delivered, entries touched, whether it waited for new entries)."""
        async with consumer.lock:
            await self._groups.start(consumer, self._clock())
            try:
                return await self._consume(consumer, block_ms)
            except ResponseError as error:
                if not is_nogroup(error):
                    raise
            log.warning("consumer group %s is gone (Redis lost its data?); re-creating it",
                        consumer.name)
            consumer.forget()
            await self._redis.delete(self._keys.ready(consumer.name))
            return 0, 0, False

    async def _consume(self, consumer: Consumer, block_ms: int | None) -> tuple[int, int, bool]:
        await self._groups.ensure_ready(consumer)
        await self._groups.keep_retries(consumer)
        work: dict[str, StreamEntry] = {
            entry.entry_id: entry for entry in await self._groups.claim_abandoned(consumer)}
        now = self._clock()
        for entry_id, retry in consumer.retries.items():
            if retry.due_at <= now:
                work[entry_id] = retry.entry
        block = None if work else block_ms
        for entry in await self._groups.read(consumer, block):
            work[entry.entry_id] = entry
        ordered = sorted(work.values(), key=lambda entry: entry_order(entry.entry_id))
        return await self._handle(consumer, ordered), len(ordered), block is not None

    async def _handle(self, consumer: Consumer, batch: list[StreamEntry]) -> int:
        wanted = [entry.event.id for entry in batch
                  if entry.event is not None and consumer.wants(entry)]
        done = await records.completed(self._sessions, consumer.name, wanted)
        skipped: list[str] = []
        to_run: list[tuple[StreamEntry, DeliveredEvent]] = []
        for entry in batch:
            event = entry.event
            if event is None or not consumer.wants(entry) or event.id in done:
                skipped.append(entry.entry_id)
            else:
                done.add(event.id)  # a second copy in this batch is skipped
                to_run.append((entry, event))
        for entry_id in skipped:
            consumer.retries.pop(entry_id, None)
        await self._groups.ack(consumer, skipped)
        delivered = 0
        for entry, event in to_run:
            if await self._deliver(consumer, entry, event):
                delivered += 1
        return delivered

    async def _deliver(self, consumer: Consumer, entry: StreamEntry,
                       event: DeliveredEvent) -> bool:
        retry = consumer.retries.get(entry.entry_id)
        attempts = retry.attempts if retry else 0
        if not await claim_handling(self._redis, self._keys, consumer.name, event.id,
                                    self._member, self._lease_s):
            # Another member is handling another entry of this event (a backfill copy).
            # Keep this one pending and look again later: by then the event is done (and
            # this entry is acknowledged unread), or the other member failed and this one
            # takes its turn. Acknowledging it now would lose the event if that member died.
            consumer.retries[entry.entry_id] = Retry(
                entry, attempts, self._clock() + timedelta(seconds=self._retry.backoff(1)))
            log.debug("consumer %s: event %d is being handled by another worker",
                      consumer.name, event.id)
            return False
        attempt = attempts + 1
        try:
            try:
                async with asyncio.timeout(self._lease_s):
                    await consumer.handler(event)
            except Exception as error:
                delay = self._retry.backoff(attempt)
                consumer.retries[entry.entry_id] = Retry(
                    entry, attempt, self._clock() + timedelta(seconds=delay))
                self._retry.log_failure(log, consumer.name, event, attempt, delay, error)
                return False
            await records.record_done(self._sessions, consumer.name, event.id, attempt,
                                      self._clock())
        finally:
            await release_handling(self._redis, self._keys, consumer.name, event.id,
                                   self._member)
        consumer.retries.pop(entry.entry_id, None)
        await self._groups.ack(consumer, [entry.entry_id])
        return True

    async def _publish_loop(self, stop: asyncio.Event) -> None:
        pause = self._outage.min_pause_s
        while not stop.is_set():
            self._wake.clear()
            try:
                published = await self._publish_pass()
            except Exception:
                log.error("stream relay: publishing pass failed; retrying in %.1fs",
                          self._poll_interval_s, exc_info=True)
                published = 0
            if published is None:
                pause = await self._outage.pause(stop, pause)
                continue
            pause = self._outage.min_pause_s
            await self._maybe_trim()
            if not published:
                await first_of(self._poll_interval_s, self._wake, stop)

    async def _consume_loop(self, consumer: Consumer, stop: asyncio.Event) -> None:
        pause = self._outage.min_pause_s
        while not stop.is_set():
            began = self._outage.mark()
            try:
                _, touched, waited = await self._pass(consumer, self._block_ms)
            except OUTAGE_ERRORS as error:
                self._outage.noticed(error)
                pause = await self._outage.pause(stop, pause)
                continue
            except Exception:
                log.error("stream relay pass for consumer %s failed; retrying in %.1fs",
                          consumer.name, self._poll_interval_s, exc_info=True)
                touched, waited = 0, False
            else:
                pause = self._outage.min_pause_s
                self._outage.back(began)
            if touched:
                await self._maybe_trim()
            elif not waited:  # nothing done and nothing waited for: do not spin
                await first_of(self._poll_interval_s, stop)

    async def _maybe_trim(self) -> None:
        if self._outage.down or time.monotonic() - self._last_trim < self._trim_interval_s:
            return
        self._last_trim = time.monotonic()
        try:
            retired = await retire_idle_groups(self._redis, self._keys, keep=self._consumers,
                                               idle_s=self._retire_groups_after_s)
            removed = await trim(self._redis, self._keys)
        except OUTAGE_ERRORS as error:
            self._outage.noticed(error)
            return
        for name in retired:
            log.warning("destroyed the stream group of consumer %s: this worker does not run it "
                        "and nobody has read from it for %.0f s (it would keep the stream from "
                        "being trimmed); if it comes back, it refills from the outbox",
                        name, self._retire_groups_after_s)
        if removed:
            log.debug("trimmed %d acknowledged entries from %s", removed, self._keys.stream)
