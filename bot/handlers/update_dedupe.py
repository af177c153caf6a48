"""Each Telegram update handled once, even when it is delivered twice.

Telegram delivers a webhook update again when it did not see our answer (a timeout, a
connection reset, a worker stopping); with several workers the second delivery may reach
another process. The first delivery claims ``(bot id, update_id)``; later ones are skipped.
Shared through Redis when ``REDIS_URL`` is set, else remembered in this process.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
KEY_PREFIX = "chatshop"
# Telegram gives up redelivering an update after about a day.
REMEMBER_S = 24 * 60 * 60
IN_PROCESS_LIMIT = 10_000


class UpdateDedupe(Protocol):
    async def first_time(self, bot_id: int, update_id: int) -> bool:
        """Claim the update; False when it was claimed before (a duplicate to skip)."""

    async def close(self) -> None:
        """Release connections."""


class InProcessDedupe:
    """The most recent updates seen by this process (bounded, oldest forgotten first)."""

    def __init__(self, limit: int = IN_PROCESS_LIMIT) -> None:
        self._seen: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._limit = limit

    async def first_time(self, bot_id: int, update_id: int) -> bool:
        """Claim the update in this process; False when it was claimed before."""
        key = (bot_id, update_id)
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._limit:
            self._seen.popitem(last=False)
        return True

    async def close(self) -> None:
        """Nothing to release."""


class RedisDedupe:
    """``SET <prefix>:tg:<bot id>:<update id> 1 NX EX 86400``, shared by every worker."""

    def __init__(self, redis: Redis, prefix: str = KEY_PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = KEY_PREFIX) -> RedisDedupe:
        """A client of its own, with short timeouts: the webhook answer waits for it."""
        return cls(Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0), prefix)

    async def first_time(self, bot_id: int, update_id: int) -> bool:
        """Claim the update for every worker; when Redis fails, handle it anyway (a rare
        duplicate is better than a lost update)."""
        key = f"{self._prefix}:tg:{bot_id}:{update_id}"
        try:
            claimed = await self._redis.set(key, 1, nx=True, ex=REMEMBER_S)
        except (RedisError, OSError) as error:
            log.warning("update %s of bot %s: duplicate check failed (%s); handling it",
                        update_id, bot_id, type(error).__name__)
            return True
        return bool(claimed)

    async def close(self) -> None:
        """Close the client's connection pool."""
        await self._redis.aclose(close_connection_pool=True)


def make_dedupe(redis_url: str | None) -> UpdateDedupe:
    """Redis-backed when ``REDIS_URL`` is set (several workers), else in this process."""
    if redis_url:
        return RedisDedupe.from_url(redis_url)
    return InProcessDedupe()
