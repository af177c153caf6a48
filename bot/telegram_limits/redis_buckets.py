"""The buckets in Redis, shared by every worker process of a bot.

One Lua script per operation applies ``buckets.plan_send`` atomically. Time comes from the
Redis server (``TIME``), so workers on different hosts agree on it; tests may pass their own
clock instead. Keys carry the bot id as a hash tag (``chatshop:tg:{123456}:…``) so one
script's keys share a Redis Cluster slot, and expire once their bucket is full again.

If Redis can't be reached, sends are limited by an in-process fallback until it answers
again (logged once per outage; Redis is asked again at most once a second meanwhile, so
sends don't each wait for a connection timeout): messages keep flowing, each worker within
the limits on its own, and a 429 that may follow is waited out by the retry middleware.
Nothing is dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.telegram_limits.buckets import Grant, MemoryBuckets
from bot.telegram_limits.policy import TelegramLimits

log = logging.getLogger(__name__)
Clock = Callable[[], float]
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
RECHECK_S = 1.0  # while Redis is away, how often to try it again

# Shared preamble: `now` from ARGV[1], or the server's clock when it is empty.
_NOW = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format('%.6f', x) end
local function num(key) return tonumber(redis.call('GET', key) or '0') end
local function keep(key, value)
  redis.call('SET', key, fmt(value), 'PX', math.max(1, math.ceil((value - now) * 1000)) + 1000)
end
"""

# KEYS: overall tat, chat tat, pause-until. ARGV: now, cost, overall rate, overall burst,
# chat rate, chat burst, reply (1: the chat's bucket only, 0: both).
# Returns {granted (0/1), delay in seconds as a string}.
RESERVE = _NOW + """
local cost = tonumber(ARGV[2])
local o_rate, o_burst = tonumber(ARGV[3]), tonumber(ARGV[4])
local c_rate, c_burst = tonumber(ARGV[5]), tonumber(ARGV[6])
local c_tat = num(KEYS[2])
local gate = math.max(num(KEYS[3]), c_tat - (c_burst - math.min(cost, c_burst)) / c_rate)
if gate > now then
  return {0, fmt(gate - now)}
end
if ARGV[7] == '1' then
  keep(KEYS[2], math.max(c_tat, now) + cost / c_rate)
  return {1, fmt(0)}
end
local o_tat = num(KEYS[1])
local at = math.max(now, o_tat - (o_burst - math.min(cost, o_burst)) / o_rate)
keep(KEYS[1], math.max(o_tat, at) + cost / o_rate)
keep(KEYS[2], math.max(c_tat, at) + cost / c_rate)
return {1, fmt(at - now)}
"""

# KEYS: pause-until. ARGV: now, seconds (0: only read). Returns the seconds left.
PAUSE = _NOW + """
local seconds = tonumber(ARGV[2])
local until_ = math.max(num(KEYS[1]), now + seconds)
if seconds > 0 then keep(KEYS[1], until_) end
return fmt(math.max(0, until_ - now))
"""


class RedisBuckets:
    """Buckets shared through Redis; see the module docstring."""

    def __init__(self, redis: Redis, limits: TelegramLimits | None = None, *,
                 prefix: str = "chatshop:tg", clock: Clock | None = None,
                 owns_client: bool = False) -> None:
        self.limits = limits or TelegramLimits()
        self.redis = redis
        self.prefix = prefix
        self._clock = clock
        self._owns_client = owns_client
        self._reserve = redis.register_script(RESERVE)
        self._pause = redis.register_script(PAUSE)
        self.fallback = MemoryBuckets(self.limits, clock=clock or time.monotonic)
        self.degraded = False
        self._recheck_at = 0.0

    @classmethod
    def from_url(cls, url: str, limits: TelegramLimits | None = None,
                 **kwargs: Any) -> RedisBuckets:
        # Fail fast (one quick reconnect) and let the fallback limit meanwhile: a send
        # should not wait seconds for Redis.
        client = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1,
                                health_check_interval=30,
                                retry=Retry(ExponentialWithJitterBackoff(cap=0.1, base=0.01), 1))
        return cls(client, limits, owns_client=True, **kwargs)

    def _key(self, bot_id: int, *parts: str) -> str:
        return ":".join((self.prefix, f"{{{bot_id}}}", *parts))

    def _now(self) -> str:
        return "" if self._clock is None else f"{self._clock():.6f}"

    def _away(self) -> bool:
        return self.degraded and time.monotonic() < self._recheck_at

    def _unreachable(self, error: Exception) -> None:
        self._recheck_at = time.monotonic() + RECHECK_S
        if not self.degraded:
            self.degraded = True
            log.warning("Redis unreachable for Telegram rate limits (%s); limiting in this "
                        "process only until it answers", type(error).__name__)

    def _reachable(self) -> None:
        if self.degraded:
            self.degraded = False
            log.info("Redis answers again: Telegram rate limits are shared again")

    async def reserve(self, bot_id: int, chat: int | str | None, cost: int = 1, *,
                      reply: bool = False) -> Grant:
        bucket = self.limits.chat_bucket(chat)
        overall = self.limits.overall
        keys = [self._key(bot_id, "overall"), self._key(bot_id, "chat", str(chat)),
                self._key(bot_id, "pause")]
        args: list[str | int] = [self._now(), cost, repr(overall.rate), overall.burst,
                                 repr(bucket.rate), bucket.burst, int(reply)]
        if self._away():
            return self.fallback.reserve_now(bot_id, chat, cost, reply=reply)
        try:
            granted, delay = await self._reserve(keys=keys, args=args)
        except _UNREACHABLE as error:
            self._unreachable(error)
            return self.fallback.reserve_now(bot_id, chat, cost, reply=reply)
        self._reachable()
        return Grant(bool(int(granted)), float(delay))

    async def pause(self, bot_id: int, seconds: float) -> None:
        self.fallback.pause_now(bot_id, seconds)  # also holds this worker if Redis is away
        if self._away():
            return
        try:
            await self._pause(keys=[self._key(bot_id, "pause")],
                              args=[self._now(), repr(float(seconds))])
        except _UNREACHABLE as error:
            self._unreachable(error)

    async def paused_for(self, bot_id: int) -> float:
        if self._away():
            return self.fallback.paused_for_now(bot_id)
        try:
            left = await self._pause(keys=[self._key(bot_id, "pause")],
                                     args=[self._now(), "0"])
        except _UNREACHABLE as error:
            self._unreachable(error)
            return self.fallback.paused_for_now(bot_id)
        return max(float(left), self.fallback.paused_for_now(bot_id))

    async def close(self) -> None:
        if self._owns_client:
            await self.redis.aclose()
