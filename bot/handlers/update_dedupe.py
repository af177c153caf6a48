"""Each Telegram update handled once, and none lost when a worker dies handling it.

Telegram delivers a webhook update again when it did not see our 2xx answer (a timeout, a
connection reset, a worker stopping or killed); with several workers the second delivery may
reach another process. So a delivery first *claims* ``(bot id, update_id)`` for a lease, the
webhook answers only once the update was handled, and then the claim becomes *done* for a
day. A later delivery of a done update is acknowledged and skipped; one that arrives while
another delivery is being handled is refused for now (Telegram tries again later); and when
the worker holding the claim died, its lease runs out and the next delivery handles the
update. Shared through Redis when ``REDIS_URL`` is set, else remembered in this process
(where a dead process takes its claims with it, so a redelivery is simply handled).
"""

from __future__ import annotations

import enum
import logging
import secrets
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shop.redis_lease import Lease, queue_give_backs, take_lease

log = logging.getLogger(__name__)
KEY_PREFIX = "chatshop"
# Telegram gives up redelivering an update after about a day.
REMEMBER_S = 24 * 60 * 60
IN_PROCESS_LIMIT = 10_000
_DONE = b"done"


class Claim(enum.Enum):
    NEW = "new"  # this delivery handles the update
    IN_HAND = "in hand"  # another delivery is handling it: ask Telegram to deliver it later
    DONE = "done"  # handled before: acknowledge and skip


class UpdateDedupe(Protocol):
    # Whether `finish` and `release` can also give back Redis leases the update held (the
    # chat's lock), in the same round trip as their own command.
    carries_leases: bool

    async def claim(self, bot_id: int, update_id: int) -> Claim:
        """Claim the update for this delivery, or say why not."""

    async def finish(self, bot_id: int, update_id: int, leases: Sequence[Lease] = ()) -> None:
        """The update was handled (or will be, whatever happens): skip later deliveries."""

    async def release(self, bot_id: int, update_id: int, leases: Sequence[Lease] = ()) -> None:
        """The update was not handled after all: the next delivery handles it."""

    async def close(self) -> None:
        """Release connections."""


class InProcessDedupe:
    """The claims of this process and the most recent updates it handled (bounded, oldest
    forgotten first)."""

    carries_leases = False

    def __init__(self, limit: int = IN_PROCESS_LIMIT) -> None:
        self._in_hand: set[tuple[int, int]] = set()
        self._done: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._limit = limit

    async def claim(self, bot_id: int, update_id: int) -> Claim:
        key = (bot_id, update_id)
        if key in self._done:
            return Claim.DONE
        if key in self._in_hand:
            return Claim.IN_HAND
        self._in_hand.add(key)
        return Claim.NEW

    async def finish(self, bot_id: int, update_id: int, leases: Sequence[Lease] = ()) -> None:
        assert not leases, "no Redis here to give leases back to"
        key = (bot_id, update_id)
        self._in_hand.discard(key)
        self._done[key] = None
        if len(self._done) > self._limit:
            self._done.popitem(last=False)

    async def release(self, bot_id: int, update_id: int, leases: Sequence[Lease] = ()) -> None:
        assert not leases, "no Redis here to give leases back to"
        self._in_hand.discard((bot_id, update_id))

    async def close(self) -> None:
        """Nothing to release."""


class RedisDedupe:
    """``<prefix>:tg:<bot id>:<update id>``, shared by every worker: a claim token (for
    `lease_s`) while a worker handles the update, then ``done`` for a day."""

    carries_leases = True

    def __init__(self, redis: Redis, lease_s: float, prefix: str = KEY_PREFIX) -> None:
        self._redis = redis
        self._lease_s = lease_s
        self._prefix = prefix
        self._held: dict[str, str] = {}  # key -> this process's claim token

    @classmethod
    def from_url(cls, url: str, lease_s: float, prefix: str = KEY_PREFIX) -> RedisDedupe:
        """A client of its own, with short timeouts: the webhook answer waits for it."""
        return cls(Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0),
                   lease_s, prefix)

    def _key(self, bot_id: int, update_id: int) -> str:
        return f"{self._prefix}:tg:{bot_id}:{update_id}"

    async def claim(self, bot_id: int, update_id: int) -> Claim:
        """One round trip for a new update, two for a redelivery. When Redis fails, the update
        is handled anyway: a rare duplicate is better than a lost update."""
        key = self._key(bot_id, update_id)
        token = f"hand:{secrets.token_hex(8)}"
        try:
            if await take_lease(self._redis, key, token, self._lease_s):
                self._held[key] = token
                return Claim.NEW
            held = await self._redis.get(key)
            if held is None and await take_lease(self._redis, key, token, self._lease_s):
                self._held[key] = token  # the lease ran out between the two calls
                return Claim.NEW
        except (RedisError, OSError) as error:
            log.warning("update %s of bot %s: duplicate check failed (%s); handling it",
                        update_id, bot_id, type(error).__name__)
            return Claim.NEW
        return Claim.DONE if held == _DONE else Claim.IN_HAND

    async def finish(self, bot_id: int, update_id: int, leases: Sequence[Lease] = ()) -> None:
        key = self._key(bot_id, update_id)
        self._held.pop(key, None)
        try:
            if not leases:
                await self._redis.set(key, _DONE, ex=REMEMBER_S)
                return
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(key, _DONE, ex=REMEMBER_S)
                queue_give_backs(pipe, leases)
                given_back = (await pipe.execute())[1:]
        except (RedisError, OSError) as error:
            log.warning("update %s of bot %s: could not mark it handled (%s); a redelivery "
                        "would be handled again", update_id, bot_id, type(error).__name__)
            _not_given_back(leases, error)
            return
        _check_given_back(leases, given_back)

    async def release(self, bot_id: int, update_id: int, leases: Sequence[Lease] = ()) -> None:
        key = self._key(bot_id, update_id)
        token = self._held.pop(key, None)
        held = [Lease(key, token, f"the claim on update {update_id}")] if token else []
        if not held and not leases:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                queue_give_backs(pipe, [*held, *leases])
                given_back = await pipe.execute()
        except (RedisError, OSError) as error:
            log.warning("update %s of bot %s: could not release its claim (%s); a redelivery "
                        "waits for the lease", update_id, bot_id, type(error).__name__)
            _not_given_back(leases, error)
            return
        _check_given_back(leases, given_back[len(held):])

    async def close(self) -> None:
        """Close the client's connection pool."""
        await self._redis.aclose(close_connection_pool=True)


def _check_given_back(leases: Sequence[Lease], answers: Sequence[Any]) -> None:
    for lease, answer in zip(leases, answers, strict=True):
        if not answer:
            log.warning("%s ran out before its update was done with it; another holder may "
                        "have had it meanwhile", lease.what)


def _not_given_back(leases: Sequence[Lease], error: BaseException) -> None:
    for lease in leases:
        log.warning("could not give back %s (%s); it runs out on its own", lease.what,
                    type(error).__name__)


def make_dedupe(redis_url: str | None, lease_s: float) -> UpdateDedupe:
    """Redis-backed when ``REDIS_URL`` is set (several workers), else in this process."""
    if redis_url:
        return RedisDedupe.from_url(redis_url, lease_s)
    return InProcessDedupe()
