"""SQLite for SQLAlchemy's asyncio engine, run in the event loop's own thread.

aiosqlite runs every call (cursor, execute, fetch, close: four per statement) in a thread of
its own and hands the result back through the loop, so each statement pays several thread
hops and waits for the GIL while the loop runs Python. A statement on a local SQLite file
in WAL mode takes microseconds, so this driver runs it at once, in the loop's thread, with
the standard library's ``sqlite3``; SQLAlchemy's aiosqlite dialect is kept, only the DBAPI
module under it is this one (``create_async_engine(..., module=InLoopSQLite())``).

What a thread used to hide must not block the loop instead:

* **Writers queue on an asyncio lock.** A write transaction (``BEGIN IMMEDIATE``, see
  ``shop.db.engine``) first takes the engine's writer lock, held until commit, rollback or
  close, so this process's writers wait their turn in order, without blocking the loop or
  SQLite's busy handler's naps. Waiting more than ``timeout`` seconds fails as SQLite's
  "database is locked" did.
* **Other processes** (a second worker, ``chatshop catalog import``) still hold SQLite's
  own lock at times: ``BEGIN IMMEDIATE`` is tried without SQLite's busy wait and retried
  on the loop's clock until ``timeout``. Other statements keep a short busy wait
  (``BUSY_MS``), which WAL readers meet only during a checkpoint's or recovery's moment.

The price: a slow statement holds the loop while it runs, as any CPU work in the loop does.
So the staff's reports, which scan weeks of rows, read through another engine whose
connections run on threads (``shop.db.engine.create_long_read_engine``). PostgreSQL
(asyncpg) is unaffected.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.engine import AdaptedConnection
from sqlalchemy.util.concurrency import await_only

# Busy wait of an ordinary statement, in ms: only other processes' checkpoints meet it.
BUSY_MS = 200
_RETRY_FIRST_S = 0.002
_RETRY_MAX_S = 0.05


class _Ready:
    """An awaitable that is already done: ``await`` returns at once, without the loop."""

    def __await__(self) -> Any:
        return iter(())


_READY = _Ready()


def _yield_to_driver() -> None:
    # SQLAlchemy's AsyncConnection.execute insists that a statement awaited something
    # (it checks that the DBAPI is really async); hand it a done awaitable, a greenlet
    # round trip of a few microseconds.
    await_only(_READY)


class InLoopCursor:
    """The DBAPI cursor SQLAlchemy's aiosqlite dialect expects, executing synchronously."""

    __slots__ = ("_conn", "_rows", "arraysize", "description", "lastrowid", "rowcount")
    server_side = False

    def __init__(self, conn: InLoopConnection) -> None:
        self._conn = conn
        self.arraysize = 1
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.description: Any = None
        self._rows: deque[Any] = deque()

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: str, parameters: Sequence[Any] | None = None) -> None:
        _yield_to_driver()
        if operation == "BEGIN IMMEDIATE":
            self._conn.begin_immediate()
            self.description = None
            return
        cursor = self._conn.raw.cursor()
        try:
            if parameters is None:
                cursor.execute(operation)
            else:
                cursor.execute(operation, parameters)
            self.description = cursor.description
            if cursor.description:
                self.lastrowid = self.rowcount = -1
                self._rows = deque(cursor.fetchall())
            else:
                self.lastrowid = cursor.lastrowid
                self.rowcount = cursor.rowcount
        finally:
            cursor.close()

    def executemany(self, operation: str, seq_of_parameters: Sequence[Any]) -> None:
        _yield_to_driver()
        cursor = self._conn.raw.cursor()
        try:
            cursor.executemany(operation, seq_of_parameters)
            self.description = None
            self.lastrowid = cursor.lastrowid
            self.rowcount = cursor.rowcount
        finally:
            cursor.close()

    def setinputsizes(self, *inputsizes: Any) -> None:
        pass

    def __iter__(self) -> Any:
        while self._rows:
            yield self._rows.popleft()

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows


