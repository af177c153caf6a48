"""One chat's updates one at a time across workers: a Redis lock per chat, held on a lease.

aiogram's ``RedisEventIsolation`` takes a lock that lives 60 s whatever happens, so a worker
killed in the middle of an update left that customer's chat locked for a minute: Telegram's
redelivery of the update, and every later message of the customer, waited on every worker.
Here the lock lives for the lease (``EVENT_LEASE_SECONDS``, after which the update itself is
handed to another worker too) and the worker handling the update renews it every third of
that, so a long update (a slow payment provider) keeps its chat, and a dead worker's lock runs
out together with its claim on the update.

Every update of the chat reads the chat's conversation data right after taking the lock, so
the lock reads it in the same round trip (``SET NX`` and ``GET`` in one pipeline: Redis runs
them in order, so the data is what the previous holder left) and hands it to
``bot.handlers.storage.ConversationStorage`` through `prefetched_data`. Likewise a webhook
update gives the lock back in the round trip that marks the update done
(``shop.redis_lease.giving_back_later``, ``bot.handlers.webhook``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from aiogram.fsm.storage.base import BaseEventIsolation, KeyBuilder, StorageKey
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shop.redis_lease import Lease, give_back, give_back_later, lease_ms, renew_lease
from shop.renewal import RENEW_SHARE, Renewal

log = logging.getLogger(__name__)
POLL_S = 0.05  # how often an update waiting for its chat looks at the lock again


@dataclass(slots=True)
class _Prefetch:
    data_key: str
    value: bytes | str | None
    fresh: bool = True


_PREFETCH: ContextVar[_Prefetch | None] = ContextVar("chatshop_chat_data", default=None)


def prefetched_data(data_key: str) -> tuple[bool, bytes | str | None]:
    """(True, the stored value or None) the first time the update holding the chat's lock
    asks for its data; (False, None) after that, or for another key: read Redis then."""
    prefetch = _PREFETCH.get()
    if prefetch is None or not prefetch.fresh or prefetch.data_key != data_key:
        return False, None
    prefetch.fresh = False
    return True, prefetch.value


def forget_prefetched(data_key: str) -> None:
    """The data was written: what the lock read is stale now."""
    prefetch = _PREFETCH.get()
    if prefetch is not None and prefetch.data_key == data_key:
        prefetch.fresh = False


class LeasedChatLock(BaseEventIsolation):
    def __init__(self, redis: Redis, key_builder: KeyBuilder, lease_s: float) -> None:
        self._redis = redis
        self._key_builder = key_builder
        self._lease_s = lease_s

    async def _take(self, lock_key: str, data_key: str, holder: str) -> bytes | str | None:
        """Wait for the chat's lock; the chat's data as it was when the lock was taken."""
        while True:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(lock_key, holder, nx=True, px=lease_ms(self._lease_s))
                pipe.get(data_key)
                taken, data = await pipe.execute()
            if taken:
                return data  # type: ignore[no-any-return]
            await asyncio.sleep(POLL_S)

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        lock_key = self._key_builder.build(key, "lock")
        data_key = self._key_builder.build(key, "data")
        holder = secrets.token_hex(8)
        data = await self._take(lock_key, data_key, holder)

        async def renew() -> bool:
            try:
                if await renew_lease(self._redis, lock_key, holder, self._lease_s):
                    return True
                log.warning("lost the lock on chat %s before its update was handled",
                            key.chat_id)
                return False
            except RedisError as error:
                log.warning("could not renew the lock on chat %s (%s); trying again",
                            key.chat_id, type(error).__name__)
            return True

        renewal = Renewal(renew, self._lease_s * RENEW_SHARE)
        token = _PREFETCH.set(_Prefetch(data_key, data))
        try:
            yield
        finally:
            _PREFETCH.reset(token)
            renewal.stop()
            if not give_back_later(Lease(lock_key, holder, f"the lock on chat {key.chat_id}")):
                await self._give_back(lock_key, holder, key.chat_id)

    async def _give_back(self, lock_key: str, holder: str, chat_id: int) -> None:
        try:
            if not await give_back(self._redis, lock_key, holder):
                log.warning("the lock on chat %s ran out before its update was handled; "
                            "another update of that chat may have run meanwhile", chat_id)
        except RedisError as error:  # it runs out on its own
            log.warning("could not release the lock on chat %s (%s)", chat_id,
                        type(error).__name__)

    async def close(self) -> None:
        """The connection is the storage's: it closes it."""
