"""Consumer groups of the stream relay: creating them, refilling them, reading from them.

One group per consumer name, one member per worker process. A group is *ready* when its
``ready`` key exists (see :mod:`shop.events.stream_store`); until then a worker creates it at
``0`` (tolerating BUSYGROUP) and, under a lock, backfills it from the database: every event
above the consumer's baseline it has not completed and that the stream does not hold is
re-published for that consumer alone. (Only events already published: the others reach the
new group the ordinary way.) That covers a brand-new consumer whose history was
trimmed away and a Redis that restarted empty. A new ``start_from_latest`` consumer instead
gets its group at ``$`` first and its baseline second, so every event above the baseline
reaches the group.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from shop.events import stream_records as records
from shop.events.delivery import DeliveredEvent, Handler
from shop.events.stream_store import (
    OUTAGE_ERRORS,
    StreamEntry,
    StreamKeys,
    StreamPublisher,
    entries,
)
from shop.redis_lease import give_back, take_lease

log = logging.getLogger(__name__)
_SCAN_COUNT = 1000


@dataclass
class Retry:
    """An entry whose handler failed; this member keeps it pending until ``due_at``."""

    entry: StreamEntry
    attempts: int
    due_at: datetime


@dataclass
class Consumer:
    """One subscription and what this worker knows of its group."""

    name: str
    handler: Handler
    topics: frozenset[str] | None
    start_from_latest: bool
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    baseline: int | None = None  # None until read from the database
    retries: dict[str, Retry] = field(default_factory=dict)  # by entry id
    claim_cursor: str = "0-0"

    def wants(self, entry: StreamEntry) -> bool:
        """Whether the entry is for this consumer: its topics, above its baseline."""
        event = entry.event
        return (event is not None and entry.only_for in (None, self.name)
                and (self.topics is None or event.topic in self.topics)
                and event.id > (self.baseline or 0))

    def forget(self) -> None:
        """Drop what refers to entries of a group that is gone."""
        self.retries.clear()
        self.claim_cursor = "0-0"


def entry_order(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


class Groups:
    """Group operations for one worker (one member name) on one stream."""

    def __init__(self, client: aioredis.Redis, keys: StreamKeys, member: str,
                 sessions: records.Sessions, publisher: StreamPublisher, *,
                 publisher_name: str, lease_s: float, batch_size: int) -> None:
        """Act as ``member``; entries idle for ``lease_s`` count as abandoned."""
        self._redis = client
        self._keys = keys
        self._member = member
        self._sessions = sessions
        self._publisher = publisher
        self._publisher_name = publisher_name  # whose done rows say "in the stream"
        self._lease_ms = max(1, int(lease_s * 1000))
        self._lock_s = lease_s
        self._batch_size = batch_size

    async def start(self, consumer: Consumer, now: datetime) -> None:
        """Learn the consumer's baseline; set it first for a new ``start_from_latest`` one."""
        if consumer.baseline is not None:
            return
        if consumer.start_from_latest and not await records.has_rows(self._sessions,
                                                                     consumer.name):
            created = False
            # Group first, baseline second: every event above the baseline commits after
            # the group exists, so it is published after too and the group sees it.
            with suppress(*OUTAGE_ERRORS):  # unreachable: the group is made at 0 later
                created = await self.create(consumer.name, "$")
            await records.set_baseline(self._sessions, consumer.name, now)
            if created:
                with suppress(*OUTAGE_ERRORS):
                    await self._redis.set(self._keys.ready(consumer.name), "1")
        consumer.baseline = await records.baseline(self._sessions, consumer.name)

    async def create(self, name: str, start: str) -> bool:
        """Create the group at ``start``; False when it already existed."""
        try:
            await self._redis.xgroup_create(self._keys.stream, name, id=start, mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" in str(error):
                return False
            raise
        log.info("created consumer group %s at %s", name, start)
        return True

    async def ensure_ready(self, consumer: Consumer) -> None:
        """Make sure the group exists and holds what the consumer still has to handle."""
        ready = self._keys.ready(consumer.name)
        if await self._redis.exists(ready):
            return
        await self.create(consumer.name, "0")
        lock = self._keys.backfill_lock(consumer.name)
        if not await take_lease(self._redis, lock, self._member, self._lock_s):
            return  # another worker is backfilling; reading meanwhile is harmless
        try:
            await self._backfill(consumer)
            await self._redis.set(ready, "1")
        finally:
            with suppress(*OUTAGE_ERRORS):  # else the lock expires on its own
                await give_back(self._redis, lock, self._member)

    async def _backfill(self, consumer: Consumer) -> int:
        # Events the publisher has not taken up yet reach the group, which exists by now, on
        # their own. Reading the database before the stream means an event is either seen
        # as taken up, then found in the stream if it is there, or published after this
        # started. One being published right now may be added twice: harmless.
        missing: list[DeliveredEvent] = []
        after = consumer.baseline or 0
        while True:
            events = await records.published_not_completed(
                self._sessions, consumer.name, consumer.topics, after, self._batch_size,
                publisher=self._publisher_name)
            missing += events
            if len(events) < self._batch_size:
                break
            after = events[-1].id
        present = await self._in_stream(consumer.name) if missing else set()
        added = 0
        for event in missing:
            if (event.id not in present
                    and await self._publisher.publish(event, only_for=consumer.name)):
                added += 1
        if added:
            log.warning("re-published %d events for consumer %s that Redis did not hold",
                        added, consumer.name)
        return added

    async def _in_stream(self, consumer: str) -> set[int]:
        """Event ids of entries in the stream that ``consumer`` would read."""
        found: set[int] = set()
        start = "-"
        while True:
            raw: Any = await self._redis.xrange(self._keys.stream, min=start, max="+",
                                           count=_SCAN_COUNT)
            for _entry_id, fields in raw:
                if fields.get("for") in (None, "", consumer) and fields.get("id", "").isdigit():
                    found.add(int(fields["id"]))
            if len(raw) < _SCAN_COUNT:
                return found
            start = "(" + raw[-1][0]

    async def keep_retries(self, consumer: Consumer) -> None:
        """Forget retries another member took over; keep the others from looking abandoned."""
        if not consumer.retries:
            return
        ids = sorted(consumer.retries, key=entry_order)
        rows: Any = await self._redis.xpending_range(
            self._keys.stream, consumer.name, min=ids[0], max=ids[-1],
            count=len(ids) + self._batch_size, consumername=self._member)
        mine: set[str] = {row["message_id"] for row in rows}
        for entry_id in ids:
            if entry_id not in mine:
                del consumer.retries[entry_id]
        if mine:
            held: list[str] = sorted(mine, key=entry_order)
            # Refresh idle time, but only of entries idle for a while: one just taken over
            # by another member looks fresh and is left to it.
            await self._redis.xclaim(self._keys.stream, consumer.name, self._member,
                                     min_idle_time=self._lease_ms // 4,
                                     message_ids=list(held), justid=True)

    async def claim_abandoned(self, consumer: Consumer) -> list[StreamEntry]:
        """Take entries idle for longer than the lease (their worker died or hangs)."""
        reply: Any = await self._redis.xautoclaim(
            self._keys.stream, consumer.name, self._member, min_idle_time=self._lease_ms,
            start_id=consumer.claim_cursor, count=self._batch_size)
        consumer.claim_cursor = str(reply[0])
        claimed = [entry for entry in entries(reply[1])
                   if entry.entry_id not in consumer.retries]
        if claimed:
            log.info("consumer %s took over %d entries idle for over %.0fs", consumer.name,
                     len(claimed), self._lease_ms / 1000)
        return claimed

    async def read(self, consumer: Consumer, block_ms: int | None) -> list[StreamEntry]:
        """New entries for this member, waiting up to ``block_ms`` (None: not at all)."""
        reply: Any = await self._redis.xreadgroup(consumer.name, self._member,
                                             {self._keys.stream: ">"},
                                             count=self._batch_size, block=block_ms)
        found: list[StreamEntry] = []
        for _stream, items in reply or []:
            found += entries(items)
        return found

    async def ack(self, consumer: Consumer, entry_ids: Iterable[str]) -> None:
        """Acknowledge entries: handled and recorded, or not for this consumer."""
        ids = list(entry_ids)
        if ids:
            await self._redis.xack(self._keys.stream, consumer.name, *ids)

    async def leave(self, consumer: Consumer) -> None:
        """Remove this member from the group if it holds no pending entry."""
        rows = await self._redis.xpending_range(self._keys.stream, consumer.name, min="-",
                                                max="+", count=1, consumername=self._member)
        if not rows:
            await self._redis.xgroup_delconsumer(self._keys.stream, consumer.name,
                                                 self._member)
