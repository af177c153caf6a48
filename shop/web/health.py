"""The health check's probes: the database answers a query, Redis (when configured) answers
PING, each within a short timeout. Failures are described without URLs or credentials."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from shop.redaction import describe_error

PROBE_TIMEOUT_S = 2.0
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Health:
    """Each part's state: ``ok``, ``off`` (not configured) or ``failed: <reason>``."""

    database: str
    redis: str

    @property
    def ok(self) -> bool:
        return not any(part.startswith("failed") for part in (self.database, self.redis))

    def as_json(self) -> dict[str, object]:
        return {"ok": self.ok, "database": self.database, "redis": self.redis}


def failure(error: BaseException) -> str:
    """``failed: <error>`` with secrets and whole URLs masked."""
    return "failed: " + _URL.sub("[url]", describe_error(error))


async def database_state(engine: AsyncEngine) -> str:
    """``ok`` when the database answers ``SELECT 1`` within PROBE_TIMEOUT_S."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        return failure(error)
    return "ok"


async def redis_state(url: str | None) -> str:
    """``off`` without a URL, else ``ok`` when a fresh connection answers PING in time."""
    if url is None:
        return "off"
    client = Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT_S,
                            socket_timeout=PROBE_TIMEOUT_S, retry=Retry(NoBackoff(), 0))
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            await client.ping()
    except (RedisError, OSError, TimeoutError) as error:
        return failure(error)
    finally:
        await client.aclose()
    return "ok"


async def check(engine: AsyncEngine, redis_url: str | None) -> Health:
    """Probe the database and Redis side by side."""
    database, redis = await asyncio.gather(database_state(engine), redis_state(redis_url))
    return Health(database, redis)
