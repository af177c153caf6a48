"""The in-loop SQLite driver (shop.db.sqlite_driver): writers take turns without blocking the
event loop, a lock held by another process is waited for on the loop's clock, and every
way a transaction ends lets the next writer in."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from shop.db.engine import create_engine, read_only, session_factory


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT)")
    try:
        yield engine
    finally:
        await engine.dispose()


async def _ticks_while(work: asyncio.Future[object]) -> int:
    """How many times a 1 ms ticker ran while `work` was pending: the loop was free."""
    ticks = 0
    while not work.done():
        await asyncio.sleep(0.001)
        ticks += 1
    return ticks


async def test_writers_take_turns_in_order_and_the_loop_stays_free(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    order: list[str] = []
    first_in = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with sessions.begin() as session:
            await session.execute(text("INSERT INTO log (who) VALUES ('first')"))
            order.append("first in")
            first_in.set()
            await release_first.wait()

    async def writer(name: str) -> None:
        async with sessions.begin() as session:  # the transaction begins with the INSERT
            await session.execute(text("INSERT INTO log (who) VALUES (:n)"), {"n": name})
            order.append(f"{name} in")

    holder = asyncio.create_task(first())
    await asyncio.wait_for(first_in.wait(), 5)
    waiting = [asyncio.create_task(writer(name)) for name in ("second", "third")]
    both = asyncio.gather(*waiting)
    # While the first holds the lock the others wait, and the loop keeps running.
    ticks = asyncio.create_task(_ticks_while(both))
    await asyncio.sleep(0.05)
    assert order == ["first in"]
    release_first.set()
    await asyncio.wait_for(both, 5)
    await holder
    assert await ticks > 5
    assert order == ["first in", "second in", "third in"]
    async with read_only(sessions) as session:
        rows = (await session.execute(text("SELECT who FROM log ORDER BY id"))).scalars().all()
    assert rows == ["first", "second", "third"]


async def test_a_failed_transaction_lets_the_next_writer_in(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    with pytest.raises(OperationalError):
        async with sessions.begin() as session:
            await session.execute(text("INSERT INTO nowhere VALUES (1)"))
    with pytest.raises(RuntimeError):
        async with sessions.begin() as session:
            await session.execute(text("INSERT INTO log (who) VALUES ('rolled back')"))
            raise RuntimeError("handler failed")
    # A session closed without commit or rollback (the pool resets its connection).
    session = sessions()
    await session.execute(text("INSERT INTO log (who) VALUES ('abandoned')"))
    await session.close()
    async with sessions.begin() as session:
        await asyncio.wait_for(
            session.execute(text("INSERT INTO log (who) VALUES ('next')")), 5)
    async with read_only(sessions) as session:
        rows = (await session.execute(text("SELECT who FROM log"))).scalars().all()
    assert rows == ["next"]


def _hold_lock_in_another_connection(path: Path, held: threading.Event,
                                     release: threading.Event) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO log (who) VALUES ('other process')")
        held.set()
        release.wait(10)
        other.execute("COMMIT")
    finally:
        other.close()


async def test_a_lock_held_elsewhere_is_waited_for_on_the_loop(engine: AsyncEngine,
                                                               tmp_path: Path) -> None:
    held, release = threading.Event(), threading.Event()
    other = threading.Thread(target=_hold_lock_in_another_connection,
                             args=(tmp_path / "driver.db", held, release))
    other.start()
    try:
        assert await asyncio.to_thread(held.wait, 5)
        sessions = session_factory(engine)

        async def write() -> None:
            async with sessions.begin() as session:
                await session.execute(text("INSERT INTO log (who) VALUES ('us')"))

        ours = asyncio.ensure_future(write())
        ticks = asyncio.create_task(_ticks_while(ours))
        await asyncio.sleep(0.05)
        assert not ours.done()
        release.set()
        await asyncio.wait_for(ours, 5)
        assert await ticks > 5
    finally:
        release.set()
        await asyncio.to_thread(other.join, 10)
    async with read_only(session_factory(engine)) as session:
        rows = (await session.execute(text("SELECT who FROM log ORDER BY id"))).scalars().all()
    assert rows == ["other process", "us"]


async def test_waiting_longer_than_the_timeout_fails_as_locked(tmp_path: Path) -> None:
    from shop.db import sqlite_driver

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'short.db'}")
    module = engine.dialect.loaded_dbapi
    assert isinstance(module, sqlite_driver.InLoopSQLite)
    module.timeout = 0.2
    held, release = threading.Event(), threading.Event()
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT)")
        sessions = session_factory(engine)
        # Another process's lock: retried until the deadline, then "database is locked".
        other = threading.Thread(target=_hold_lock_in_another_connection,
                                 args=(tmp_path / "short.db", held, release))
        other.start()
        assert await asyncio.to_thread(held.wait, 5)
        with pytest.raises(OperationalError, match="locked"):
            async with sessions.begin() as session:
                await session.execute(text("INSERT INTO log (who) VALUES ('late')"))
        release.set()
        await asyncio.to_thread(other.join, 10)
        # This process's own writer holding on: the same answer, not a hang.
        async with sessions.begin() as holder:
            await holder.execute(text("INSERT INTO log (who) VALUES ('holder')"))
            with pytest.raises(OperationalError, match="locked"):
                async with sessions.begin() as session:
                    await session.execute(text("INSERT INTO log (who) VALUES ('late')"))
    finally:
        release.set()
        await engine.dispose()
