"""Test fixtures: every test gets its own fresh, migrated database on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shop.db.engine import create_engine, session_factory
from shop.db.migrate import upgrade
from tests.support.postgres import PostgresServer, PostgresUnavailable
from tests.support.redis import RedisServer, RedisUnavailable

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TEMPLATE_DB = "chatshop_template"
_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | None]:
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true: {error}")
        print(f"\n*** PostgreSQL tests will be SKIPPED: {error} ***")
        yield None
        return
    try:
        asyncio.run(_make_pg_template(server))
        yield server
    finally:
        server.stop()


async def _make_pg_template(server: PostgresServer) -> None:
    await server.admin(f"CREATE DATABASE {TEMPLATE_DB}")
    engine = create_engine(server.url(TEMPLATE_DB))
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"

    async def make() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await upgrade(engine)
        finally:
            # Closing the last connection checkpoints the WAL into the file we copy.
            await engine.dispose()

    asyncio.run(make())
    return path


@dataclass
class Database:
    """A fresh, migrated database for one test."""

    backend: str
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
                 ) -> Iterator[str]:
    """The URL of a fresh, migrated database; synchronous so servers start outside the loop."""
    if request.param == "sqlite":
        path = tmp_path / "shop.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    server: PostgresServer | None = request.getfixturevalue("postgres_server")
    if server is None:
        pytest.skip("PostgreSQL server unavailable (see the session's first lines)")
    name = f"t_{os.getpid()}_{next(_counter)}"
    asyncio.run(server.admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}"))
    yield server.url(name)
    # Hundreds of 8 MB copies would otherwise pile up until the session ends.
    asyncio.run(server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    engine = create_engine(database_url)
    try:
        yield Database(backend, database_url, engine, session_factory(engine))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer | None]:
    """A throwaway redis-server for the session (None, and tests skip, when there is none)."""
    try:
        server = RedisServer.start()
    except RedisUnavailable as error:
        if IN_CI:
            pytest.fail(f"redis-server is required under CI=true: {error}")
        print(f"\n*** Redis tests will be SKIPPED: {error} ***")
        yield None
        return
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer | None) -> str:
    """The URL of an empty Redis database; synchronous so the server starts outside the loop."""
    if redis_server is None:
        pytest.skip("redis-server unavailable (see the session's first lines)")
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.restart()  # an earlier test's restart() failed or the server died
    url = redis_server.url()
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url
