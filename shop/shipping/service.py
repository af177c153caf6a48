"""Shipping use cases for callers outside the core's own transactions (the flows)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.money import Money
from shop.shipping.rates import shipping_quotes
from shop.shipping.types import ShippingQuote


class ShippingService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def quotes(self, *, country: str | None, weight_grams: int, goods_total: Money
                     ) -> list[ShippingQuote]:
        """The methods that can take this parcel to the country, with their prices;
        `country` None: the methods that need no address (pickup)."""
        async with self._sessions() as session:
            return await shipping_quotes(session, country=country, weight_grams=weight_grams,
                                         goods_total=goods_total)
