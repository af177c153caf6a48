"""Wiring in one place: settings → engine → services. Bots and the CLI start here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shop.cart.service import CartService
from shop.catalog.index_sync import IndexSync
from shop.catalog.service import CatalogService
from shop.customers.service import CustomerService
from shop.db.base import utcnow
from shop.db.engine import create_engine, create_long_read_engine, session_factory
from shop.db.migrate import upgrade
from shop.events.relay import Relay
from shop.events.relay_port import EventRelay
from shop.events.stream_relay import StreamRelay
from shop.orders.returns import ReturnService
from shop.orders.service import OrderService
from shop.payments.refund_port import ProviderRefunds
from shop.payments.service import PaymentConfig, PaymentService
from shop.payments.stripe_checkout import CANCEL_PATH, SUCCESS_PATH, StripeCheckout
from shop.reports.service import ReportService
from shop.settings import Settings
from shop.shipping.service import ShippingService
from shop.staff.service import StaffService
from shop.support.service import SupportService

log = logging.getLogger(__name__)
SWEEP_INTERVAL_S = 30.0


@dataclass
class Shop:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    catalog: CatalogService
    customers: CustomerService
    carts: CartService
    shipping: ShippingService
    payments: PaymentService
    orders: OrderService
    returns: ReturnService
    support: SupportService
    staff: StaffService
    relay: EventRelay
    refunds: ProviderRefunds
    stripe: StripeCheckout | None
    reports: ReportService
    index_sync: IndexSync
    # Reads that scan many rows (reports, low stock, monitoring's totals): off the event loop
    # on SQLite (create_long_read_engine, then also kept to be disposed of), the ordinary
    # sessions elsewhere.
    long_reads: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime] = utcnow
    long_read_engine: AsyncEngine | None = None

    async def run_background(self, stop: asyncio.Event) -> None:
        """Deliver events, release expired reservations and follow catalog changes made by
        other processes, until `stop` is set."""
        await self.payments.resume_pending_refunds()
        helpers = [asyncio.create_task(self._sweep(stop)),
                   asyncio.create_task(self.index_sync.run(stop)),
                   asyncio.create_task(self.reports.funnel.run(stop))]
        try:
            await self.relay.run(stop)
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _sweep(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.orders.expire_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SWEEP_INTERVAL_S)

    async def close(self) -> None:
        await self.reports.funnel.flush()
        await self.relay.close()
        if self.stripe is not None:
            await self.stripe.aclose()
        if self.long_read_engine is not None:
            await self.long_read_engine.dispose()
        await self.engine.dispose()


def _stripe(settings: Settings) -> StripeCheckout | None:
    if settings.stripe_api_key is None:
        return None
    base = settings.webhook_base_url or f"http://{settings.http_host}:{settings.http_port}"
    return StripeCheckout(
        api_key=settings.stripe_api_key.get_secret_value(),
        webhook_secret=(settings.stripe_webhook_secret.get_secret_value()
                        if settings.stripe_webhook_secret else None),
        api_base=settings.stripe_api_base,
        success_url=f"{base}{SUCCESS_PATH}",
        cancel_url=f"{base}{CANCEL_PATH}",
    )


def build_shop(settings: Settings, engine: AsyncEngine, *,
               clock: Callable[[], datetime] = utcnow, relay: EventRelay | None = None
               ) -> Shop:
    """Every service of one shop, sharing one session factory and one event relay.

    The relay goes through Redis Streams when ``settings.redis_url`` is set, else it works
    from the database alone; tests may pass their own.
    """
    sessions = session_factory(engine)
    if relay is None:
        lease_s = settings.event_lease_seconds
        relay = (StreamRelay(sessions, settings.redis_url, clock=clock, lease_s=lease_s)
                 if settings.redis_url else Relay(sessions, clock=clock, lease_s=lease_s))
    stripe = _stripe(settings)
    refunds = ProviderRefunds(stripe)
    payments = PaymentService(
        sessions,
        PaymentConfig(
            shop_name=settings.shop_name,
            provider_token=(settings.payment_provider_token.get_secret_value()
                            if settings.payment_provider_token else None),
            stars_per_unit=settings.stars_per_unit,
        ),
        refunds, stripe=stripe, notify=relay.wake, clock=clock,
    )
    long_read_engine = create_long_read_engine(engine)
    long_reads = session_factory(long_read_engine) if long_read_engine is not None else sessions
    catalog = CatalogService(sessions, long_reads=long_reads)
    return Shop(
        settings=settings, engine=engine, sessions=sessions,
        catalog=catalog,
        # The change log is stamped with the wall clock, so the sync reads it by that clock.
        index_sync=IndexSync(sessions, catalog, redis_url=settings.redis_url),
        customers=CustomerService(sessions),
        carts=CartService(sessions, currency=settings.shop_currency, clock=clock),
        shipping=ShippingService(sessions),
        payments=payments,
        orders=OrderService(sessions, payments, reservation_minutes=settings.reservation_minutes,
                            currency=settings.shop_currency, notify=relay.wake, clock=clock),
        returns=ReturnService(sessions, payments, window_days=settings.return_window_days,
                              notify=relay.wake, clock=clock),
        support=SupportService(sessions, notify=relay.wake, clock=clock),
        staff=StaffService(sessions, settings.staff_ids),
        reports=ReportService(sessions, timezone=settings.shop_timezone,
                              currency=settings.shop_currency, clock=clock,
                              long_reads=long_reads),
        relay=relay, refunds=refunds, stripe=stripe, clock=clock,
        long_read_engine=long_read_engine, long_reads=long_reads,
    )


async def open_shop(settings: Settings, *, migrate: bool = True, load_index: bool = True,
                    clock: Callable[[], datetime] = utcnow) -> Shop:
    """Connect, migrate to head when asked, wire the services and build the search index."""
    engine = create_engine(settings.database_url)
    try:
        if migrate:
            await upgrade(engine)
        shop = build_shop(settings, engine, clock=clock)
        if load_index:
            await shop.index_sync.start_from_now()  # before: a change meanwhile is re-read
            await shop.catalog.load_index()
    except BaseException:
        await engine.dispose()
        raise
    return shop
