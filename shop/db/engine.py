"""Async engines for SQLite (WAL, foreign keys on) and PostgreSQL, same code above them."""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from shop.db.sqlite_driver import BUSY_MS, InLoopSQLite


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Writers wait their turn in `InLoopConnection.begin_immediate`; other statements
    # wait this long for another process's checkpoint.
    cursor.execute(f"PRAGMA busy_timeout={BUSY_MS}")
    cursor.close()


# Execution option of the connections of `read_only` sessions.
READ_ONLY = "chatshop_read_only"


def _sqlite_begin(conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two writers never both
    # read and then deadlock upgrading; pysqlite's own BEGIN handling is off.
    # A read-only session's plain (deferred) BEGIN takes no lock: in WAL mode it reads
    # a consistent snapshot while a writer writes, instead of queueing behind every
    # other transaction of every worker for the write lock.
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:  # see InLoopConnection.begin_immediate
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create an async engine with the pragmas and transaction mode Chatshop relies on."""
    if is_sqlite(url):
        engine = create_async_engine(
            url, module=InLoopSQLite(timeout=30), connect_args={"isolation_level": None},
            **kwargs
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _reader_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")  # a reader never writes, whatever a caller does
    cursor.execute(f"PRAGMA busy_timeout={BUSY_MS}")
    cursor.close()


def _deferred_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")  # a WAL snapshot: waits for no writer


def create_long_read_engine(engine: AsyncEngine) -> AsyncEngine | None:
    """An engine for long reads (reports) that must not hold the event loop, or None when
    `engine` can serve them itself.

    Chatshop's SQLite driver runs each statement in the loop's thread (see
    `shop.db.sqlite_driver`), so a report counting a month of funnel steps (300,000 rows:
    about 0.4 s) would stop every customer's answer meanwhile. This engine's connections
    are aiosqlite's, each on a thread of its own; sqlite3 lets go of the GIL while a
    statement runs, so the loop goes on. Read-only (``query_only``). None for PostgreSQL
    (asyncpg never holds the loop) and for an in-memory database (not shareable)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or (
            url.query.get("mode") == "memory"):
        return None
    # No pool: a report is rare, and a pooled aiosqlite connection's thread would outlive
    # an engine nobody disposed.
    reader = create_async_engine(url, connect_args={"isolation_level": None},
                                 poolclass=NullPool)
    event.listen(reader.sync_engine, "connect", _reader_pragmas)
    event.listen(reader.sync_engine, "begin", _deferred_begin)
    return reader


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


_READERS: WeakKeyDictionary[async_sessionmaker[AsyncSession], async_sessionmaker[AsyncSession]]
_READERS = WeakKeyDictionary()


def read_only(sessions: async_sessionmaker[AsyncSession]) -> AsyncSession:
    """A session of `sessions` for reading only, used as `async with read_only(s) as session`.

    On SQLite its transaction starts with a deferred BEGIN, which waits for no writer
    (see `_sqlite_begin`). Never write in it: it is not committed, and on SQLite a write
    there would not be serialized with the other writers. Elsewhere it is an ordinary
    session."""
    readers = _READERS.get(sessions)
    if readers is None:
        engine = sessions.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            return sessions()
        readers = async_sessionmaker(engine.execution_options(**{READ_ONLY: True}),
                                     **{k: v for k, v in sessions.kw.items() if k != "bind"})
        _READERS[sessions] = readers
    return readers()
