"""The in-process outbox relay: committed outbox events reach every subscriber at least once.

Each subscriber is a *consumer* with a stable name (``staff_alerts``). Its progress lives in
``event_deliveries``, one row per (consumer, event) from the first attempt on:

* **Claim, then run, then mark done.** Before a handler runs, the relay claims the event by
  inserting the row (unique on consumer and event) or, for a retry, by a conditional update;
  either sets ``next_attempt_at`` to a lease. ``done`` is committed only after the handler
  returned. A crash in between leaves the row claimed but not done, and the event is delivered
  again once the lease runs out: at-least-once. Consumers make repeats harmless with
  :mod:`shop.events.consumers`. A second relay on the same database skips claimed rows, so
  one event is not handled twice at once for one consumer while a lease holds.
* **Failures back off and never block.** A handler that raises records ``attempts``, a short
  ``last_error`` and an exponential ``next_attempt_at``; it is retried for ever. Retries are
  found through the delivery rows and new events by scanning past a per-consumer watermark,
  so a failing event does not hold up later ones. First attempts follow id order; a retry
  arrives whenever its backoff ends.
* **Where a new consumer starts.** By default a consumer receives every event in the outbox
  without a done delivery for it, including events older than the consumer, so an alert
  consumer added later still sees what it missed. ``start_from_latest=True`` starts a
  consumer that has no delivery rows yet at the newest event instead; a baseline row
  (``done`` with zero attempts) remembers that starting point across restarts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from shop.db.base import utcnow
from shop.events.delivery import (
    DeliveredEvent,
    Handler,
    checked_subscription,
    insert_delivery,
)
from shop.events.models import EventDelivery, OutboxEvent
from shop.events.retry_policy import DEFAULT_RETRY, RetryPolicy
from shop.redaction import describe_error

log = logging.getLogger(__name__)

@dataclass
class _Subscription:
    consumer: str
    handler: Handler
    topics: frozenset[str] | None
    start_from_latest: bool
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Every event below the watermark has a delivery row for this consumer, is not of its
    # topics, lies at or below its baseline, or is an id that never committed. None until known.
    watermark: int | None = None
    baseline: int = 0
    full_scan_at: datetime | None = None  # when the watermark was last reset to the baseline


@dataclass(frozen=True)
class _Due:
    event: DeliveredEvent
    delivery_id: int | None  # None: never attempted, no row yet
    attempts: int


class Relay:
    """Delivers outbox events to subscribed handlers, at least once, with retries."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        batch_size: int = 100,
        poll_interval_s: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
        retry: RetryPolicy = DEFAULT_RETRY,
        lease_s: float = 60.0,
        gap_grace_s: float = 120.0,
        rescan_interval_s: float = 600.0,
        expected_errors: tuple[type[Exception], ...] = (),
    ) -> None:
        """Configure the relay; nothing touches the database until the first pass.

        ``lease_s`` is both how long a claim keeps other relays off an event and the time a
        handler may take before it counts as failed. ``retry``: the backoff after a handler
        fails, and when a failure is logged as an error. ``gap_grace_s`` and ``rescan_interval_s``
        cover events whose transaction commits after events with higher ids (see
        ``_advance``). Handler failures of ``expected_errors`` are retried like any other
        but logged at DEBUG only: the caller reports them (once per outage, say).
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if min(lease_s, poll_interval_s) <= 0:
            raise ValueError("intervals must be positive")
        self._sessions = sessions
        self._batch_size = batch_size
        self._retry = retry
        self._poll_interval_s = poll_interval_s
        self._clock = clock
        self._lease = timedelta(seconds=lease_s)
        self._lease_s = lease_s
        self._gap_grace = timedelta(seconds=gap_grace_s)
        self._rescan_interval = timedelta(seconds=rescan_interval_s)
        self._expected_errors = expected_errors
        self._subscriptions: dict[str, _Subscription] = {}
        self._wake = asyncio.Event()
        self._backlog = False

    def subscribe(
        self,
        consumer: str,
        handler: Handler,
        topics: Iterable[str] | None = None,
        *,
        start_from_latest: bool = False,
    ) -> None:
        """Deliver events of ``topics`` (all topics when None) to ``handler`` as ``consumer``.

        The consumer name is the durable identity of the subscription: keep it stable across
        releases, or the new name receives the whole outbox again.
        """
        topic_set = checked_subscription(consumer, topics, self._subscriptions)
        self._subscriptions[consumer] = _Subscription(
            consumer, handler, topic_set, start_from_latest
        )

    def wake(self) -> None:
        """Ask a running :meth:`run` loop for a pass now; call after committing new events."""
        self._wake.set()

    async def run_once(self) -> int:
        """Deliver what is due to every consumer, up to a batch each; return the successes.

        Consumers are served concurrently, so a slow one does not delay the others. Handler
        failures are recorded and retried later; a database error ends that consumer's pass
        and is raised once every other pass has finished.
        """
        subscriptions = list(self._subscriptions.values())
        results = await asyncio.gather(
            *(self._pass(subscription) for subscription in subscriptions),
            return_exceptions=True,
        )
        delivered = 0
        backlog = False
        failures: list[BaseException] = []
        for subscription, result in zip(subscriptions, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, Exception):
                    log.error("relay pass for consumer %s failed", subscription.consumer,
                              exc_info=result)
                failures.append(result)
            else:
                delivered += result[0]
                backlog = backlog or result[1]
        self._backlog = backlog
        if failures:
            # Crash-like errors (cancellation, KeyboardInterrupt) outrank ordinary ones.
            raise next((f for f in failures if not isinstance(f, Exception)), failures[0])
        return delivered

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set: a pass, then wait for :meth:`wake`, the poll interval
        or ``stop``. Setting ``stop`` lets the pass in hand finish; cancelling does not."""
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:
                # run_once logged the details per consumer; try again after the interval.
                log.warning("relay pass failed; retrying in %.1fs", self._poll_interval_s)
                self._backlog = False
            if stop.is_set():
                break
            if not self._backlog:
                await self._idle(stop)

    async def pending(self, consumer: str | None = None) -> int:
        """Count deliveries not done yet (new, retrying or in flight), for one consumer or all."""
        if consumer is None:
            subscriptions = list(self._subscriptions.values())
        elif consumer in self._subscriptions:
            subscriptions = [self._subscriptions[consumer]]
        else:
            raise KeyError(f"unknown consumer {consumer!r}")
        total = 0
        for subscription in subscriptions:
            async with subscription.lock:
                if subscription.watermark is None:
                    await self._start(subscription)
            watermark = subscription.watermark
            assert watermark is not None
            async with self._sessions() as session:
                fresh = await session.scalar(
                    select(func.count()).select_from(OutboxEvent).where(
                        OutboxEvent.id >= watermark,
                        _topic_filter(subscription),
                        ~_has_delivery_row(subscription.consumer),
                    )
                )
                unfinished = await session.scalar(
                    select(func.count()).select_from(EventDelivery)
                    .join(OutboxEvent, OutboxEvent.id == EventDelivery.event_id)
                    .where(
                        EventDelivery.consumer == subscription.consumer,
                        EventDelivery.done == false(),
                        _topic_filter(subscription),
                    )
                )
            total += (fresh or 0) + (unfinished or 0)
        return total

    async def close(self) -> None:
        """Release resources; this relay holds none beyond the caller's session factory."""

    async def _idle(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(
                waiters, timeout=self._poll_interval_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    async def _pass(self, subscription: _Subscription) -> tuple[int, bool]:
        async with subscription.lock:
            full_scan_at = subscription.full_scan_at
            if (subscription.watermark is None or full_scan_at is None
                    or self._clock() - full_scan_at >= self._rescan_interval):
                await self._start(subscription)
            due = await self._due(subscription)
            delivered = 0
            for item in due:
                if await self._deliver(subscription, item):
                    delivered += 1
            await self._advance(subscription)
            return delivered, len(due) >= self._batch_size

    async def _start(self, subscription: _Subscription) -> None:
        """Find (or, for a new start_from_latest consumer, set) the baseline; scan from it."""
        consumer = subscription.consumer
        now = self._clock()
        async with self._sessions.begin() as session:
            if subscription.start_from_latest and subscription.full_scan_at is None:
                known = await session.scalar(
                    select(EventDelivery.id).where(EventDelivery.consumer == consumer).limit(1)
                )
                if known is None:
                    latest = await session.scalar(select(func.max(OutboxEvent.id)))
                    await insert_delivery(session, consumer=consumer, event_id=latest or 0,
                                          done=True, attempts=0, next_attempt_at=None,
                                          last_error=None, updated_at=now)
            # If two relays raced to set a baseline, the earlier one wins: deliver more, not less.
            baseline = await session.scalar(
                select(func.min(EventDelivery.event_id)).where(
                    EventDelivery.consumer == consumer,
                    EventDelivery.done == true(),
                    EventDelivery.attempts == 0,
                )
            )
        subscription.baseline = baseline or 0
        # Restarting the scan from the baseline now and then picks up events whose transaction
        # committed after the watermark had moved past their id (see _advance).
        subscription.watermark = subscription.baseline + 1
        subscription.full_scan_at = now
        await self._advance(subscription)

    async def _advance(self, subscription: _Subscription) -> None:
        """Move the watermark up to the lowest event of the consumer's topics without a row.

        PostgreSQL hands out ids when a row is inserted, not when it commits, so id 7 can
        become visible after id 8. A missing id below a visible event may therefore still
        arrive; the watermark stops there until the event after the gap is older than
        ``gap_grace_s``. Only then is the gap taken for a rolled-back transaction. (SQLite
        serialises writers, so it never shows such gaps.) Anything later still is found by
        the periodic rescan and after a restart.
        """
        watermark = subscription.watermark
        assert watermark is not None
        cutoff = self._clock() - self._gap_grace
        async with self._sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                # All the reads below must share one snapshot. Under READ COMMITTED an event
                # committing between two of them is missed by one and seen by the next, and
                # the watermark would step over it. (An SQLite transaction is one snapshot.)
                await session.connection(
                    execution_options={"isolation_level": "REPEATABLE READ"}
                )
            target = await session.scalar(
                select(func.min(OutboxEvent.id)).where(
                    OutboxEvent.id >= watermark,
                    _topic_filter(subscription),
                    ~_has_delivery_row(subscription.consumer),
                )
            )
            if target is None:
                top = await session.scalar(select(func.max(OutboxEvent.id)))
                target = max(watermark, (top or 0) + 1)
            if target > watermark:
                before = aliased(OutboxEvent)
                after_gap = await session.scalar(
                    select(func.min(OutboxEvent.id)).where(
                        OutboxEvent.id > watermark,
                        OutboxEvent.id <= target,
                        OutboxEvent.created_at > cutoff,
                        ~exists().where(before.id == OutboxEvent.id - 1),
                    )
                )
                if after_gap is not None:
                    below_gap = await session.scalar(
                        select(func.max(OutboxEvent.id)).where(
                            OutboxEvent.id >= watermark, OutboxEvent.id < after_gap
                        )
                    )
                    target = watermark if below_gap is None else below_gap + 1
        subscription.watermark = target

    async def _due(self, subscription: _Subscription) -> list[_Due]:
        """Retries whose backoff (or lease) has ended, and events never attempted, by id."""
        consumer = subscription.consumer
        watermark = subscription.watermark
        assert watermark is not None
        now = self._clock()
        async with self._sessions() as session:
            retries = await session.execute(
                select(OutboxEvent, EventDelivery.id, EventDelivery.attempts)
                .join(EventDelivery, EventDelivery.event_id == OutboxEvent.id)
                .where(
                    EventDelivery.consumer == consumer,
                    EventDelivery.done == false(),
                    or_(EventDelivery.next_attempt_at.is_(None),
                        EventDelivery.next_attempt_at <= now),
                    _topic_filter(subscription),
                )
                .order_by(OutboxEvent.id)
                .limit(self._batch_size)
            )
            due = [_Due(_delivered(event), delivery_id, attempts)
                   for event, delivery_id, attempts in retries.tuples()]
            fresh = await session.scalars(
                select(OutboxEvent)
                .where(
                    OutboxEvent.id >= watermark,
                    _topic_filter(subscription),
                    ~_has_delivery_row(consumer),
                )
                .order_by(OutboxEvent.id)
                .limit(self._batch_size)
            )
            due.extend(_Due(_delivered(event), None, 0) for event in fresh)
        due.sort(key=lambda item: item.event.id)
        return due[: self._batch_size]

    async def _deliver(self, subscription: _Subscription, item: _Due) -> bool:
        claim = await self._claim(subscription.consumer, item)
        if claim is None:
            return False  # another relay has it
        delivery_id, attempt = claim
        try:
            async with asyncio.timeout(self._lease_s):
                await subscription.handler(item.event)
        except Exception as error:
            await self._record_failure(subscription.consumer, item.event, delivery_id, attempt,
                                       error)
            return False
        async with self._sessions.begin() as session:
            await session.execute(
                update(EventDelivery)
                .where(EventDelivery.id == delivery_id)
                .values(done=True, next_attempt_at=None, last_error=None,
                        updated_at=self._clock())
            )
        return True

    async def _claim(self, consumer: str, item: _Due) -> tuple[int, int] | None:
        """Take a lease on the delivery; return (delivery id, attempt number) or None."""
        now = self._clock()
        async with self._sessions.begin() as session:
            if item.delivery_id is None:
                delivery_id = await insert_delivery(
                    session, consumer=consumer, event_id=item.event.id, done=False, attempts=1,
                    next_attempt_at=now + self._lease, last_error=None, updated_at=now,
                )
                return None if delivery_id is None else (delivery_id, 1)
            # `attempts` doubles as a fencing token: another relay's claim changes it.
            claimed = await session.scalar(
                update(EventDelivery)
                .where(
                    EventDelivery.id == item.delivery_id,
                    EventDelivery.done == false(),
                    EventDelivery.attempts == item.attempts,
                    or_(EventDelivery.next_attempt_at.is_(None),
                        EventDelivery.next_attempt_at <= now),
                )
                .values(attempts=EventDelivery.attempts + 1,
                        next_attempt_at=now + self._lease, updated_at=now)
                .returning(EventDelivery.id)
            )
            return None if claimed is None else (item.delivery_id, item.attempts + 1)

    async def _record_failure(
        self, consumer: str, event: DeliveredEvent, delivery_id: int, attempt: int,
        error: Exception,
    ) -> None:
        delay = self._retry.backoff(attempt)
        message = describe_error(error)
        now = self._clock()
        async with self._sessions.begin() as session:
            await session.execute(
                update(EventDelivery)
                .where(EventDelivery.id == delivery_id, EventDelivery.done == false(),
                       EventDelivery.attempts == attempt)
                .values(next_attempt_at=now + timedelta(seconds=delay), last_error=message,
                        updated_at=now)
            )
        self._retry.log_failure(log, consumer, event, attempt, delay, error,
                                expected=isinstance(error, self._expected_errors))


def _delivered(event: OutboxEvent) -> DeliveredEvent:
    return DeliveredEvent(event.id, event.topic, event.payload, event.created_at)


def _topic_filter(subscription: _Subscription) -> ColumnElement[bool]:
    if subscription.topics is None:
        return true()
    return OutboxEvent.topic.in_(sorted(subscription.topics))


def _has_delivery_row(consumer: str) -> ColumnElement[bool]:
    return exists().where(
        and_(EventDelivery.consumer == consumer, EventDelivery.event_id == OutboxEvent.id)
    )
