"""Keeps this process's search index in step with catalog changes made by any process.

A loop reads :mod:`shop.catalog.changes` after its watermark every ``poll_interval_s`` and
refreshes the products named there (or rebuilds the index for a full-catalog change). With
Redis, a writer also publishes on a channel so every worker refreshes within moments rather
than at its next poll; a lost Redis message only delays a refresh until that poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.catalog.changes import changes_since, latest_change_id, prune_changes
from shop.catalog.service import CatalogService
from shop.db.base import utcnow

log = logging.getLogger(__name__)
CHANNEL = "chatshop:catalog:changed"
# How far back each pass re-reads, for rows whose transaction committed late (see changes.py).
LATE_COMMIT_WINDOW = timedelta(seconds=30)
KEEP_CHANGES = timedelta(days=1)


class IndexSync:
    """Follows the catalog change log into ``catalog.index``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], catalog: CatalogService, *,
                 redis_url: str | None = None, poll_interval_s: float = 2.0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._redis_url = redis_url
        self._poll_interval_s = poll_interval_s
        self._clock = clock
        self._watermark: int | None = None
        self._wake = asyncio.Event()
        self._last_prune: datetime | None = None
        self.subscribed = False  # listening for announcements through Redis

    async def start_from_now(self) -> None:
        """Mark every change so far as seen: call right after building the index."""
        async with self._sessions() as session:
            self._watermark = await latest_change_id(session)

    async def sync_once(self) -> int:
        """Apply changes since the last pass; return how many products were refreshed
        (-1 for a full rebuild)."""
        if self._watermark is None:
            await self.start_from_now()
        assert self._watermark is not None
        now = self._clock()
        async with self._sessions() as session:
            batch = await changes_since(session, self._watermark,
                                        recent_since=now - LATE_COMMIT_WINDOW)
        self._watermark = batch.last_id
        if batch.everything:
            count = await self._catalog.load_index()
            log.info("search index rebuilt after a catalog change: %d products", count)
            refreshed = -1
        else:
            await self._catalog.refresh_index(batch.product_ids)
            refreshed = len(batch.product_ids)
        if self._last_prune is None or now - self._last_prune >= timedelta(hours=1):
            self._last_prune = now
            async with self._sessions.begin() as session:
                await prune_changes(session, before=now - KEEP_CHANGES)
        return refreshed

    async def run(self, stop: asyncio.Event) -> None:
        """Sync until ``stop`` is set: at each poll, or at once when woken through Redis."""
        listener = asyncio.create_task(self._listen(stop)) if self._redis_url else None
        try:
            while not stop.is_set():
                self._wake.clear()  # before the pass: a wake during it means another pass
                try:
                    await self.sync_once()
                except (OSError, ConnectionError) as error:
                    log.warning("search index sync failed: %s", type(error).__name__)
                except Exception:
                    log.exception("search index sync failed")
                await self._idle(stop)
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def _idle(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=self._poll_interval_s,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    async def _listen(self, stop: asyncio.Event) -> None:
        """Wake the loop on every announcement; reconnect after Redis errors."""
        from redis import asyncio as aioredis
        from redis.exceptions import RedisError

        assert self._redis_url is not None
        client = aioredis.from_url(self._redis_url)
        delay = 0.5
        try:
            while not stop.is_set():
                try:
                    async with client.pubsub() as pubsub:
                        await pubsub.subscribe(CHANNEL)
                        delay = 0.5
                        async for message in pubsub.listen():
                            if message.get("type") == "subscribe":
                                self.subscribed = True  # the server confirmed it
                            # Also on (re)subscribing: announcements missed while away.
                            self._wake.set()
                except (RedisError, OSError) as error:
                    self.subscribed = False
                    log.warning("catalog change channel lost (%s); retrying in %.1fs",
                                type(error).__name__, delay)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    delay = min(delay * 2, 30.0)
        finally:
            await client.aclose()


async def announce_catalog_change(redis_url: str) -> None:
    """Wake every worker's index sync from a process that runs none (the import CLI)."""
    from redis import asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.from_url(redis_url)
    try:
        await client.publish(CHANNEL, "1")
    except (RedisError, OSError) as error:
        log.warning("could not announce the catalog change (%s); workers will see it at "
                    "their next poll", type(error).__name__)
    finally:
        await client.aclose()
