"""One chat's updates one at a time across workers: a Redis lock per chat, held on a lease.

aiogram's ``RedisEventIsolation`` takes a lock that lives 60 s whatever happens, so a worker
killed in the middle of an update left that customer's chat locked for a minute: Telegram's
redelivery of the update, and every later message of the customer, waited on every worker.
Here the lock lives for the lease (``EVENT_LEASE_SECONDS``, after which the update itself is
handed to another worker too) and the worker handling the update renews it every third of
that, so a long update (a slow payment provider) keeps its chat, and a dead worker's lock runs
out together with its claim on the update.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiogram.fsm.storage.base import BaseEventIsolation, KeyBuilder, StorageKey
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

log = logging.getLogger(__name__)
POLL_S = 0.05  # how often an update waiting for its chat looks at the lock again
RENEW_SHARE = 1 / 3  # of the lease: how often the holder renews it


class LeasedChatLock(BaseEventIsolation):
    def __init__(self, redis: Redis, key_builder: KeyBuilder, lease_s: float) -> None:
        self._redis = redis
        self._key_builder = key_builder
        self._lease_s = lease_s

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        lock = self._redis.lock(self._key_builder.build(key, "lock"), timeout=self._lease_s,
                                sleep=POLL_S, lock_class=Lock)
        await lock.acquire()
        renewal = _Renewal(lock, self._lease_s * RENEW_SHARE)
        try:
            yield
        finally:
            renewal.stop()
            try:
                await lock.release()
            except LockError:
                log.warning("the lock on chat %s ran out before its update was handled; "
                            "another update of that chat may have run meanwhile", key.chat_id)
            except RedisError as error:  # it runs out on its own
                log.warning("could not release the lock on chat %s (%s)", key.chat_id,
                            type(error).__name__)

    async def close(self) -> None:
        """The connection is the storage's: it closes it."""


class _Renewal:
    """Renews a held lock every `every` seconds until stopped. A timer, not a task, while
    nothing is due: most updates end long before the first renewal."""

    def __init__(self, lock: Lock, every: float) -> None:
        self._lock = lock
        self._every = every
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(every, self._due)
        self._task: asyncio.Task[None] | None = None

    def _due(self) -> None:
        self._timer = None
        self._task = self._loop.create_task(self._renew())

    async def _renew(self) -> None:
        try:
            await self._lock.reacquire()
        except LockError:
            log.warning("lost the lock on %s before its update was handled", self._lock.name)
            return
        except RedisError as error:
            log.warning("could not renew the lock on %s (%s); trying again", self._lock.name,
                        type(error).__name__)
        self._timer = self._loop.call_later(self._every, self._due)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
