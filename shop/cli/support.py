"""What every CLI command shares: settings from the context, async running, clear errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import click
from sqlalchemy.exc import DBAPIError

from shop.bootstrap import Shop, open_shop
from shop.errors import ChatshopError
from shop.settings import Settings

T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; expected failures become one clear line and exit status 1."""
    try:
        return asyncio.run(coro)
    except ChatshopError as error:
        raise click.ClickException(error.message) from None
    except (DBAPIError, OSError) as error:
        detail = str(getattr(error, "orig", None) or error).strip().splitlines()
        raise click.ClickException(
            f"database unavailable: {detail[0] if detail else type(error).__name__}"
        ) from None


def settings_from(ctx: click.Context) -> Settings:
    settings = ctx.find_root().obj
    assert isinstance(settings, Settings)
    return settings


async def with_shop(
    settings: Settings, action: Callable[[Shop], Awaitable[T]], *, load_index: bool = False
) -> T:
    """Open the shop (migrating to head), run `action`, always close."""
    shop = await open_shop(settings, load_index=load_index)
    try:
        return await action(shop)
    finally:
        await shop.close()
