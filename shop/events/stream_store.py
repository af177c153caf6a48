"""The Redis side of the stream relay: key names, entries, and two Lua scripts.

Keys, all under one prefix (``chatshop`` unless configured; tests use one each):

* ``<prefix>:events`` is the stream. An entry holds ``id`` (the outbox event id), ``topic``,
  ``payload`` (JSON) and ``created_at`` (ISO 8601). Entries re-published for a single consumer
  after Redis lost its data also carry ``for`` (that consumer); the others ack them unread.
* ``<prefix>:published:<event id>[:<consumer>]`` records that an event was added, for a few
  days, so a worker racing another, or retrying after a crash between XADD and marking the
  publication done, does not add it twice. The script sets it and adds the entry atomically.
* ``<prefix>:ready:<consumer>`` says the consumer's group exists and already holds all the
  consumer still has to handle. It vanishes with everything else when Redis restarts empty,
  which is how a worker notices the loss (besides NOGROUP errors) and backfills.
* ``<prefix>:backfill:<consumer>`` is a short lock: one worker backfills a group at a time.
* ``<prefix>:handling:<consumer>:<event id>`` is held (for at most the lease) by the worker
  handling that event for that consumer. A backfill may put a second entry of an event in
  the stream while the first is still there; two members of a group can then read one copy
  each, and this claim keeps them from both handling it.

Under Redis Cluster give a braced prefix (``{chatshop}``) so a script's keys share a slot.
Redis must not evict keys (``maxmemory-policy noeviction``): an evicted marker or stream is a
loss the relay can only partly detect.

Trimming. ``MAXLEN ~ n`` is simpler but silently drops entries a slow or stopped consumer
has not read yet. :data:`_TRIM` instead computes, atomically, the oldest entry some group
still needs (its oldest pending entry, else its last-delivered id) and trims with
``MINID ~`` below it; ``~`` lets Redis drop whole nodes only, which is cheap and never
removes an entry at or above the given id. A stream without groups is left alone.

A consumer removed from the code (or no longer configured anywhere) would leave its group
behind, pinning the stream for ever. :func:`retire_idle_groups` destroys the groups that the
calling worker does not run and that no member has read from for a long time (a day by
default). That loses nothing: the database is the truth, and a consumer that comes back
finds its group missing and backfills it from the outbox, as after a Redis restart.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shop.events.delivery import DeliveredEvent
from shop.redis_lease import give_back, take_lease

log = logging.getLogger(__name__)

# Errors meaning "Redis is not there right now", as opposed to a wrong command.
OUTAGE_ERRORS: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)
PUBLISHED_TTL_S = 7 * 24 * 3600

_PUBLISH_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
end
return false
"""

_TRIM = """
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if not ok or #groups == 0 then return 0 end
local function older(a, b)
  local ams, aseq = string.match(a, '(%d+)-(%d+)')
  local bms, bseq = string.match(b, '(%d+)-(%d+)')
  if tonumber(ams) ~= tonumber(bms) then return tonumber(ams) < tonumber(bms) end
  return tonumber(aseq) < tonumber(bseq)
end
local floor = nil
for _, group in ipairs(groups) do
  local info = {}
  for i = 1, #group, 2 do info[group[i]] = group[i + 1] end
  local needed = info['last-delivered-id']
  if tonumber(info['pending']) > 0 then
    needed = redis.call('XPENDING', KEYS[1], info['name'])[2]
  end
  if floor == nil or older(needed, floor) then floor = needed end
end
if floor == '0-0' then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', '~', floor)
"""


async def claim_handling(client: aioredis.Redis, keys: StreamKeys, consumer: str,
                         event_id: int, member: str, lease_s: float) -> bool:
    """Take the right to handle this event for this consumer; False while another member
    holds it."""
    return await take_lease(client, keys.handling(consumer, event_id), member, lease_s)


async def release_handling(client: aioredis.Redis, keys: StreamKeys, consumer: str,
                           event_id: int, member: str) -> None:
    """Give the claim back, if it is still this member's."""
    await give_back(client, keys.handling(consumer, event_id), member)


