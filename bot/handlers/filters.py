"""Magic filters (``F.text``, ``F.chat.type == …``) checked in the event loop.

aiogram calls a bare magic filter like any plain (not async) callable: through
``asyncio.to_thread``, a hop to a worker thread and back for every filter an update is
checked against, several per message. ``Magic(F…)`` is the same check as an async filter,
so it runs inline.
"""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from magic_filter import MagicFilter


class Magic(Filter):
    def __init__(self, magic: MagicFilter) -> None:
        self.magic = magic

    async def __call__(self, event: Any) -> Any:
        return self.magic.resolve(event)

    def __str__(self) -> str:
        return f"Magic({self.magic!r})"
