"""What the shop needs from an event relay, whichever way the events travel.

:class:`shop.events.relay.Relay` delivers from the database alone;
:class:`shop.events.stream_relay.StreamRelay` goes through Redis Streams when ``REDIS_URL``
is set. Bots subscribe, wake and run through this interface only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Protocol

from shop.events.delivery import Handler


class EventRelay(Protocol):
    def subscribe(
        self,
        consumer: str,
        handler: Handler,
        topics: Iterable[str] | None = None,
        *,
        start_from_latest: bool = False,
    ) -> None:
        """Deliver events of ``topics`` (all when None) to ``handler`` under ``consumer``."""
        ...

    def wake(self) -> None:
        """Ask a running :meth:`run` for a pass now; call after committing new events."""
        ...

    async def run_once(self) -> int:
        """One delivery pass for every consumer; return the handler successes."""
        ...

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set."""
        ...

    async def pending(self, consumer: str | None = None) -> int:
        """Events not yet handled, for one consumer or all, counted from the database."""
        ...

    async def close(self) -> None:
        """Release connections; call after :meth:`run` returned."""
        ...
