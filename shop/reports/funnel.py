"""Recording the funnel steps the orders table cannot tell: a customer searched, a customer
put something in the cart. Checkouts (orders created) and payments (orders paid) are read
from the orders themselves by the report, never recorded twice."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.db.base import utcnow
from shop.reports.models import FunnelEvent

log = logging.getLogger(__name__)


class FunnelStep(StrEnum):
    SEARCH = "search"
    CART = "cart"


# A Core statement built once: a step is recorded on every search and cart change, and the
# ORM's unit of work cost several times as much CPU for one plain row.
_INSERT_STEP = insert(cast(Table, FunnelEvent.__table__))


async def record_step(session: AsyncSession, step: FunnelStep, customer_id: int | None,
                      at: datetime) -> None:
    """Add one funnel step inside the caller's transaction (the cart's add, for one)."""
    await session.execute(_INSERT_STEP, {"kind": str(step), "customer_id": customer_id,
                                         "at": at})


class FunnelRecorder:
    """Steps recorded in their own small transaction, for callers that have none."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._clock = clock

    async def searched(self, customer_id: int) -> bool:
        """Record that the customer ran a search. Best effort: False (and a warning in the
        log) when the database is momentarily unavailable, so the search still answers;
        any other error is a bug and propagates."""
        return await self._record(FunnelStep.SEARCH, customer_id)

    async def added_to_cart(self, customer_id: int) -> bool:
        """Record a cart step outside a cart change (`CartService.add` records its own)."""
        return await self._record(FunnelStep.CART, customer_id)

    async def _record(self, step: FunnelStep, customer_id: int) -> bool:
        try:
            async with self._sessions.begin() as session:
                await record_step(session, step, customer_id, self._clock())
        # A locked or unreachable database, or an exhausted pool: losing one funnel
        # step beats failing the customer's request. Nothing broader is caught.
        except (OperationalError, PoolTimeout):
            log.warning("could not record the %s funnel step of customer %s", step,
                        customer_id, exc_info=True)
            return False
        return True
