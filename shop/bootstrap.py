"""Wiring in one place: settings → engine → services. Bots and the CLI start here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shop.catalog.service import CatalogService
from shop.db.engine import create_engine, session_factory
from shop.db.migrate import upgrade
from shop.settings import Settings


@dataclass
class Shop:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    catalog: CatalogService

    async def close(self) -> None:
        await self.engine.dispose()


async def open_shop(settings: Settings, *, migrate: bool = True, load_index: bool = True
                    ) -> Shop:
    """Connect, migrate to head when asked, and build the search index."""
    engine = create_engine(settings.database_url)
    try:
        if migrate:
            await upgrade(engine)
        sessions = session_factory(engine)
        catalog = CatalogService(sessions)
        if load_index:
            await catalog.load_index()
    except BaseException:
        await engine.dispose()
        raise
    return Shop(settings, engine, sessions, catalog)
