"""A Redis key held by one holder for a limited time: taken with ``SET NX PX``, given back
only by that holder (a holder whose lease ran out must not delete the next holder's key).

Used wherever one worker of several must do something alone for a while and a dead worker's
turn must pass on its own: handling one event, backfilling a consumer group, handling one
Telegram update, holding a chat's lock (``bot.handlers.chat_lock``, which takes it in a pipeline
with a read).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

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


@dataclass(frozen=True, slots=True)
class Lease:
    key: str
    holder: str
    what: str  # for the log: "the lock on chat 42"


# The task that opened a `giving_back_later` block, and the leases it collects.
_LATER: ContextVar[tuple[asyncio.Task[Any] | None, list[Lease]] | None] = ContextVar(
    "chatshop_leases_given_back_later", default=None)


@contextmanager
def giving_back_later() -> Iterator[list[Lease]]:
    """Inside the block, leases handed to `give_back_later` are collected in the list instead,
    for the caller to give back in a round trip it makes anyway (`queue_give_backs`)."""
    leases: list[Lease] = []
    token = _LATER.set((asyncio.current_task(), leases))
    try:
        yield leases
    finally:
        _LATER.reset(token)


def give_back_later(lease: Lease) -> bool:
    """Leave `lease` to the enclosing `giving_back_later` block; False when there is none
    (give it back now). A task started inside the block inherits the block but may outlive
    it, so only the task that opened it defers."""
    later = _LATER.get()
    if later is None or later[0] is not asyncio.current_task():
        return False
    later[1].append(lease)
    return True


def queue_give_backs(pipe: Pipeline, leases: Sequence[Lease]) -> None:
    """Add the give-back of each lease to a pipeline; each answers 1 when it was still held."""
    for lease in leases:
        pipe.eval(_GIVE_BACK, 1, lease.key, lease.holder)