class InLoopConnection(AdaptedConnection):
    """One ``sqlite3`` connection; knows whether it holds its engine's writer lock."""

    __slots__ = ("_lock", "dbapi")

    def __init__(self, dbapi: InLoopSQLite, raw: sqlite3.Connection) -> None:
        self.dbapi = dbapi
        self._connection = raw  # type: ignore[assignment]
        self._lock: asyncio.Lock | None = None  # the writer lock, while this one holds it

    @property
    def raw(self) -> sqlite3.Connection:
        connection: sqlite3.Connection = self._connection  # type: ignore[assignment]
        return connection

    @property
    def isolation_level(self) -> str | None:
        return self.raw.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self.raw.isolation_level = value  # type: ignore[assignment]

    def create_function(self, *args: Any, **kw: Any) -> None:
        self.raw.create_function(*args, **kw)

    def cursor(self, server_side: bool = False) -> InLoopCursor:
        return InLoopCursor(self)

    def execute(self, *args: Any, **kw: Any) -> Any:
        return self.raw.execute(*args, **kw)

    def begin_immediate(self) -> None:
        """Start a write transaction: this process's writers in turn, then SQLite's lock."""
        lock = self.dbapi.writer_lock()
        deadline = time.monotonic() + self.dbapi.timeout
        if not lock.locked():
            await_only(lock.acquire())
        else:
            try:
                await_only(asyncio.wait_for(lock.acquire(), self.dbapi.timeout))
            except TimeoutError:
                raise sqlite3.OperationalError("database is locked") from None
        self._lock = lock
        try:
            self._begin_against_other_processes(deadline)
        except BaseException:
            self._release()
            raise

    def _begin_against_other_processes(self, deadline: float) -> None:
        raw = self.raw
        pause = _RETRY_FIRST_S
        raw.execute("PRAGMA busy_timeout=0")
        try:
            while True:
                try:
                    raw.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as error:
                    if "locked" not in str(error) or time.monotonic() + pause > deadline:
                        raise
                await_only(asyncio.sleep(pause))
                pause = min(pause * 2, _RETRY_MAX_S)
        finally:
            raw.execute(f"PRAGMA busy_timeout={BUSY_MS}")

    def _release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None and lock.locked():
            # A closed loop (a connection collected late) has nobody left waiting.
            with contextlib.suppress(RuntimeError):
                lock.release()

    def _end(self, ending: Callable[[], None]) -> None:
        """Commit, roll back or close; the writer lock is let go whatever happens."""
        try:
            ending()
        finally:
            self._release()

    def commit(self) -> None:
        self._end(self.raw.commit)

    def rollback(self) -> None:
        self._end(self.raw.rollback)

    def close(self) -> None:
        self._end(self.raw.close)

    def terminate(self) -> None:
        self.close()


class InLoopSQLite:
    """The DBAPI module handed to SQLAlchemy: ``sqlite3``'s names, this module's connections.

    One per engine: its writer lock serializes that engine's write transactions (one lock
    per event loop, since tests run several loops in one process)."""

    paramstyle = "qmark"
    has_stop = True
    sqlite_version = sqlite3.sqlite_version
    sqlite_version_info = sqlite3.sqlite_version_info
    Binary = sqlite3.Binary
    PARSE_COLNAMES = sqlite3.PARSE_COLNAMES
    PARSE_DECLTYPES = sqlite3.PARSE_DECLTYPES
    DatabaseError = sqlite3.DatabaseError
    Error = sqlite3.Error
    IntegrityError = sqlite3.IntegrityError
    NotSupportedError = sqlite3.NotSupportedError
    OperationalError = sqlite3.OperationalError
    ProgrammingError = sqlite3.ProgrammingError

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._locks: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
        self._locks = WeakKeyDictionary()

    def writer_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    def connect(self, *args: Any, **kw: Any) -> InLoopConnection:
        kw.pop("async_fallback", None)
        kw.update(timeout=BUSY_MS / 1000, check_same_thread=False)
        raw: sqlite3.Connection = sqlite3.connect(*args, **kw)
        return InLoopConnection(self, raw)
