"""Keys the shop makes for itself on first use and keeps in the database."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.payments.models import AppSecret


async def shop_secret(sessions: async_sessionmaker[AsyncSession], name: str) -> bytes:
    """The named secret, created once (race-safe) as 32 random bytes."""
    async with sessions() as session:
        value = (await session.execute(select(AppSecret.value).where(AppSecret.name == name))
                 ).scalar_one_or_none()
    if value is None:
        try:
            async with sessions.begin() as session:
                value = secrets.token_hex(32)
                session.add(AppSecret(name=name, value=value))
        except IntegrityError:  # another worker made it first: use theirs
            async with sessions() as session:
                value = (await session.execute(
                    select(AppSecret.value).where(AppSecret.name == name))).scalar_one()
    return bytes.fromhex(value)
