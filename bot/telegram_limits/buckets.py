"""Token buckets with reservations, and the in-process store of them.

Each bucket is kept as one number, its *theoretical arrival time* ``tat`` (the GCRA form of a
token bucket): the bucket is full when ``tat <= now``; taking ``cost`` tokens at time ``at``
moves it to ``max(tat, at) + cost / rate``, and that is allowed once
``at >= tat - (burst - cost) / rate``. One number per bucket makes the Redis version a few
lines of Lua and lets a send *reserve* a slot in the near future in one step, instead of
every waiting sender polling for the next free token.

An unsolicited send takes its chat's bucket and the bot's overall bucket at the same
instant; a reply (``reply=True``: to the chat whose update is being handled, see
``limiter``) takes its chat's bucket only:

* while the bot is paused (Telegram answered 429) or the chat's bucket is empty, nothing is
  taken and the sender is told when to come back; a busy chat never holds up the others;
* otherwise a reply is granted now; an unsolicited send gets the first instant the overall
  bucket allows (now, or a moment later when many are sending) and both buckets are taken
  at that instant.

``plan_send`` is the rule; ``MemoryBuckets`` applies it in one process and the Lua script in
``redis_buckets`` applies the very same rule atomically in Redis for several workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.telegram_limits.policy import Bucket, TelegramLimits

Clock = Callable[[], float]
_SWEEP_EVERY = 4096  # reservations between sweeps of idle chat buckets


@dataclass(frozen=True)
class Grant:
    """The answer to a reservation: ``granted`` means "send after ``delay`` seconds"; not
    granted means nothing was taken: "ask again after ``delay`` seconds"."""

    granted: bool
    delay: float


@dataclass(frozen=True)
class Plan:
    grant: Grant
    overall_tat: float
    chat_tat: float


def ready_at(tat: float, bucket: Bucket, cost: int) -> float:
    """The first instant ``cost`` tokens may be taken (a cost above the burst waits for a
    full bucket and then leaves it in debt, so later sends pay for it)."""
    return tat - (bucket.burst - min(cost, bucket.burst)) / bucket.rate


def plan_send(now: float, pause_until: float, overall_tat: float, overall: Bucket | None,
              chat_tat: float, chat: Bucket, cost: int) -> Plan:
    """The reservation rule shared by both stores (the Lua script mirrors it line by line);
    ``overall`` is None for a reply, which passes its chat's bucket only."""
    gate = max(pause_until, ready_at(chat_tat, chat, cost))
    if gate > now:
        return Plan(Grant(False, gate - now), overall_tat, chat_tat)
    if overall is None:
        return Plan(Grant(True, 0.0), overall_tat, max(chat_tat, now) + cost / chat.rate)
    at = max(now, ready_at(overall_tat, overall, cost))
    return Plan(Grant(True, at - now), max(overall_tat, at) + cost / overall.rate,
                max(chat_tat, at) + cost / chat.rate)


class BucketStore(Protocol):
    """Where the buckets and the bots' 429 pauses live: this process, or Redis."""

    limits: TelegramLimits

    async def reserve(self, bot_id: int, chat: int | str | None, cost: int = 1, *,
                      reply: bool = False) -> Grant:
        """Take ``cost`` tokens for a message to ``chat`` from ``bot_id``, or say when to
        ask again; atomic, so concurrent senders never share a token. A ``reply`` takes
        the chat's tokens only, not the overall bucket's."""
        ...

    async def pause(self, bot_id: int, seconds: float) -> None:
        """Hold every send of the bot for ``seconds`` (Telegram's ``retry_after``)."""
        ...

    async def paused_for(self, bot_id: int) -> float:
        """Seconds left of the bot's pause (0 when not paused)."""
        ...

    async def close(self) -> None: ...


class MemoryBuckets:
    """The buckets of this process (the default: one worker, no Redis)."""

    def __init__(self, limits: TelegramLimits | None = None, *,
                 clock: Clock = time.monotonic) -> None:
        self.limits = limits or TelegramLimits()
        self._clock = clock
        self._overall: dict[int, float] = {}
        self._chats: dict[tuple[int, int | str | None], float] = {}
        self._pauses: dict[int, float] = {}
        self._reservations = 0

    async def reserve(self, bot_id: int, chat: int | str | None, cost: int = 1, *,
                      reply: bool = False) -> Grant:
        return self.reserve_now(bot_id, chat, cost, reply=reply)

    def reserve_now(self, bot_id: int, chat: int | str | None, cost: int = 1, *,
                    reply: bool = False) -> Grant:
        """``reserve`` without awaiting (also the fallback while Redis is unreachable)."""
        now = self._clock()
        key = (bot_id, chat)
        plan = plan_send(now, self._pauses.get(bot_id, now), self._overall.get(bot_id, now),
                         None if reply else self.limits.overall, self._chats.get(key, now),
                         self.limits.chat_bucket(chat), cost)
        if plan.grant.granted:
            self._overall[bot_id] = plan.overall_tat
            self._chats[key] = plan.chat_tat
            self._reservations += 1
            if self._reservations % _SWEEP_EVERY == 0:
                self._chats = {k: tat for k, tat in self._chats.items() if tat > now}
        return plan.grant

    async def pause(self, bot_id: int, seconds: float) -> None:
        self.pause_now(bot_id, seconds)

    def pause_now(self, bot_id: int, seconds: float) -> None:
        now = self._clock()
        self._pauses[bot_id] = max(self._pauses.get(bot_id, now), now + seconds)

    async def paused_for(self, bot_id: int) -> float:
        return self.paused_for_now(bot_id)

    def paused_for_now(self, bot_id: int) -> float:
        return max(0.0, self._pauses.get(bot_id, 0.0) - self._clock())

    async def close(self) -> None:
        return None
