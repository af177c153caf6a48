"""At most one refusal message per stranger in a while, however many workers they reach.

A stranger writing to the staff bot is told once that it is for staff only; more messages
get no answer for `REFUSAL_EVERY_S` (every attempt is still logged). With several workers the
memory of who was told is shared through Redis (the conversation storage's connection), so
five workers do not send five refusals."""

from __future__ import annotations

import logging
import time
from typing import Protocol

from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
REFUSAL_EVERY_S = 600.0
KEY_PREFIX = "chatshop:staff:refused"
IN_PROCESS_LIMIT = 10_000


class Refusals(Protocol):
    async def first_in_window(self, user_id: int) -> bool:
        """True when this person was not told in the last `REFUSAL_EVERY_S` (and now is)."""


class InProcessRefusals:
    def __init__(self, every_s: float = REFUSAL_EVERY_S) -> None:
        self._every_s = every_s
        self._told_at: dict[int, float] = {}

    async def first_in_window(self, user_id: int) -> bool:
        now = time.monotonic()
        if now - self._told_at.get(user_id, -self._every_s) < self._every_s:
            return False
        self._told_at[user_id] = now
        if len(self._told_at) > IN_PROCESS_LIMIT:  # forget old entries rather than grow
            self._told_at = {k: v for k, v in self._told_at.items() if now - v < self._every_s}
        return True


class RedisRefusals:
    """``<prefix>:<user id>`` set for the window by whichever worker tells the person."""

    def __init__(self, redis: Redis, every_s: float = REFUSAL_EVERY_S,
                 prefix: str = KEY_PREFIX) -> None:
        self._redis = redis
        self._every_ms = int(every_s * 1000)
        self._prefix = prefix

    async def first_in_window(self, user_id: int) -> bool:
        try:
            return bool(await self._redis.set(f"{self._prefix}:{user_id}", b"1", nx=True,
                                              px=self._every_ms))
        except (RedisError, OSError) as error:
            # Telling a stranger twice beats leaving them without an answer.
            log.warning("staff bot: could not check refusals (%s); refusing anyway",
                        type(error).__name__)
            return True


def make_refusals(storage: BaseStorage | None) -> Refusals:
    """Shared through the conversation storage's Redis when there is one, else this process's."""
    if isinstance(storage, RedisStorage):
        return RedisRefusals(storage.redis)
    return InProcessRefusals()
