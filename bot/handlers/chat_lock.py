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

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiogram.fsm.storage.base import BaseEventIsolation, KeyBuilder, StorageKey
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from shop.renewal import RENEW_SHARE, Renewal

log = logging.getLogger(__name__)
POLL_S = 0.05  # how often an update waiting for its chat looks at the lock again


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

        async def renew() -> bool:
            try:
                await lock.reacquire()
            except LockError:
                log.warning("lost the lock on chat %s before its update was handled",
                            key.chat_id)
                return False
            except RedisError as error:
                log.warning("could not renew the lock on chat %s (%s); trying again",
                            key.chat_id, type(error).__name__)
            return True

        renewal = Renewal(renew, self._lease_s * RENEW_SHARE)
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
