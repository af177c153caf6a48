"""A Redis key held by one holder for a limited time: taken with ``SET NX PX``, given back
only by that holder (a holder whose lease ran out must not delete the next holder's key).

Used wherever one worker of several must do something alone for a while and a dead worker's
turn must pass on its own: handling one event, backfilling a consumer group, handling one
Telegram update, holding a chat's lock (``bot.handlers.chat_lock``, which takes it in a pipeline
with a read).
"""

from __future__ import annotations

import redis.asyncio as aioredis

_GIVE_BACK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def lease_ms(seconds: float) -> int:
    """A lease in Redis's milliseconds (never 0: Redis refuses an expiry of 0)."""
    return max(1, int(seconds * 1000))


async def take_lease(client: aioredis.Redis, key: str, holder: str, seconds: float) -> bool:
    """Hold ``key`` as ``holder`` for ``seconds``; False while somebody holds it."""
    return bool(await client.set(key, holder, nx=True, px=lease_ms(seconds)))


async def give_back(client: aioredis.Redis, key: str, holder: str) -> bool:
    """Delete ``key`` if ``holder`` still holds it; True when it did."""
    return bool(await client.eval(_GIVE_BACK, 1, key, holder))


async def renew_lease(client: aioredis.Redis, key: str, holder: str, seconds: float) -> bool:
    """Hold ``key`` for ``seconds`` more if ``holder`` still holds it; False when it does not
    (the lease ran out and somebody else may have it)."""
    return bool(await client.eval(_RENEW, 1, key, holder, lease_ms(seconds)))
