"""Order look-ups that are not one order: what is due, what is waiting for staff."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shop.orders.models import Order
from shop.orders.states import OrderStatus


async def find_due_for_expiry(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    """Ids of unpaid orders whose reservation ended, oldest first."""
    return list((await session.execute(
        select(Order.id).where(Order.status == OrderStatus.AWAITING_PAYMENT,
                               Order.expires_at <= now)
        .order_by(Order.expires_at).limit(limit))).scalars())
