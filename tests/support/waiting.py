"""Waiting on a condition with a deadline, never on a bare sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(condition: Callable[[], Awaitable[bool]], *, within: float = 10.0,
                     every: float = 0.01) -> None:
    """Return as soon as `condition()` is true; TimeoutError after `within` seconds."""
    async with asyncio.timeout(within):
        while not await condition():  # noqa: ASYNC110 - the condition lives in another system
            await asyncio.sleep(every)
