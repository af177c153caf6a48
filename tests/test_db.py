from __future__ import annotations

from sqlalchemy import text

from shop.db.migrate import current_revision, head_revision
from tests.conftest import Database


async def test_migrated_to_head(database: Database) -> None:
    assert await current_revision(database.engine) == head_revision()


async def test_sqlite_pragmas_or_postgres(database: Database) -> None:
    async with database.engine.connect() as conn:
        if database.backend == "sqlite":
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        else:
            version = (await conn.execute(text("SHOW server_version_num"))).scalar()
            assert int(str(version)) >= 150000


async def test_migrations_match_the_models(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from shop.db.models import metadata

    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(context, metadata))

    async with database.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_read_only_sessions_read_while_a_writer_holds_the_lock(database: Database) -> None:
    import asyncio

    from shop.customers.models import Customer
    from shop.db.engine import read_only

    async with database.sessions.begin() as writer:  # BEGIN IMMEDIATE on SQLite
        writer.add(Customer(channel="telegram", external_id="1", name="A", language="en"))
        await writer.flush()

        async def read() -> int:
            async with read_only(database.sessions) as session:
                return len((await session.execute(text("SELECT id FROM customers"))).all())

        # An ordinary session would wait (busy_timeout) for the writer to finish.
        assert await asyncio.wait_for(read(), 5) == 0  # the snapshot before the commit
    async with read_only(database.sessions) as session:
        assert len((await session.execute(text("SELECT id FROM customers"))).all()) == 1