async def retire_idle_groups(client: aioredis.Redis, keys: StreamKeys, *, keep: Collection[str],
                             idle_s: float) -> list[str]:
    """Destroy the groups not named in ``keep`` that no member has read from for ``idle_s``
    (a group without members: whose last delivery is that old; one that never delivered is
    left alone); return their names. Each group's ready marker goes with it."""
    try:
        groups = await client.xinfo_groups(keys.stream)
    except ResponseError:  # no stream yet
        return []
    now_ms = _ms(await client.time())
    retired = []
    for group in groups:
        name = str(group["name"])
        if name in keep:
            continue
        members = await client.xinfo_consumers(keys.stream, name)
        if members:  # a member that crashed stays, idle
            idle_ms = min(int(member["idle"]) for member in members)
        else:  # the last member said goodbye: as old as the last entry delivered to it
            last_ms = int(str(group["last-delivered-id"]).split("-")[0])
            if not last_ms:
                continue  # made and never read: maybe a worker filling it right now
            idle_ms = now_ms - last_ms
        if idle_ms < idle_s * 1000:
            continue
        await client.xgroup_destroy(keys.stream, name)
        await client.delete(keys.ready(name))
        retired.append(name)
    return retired


def _ms(server_time: tuple[int, int]) -> int:
    seconds, microseconds = server_time
    return int(seconds) * 1000 + int(microseconds) // 1000


@dataclass(frozen=True)
class StreamKeys:
    """Key names under one prefix."""

    prefix: str = "chatshop"

    @property
    def stream(self) -> str:
        return f"{self.prefix}:events"

    def published(self, event_id: int, only_for: str | None = None) -> str:
        suffix = f":{only_for}" if only_for else ""
        return f"{self.prefix}:published:{event_id}{suffix}"

    def ready(self, consumer: str) -> str:
        return f"{self.prefix}:ready:{consumer}"

    def backfill_lock(self, consumer: str) -> str:
        return f"{self.prefix}:backfill:{consumer}"

    def handling(self, consumer: str, event_id: int) -> str:
        return f"{self.prefix}:handling:{consumer}:{event_id}"


@dataclass(frozen=True)
class StreamEntry:
    """One stream entry; ``event`` is None when the entry is malformed."""

    entry_id: str
    event: DeliveredEvent | None
    only_for: str | None


def open_redis(url: str, *, block_s: float) -> aioredis.Redis:
    """A client for ``url`` that fails fast when Redis is down: the relay backs off itself.

    One immediate retry replaces a pooled connection that died with a restarted server.
    """
    return aioredis.Redis.from_url(
        url, decode_responses=True, socket_connect_timeout=5.0,
        socket_timeout=block_s + 10.0, retry=Retry(NoBackoff(), 1),
    )


def is_nogroup(error: ResponseError) -> bool:
    """True for the error Redis answers when the stream or the group is missing."""
    return str(error).startswith("NOGROUP")


def encode(event: DeliveredEvent) -> dict[str, str]:
    return {
        "id": str(event.id),
        "topic": event.topic,
        "payload": json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False),
        "created_at": event.created_at.isoformat(),
    }


def decode(entry_id: str, fields: dict[str, str]) -> StreamEntry:
    try:
        event = DeliveredEvent(
            int(fields["id"]), fields["topic"], json.loads(fields["payload"]),
            datetime.fromisoformat(fields["created_at"]),
        )
    except (KeyError, ValueError) as error:
        log.error("malformed stream entry %s skipped: %s", entry_id, type(error).__name__)
        return StreamEntry(entry_id, None, None)
    return StreamEntry(entry_id, event, fields.get("for") or None)


def entries(raw: Any) -> list[StreamEntry]:
    """Decode a list of ``(id, fields)`` pairs (XRANGE, XAUTOCLAIM), skipping deleted ones."""
    return [decode(entry_id, fields) for entry_id, fields in raw or [] if fields is not None]


class StreamPublisher:
    """Adds outbox events to the stream, each at most once while its marker lives."""

    def __init__(self, client: aioredis.Redis, keys: StreamKeys, *,
                 ttl_s: int = PUBLISHED_TTL_S) -> None:
        """Publish through ``client`` under ``keys``; markers expire after ``ttl_s``."""
        self._client = client
        self._keys = keys
        self._ttl_s = ttl_s
        self._script = client.register_script(_PUBLISH_ONCE)

    async def publish(self, event: DeliveredEvent, *, only_for: str | None = None) -> bool:
        """Add ``event`` (for one consumer only, with ``only_for``); False if already added."""
        fields = encode(event)
        if only_for:
            fields["for"] = only_for
        args: list[str | int] = [self._ttl_s]
        for name, value in fields.items():
            args += [name, value]
        added = await self._script(
            keys=[self._keys.published(event.id, only_for), self._keys.stream], args=args)
        return added is not None


async def trim(client: aioredis.Redis, keys: StreamKeys) -> int:
    """Drop entries every group has acknowledged (see the module notes); return how many."""
    removed = await client.eval(_TRIM, 1, keys.stream)
    return int(removed)
