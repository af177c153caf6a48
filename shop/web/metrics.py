"""Prometheus metrics of one shop process, on a registry of their own (not the global one, so
tests and several shops in one process do not collide).

Updates, their latency and their errors are counted by the bots (`bot/handlers/instrument.py`)
and webhook refusals by the webhook handlers (`metrics.webhook_rejected("secret")`); orders,
payments, parked updates and pending events are read from the database when `/metrics` is
scraped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from shop.bootstrap import Shop
from shop.redaction import describe_error
from shop.reports.counts import ShopCounts, shop_counts

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Handling one update takes from about a millisecond (a cached answer) to seconds (a slow
# payment provider); buckets cover 1 ms to 5 s.
READ_TIMEOUT_S = 5.0
UPDATE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _version() -> str:
    try:
        return package_version("chatshop")
    except PackageNotFoundError:
        return "unknown"


class _ShopSnapshot(Collector):
    """Serves the figures last read from the database (by `Metrics.read_shop`)."""

    def __init__(self) -> None:
        self.counts: ShopCounts | None = None
        self.pending: int | None = None
        self.database_up = True

    def describe(self) -> Iterable[Metric]:
        return self._families(None, None)

    def collect(self) -> Iterable[Metric]:
        return self._families(self.counts, self.pending)

    def _families(self, counts: ShopCounts | None, pending: int | None) -> Iterator[Metric]:
        up = GaugeMetricFamily("chatshop_database_up",
                               "Whether the database answered the last scrape's queries")
        up.add_metric([], 1.0 if self.database_up else 0.0)
        yield up
        # Orders move between statuses, so the per-status figure is a gauge.
        orders = GaugeMetricFamily("chatshop_orders_total", "Orders now in each status",
                                   labels=["status"])
        payments = CounterMetricFamily("chatshop_payments", "Payments recorded",
                                       labels=["provider", "currency"])
        amount = CounterMetricFamily("chatshop_payments_amount_minor",
                                     "Sum of payments recorded, in minor units (cents)",
                                     labels=["provider", "currency"])
        refunded = CounterMetricFamily("chatshop_payments_refunded_minor",
                                       "Sum refunded of those payments, in minor units",
                                       labels=["provider", "currency"])
        if counts is not None:
            for status, count in counts.orders_by_status.items():
                orders.add_metric([status], count)
            for totals in counts.payments:
                labels = [totals.provider, totals.currency]
                payments.add_metric(labels, totals.count)
                amount.add_metric(labels, totals.amount)
                refunded.add_metric(labels, totals.refunded)
        parked = GaugeMetricFamily("chatshop_updates_parked",
                                   "Webhook updates answered before they were handled and "
                                   "not handled yet (a worker handles them, or takes them "
                                   "over from one that died)")
        if counts is not None:
            parked.add_metric([], counts.parked_updates)
        yield from (orders, payments, amount, refunded, parked)
        events = GaugeMetricFamily("chatshop_events_pending",
                                   "Outbox events not yet delivered to a subscriber")
        if pending is not None:
            events.add_metric([], pending)
        yield events


class Metrics:
    """The metric objects of one shop process and the registry they live in."""

    def __init__(self, version: str | None = None) -> None:
        self.registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self.updates = Counter("chatshop_updates", "Bot updates handled",
                               ["bot", "type"], registry=self.registry)
        self.update_seconds = Histogram("chatshop_update_seconds",
                                        "Time to handle one bot update", ["bot"],
                                        buckets=UPDATE_BUCKETS, registry=self.registry)
        self.update_errors = Counter("chatshop_update_errors",
                                     "Bot updates whose handler raised", ["bot"],
                                     registry=self.registry)
        self.bot_api_calls = Counter("chatshop_bot_api_calls",
                                     "Bot API calls, by outcome: ok, in_webhook_reply, "
                                     "rate_limited (429), network_error, server_error "
                                     "(5xx), refused (other 4xx)",
                                     ["bot", "outcome"], registry=self.registry)
        self.webhook_rejections = Counter("chatshop_webhook_rejected",
                                          "Webhook requests refused, by reason", ["reason"],
                                          registry=self.registry)
        Info("chatshop", "The running Chatshop", registry=self.registry).info(
            {"version": version or _version()})
        self._shop = _ShopSnapshot()
        self.registry.register(self._shop)

    def update_handled(self, bot: str, update_type: str, seconds: float, *,
                       failed: bool = False) -> None:
        """Count one update of `update_type` handled by `bot` in `seconds`."""
        self.updates.labels(bot=bot, type=update_type).inc()
        self.update_seconds.labels(bot=bot).observe(seconds)
        if failed:
            self.update_errors.labels(bot=bot).inc()

    def bot_api_called(self, bot: str, outcome: str) -> None:
        """Count one Bot API call attempt of `bot` (each retry is an attempt of its own)."""
        self.bot_api_calls.labels(bot=bot, outcome=outcome).inc()

    def webhook_rejected(self, reason: str) -> None:
        """Count one refused webhook request; `reason` is a short fixed word such as
        ``secret``, ``payload`` or ``signature`` (never a value taken from the request)."""
        self.webhook_rejections.labels(reason=reason).inc()

    async def read_shop(self, shop: Shop) -> None:
        """Refresh the figures read from the database (and the event relay). A failure
        drops those figures from the page; a database failure also sets
        ``chatshop_database_up`` to 0."""
        snapshot = self._shop
        try:
            async with asyncio.timeout(READ_TIMEOUT_S):
                snapshot.counts = await shop_counts(shop.long_reads)
            snapshot.database_up = True
        except (SQLAlchemyError, OSError, TimeoutError) as error:
            log.warning("metrics: could not read the shop's figures: %s", describe_error(error))
            snapshot.counts, snapshot.database_up = None, False
        try:
            async with asyncio.timeout(READ_TIMEOUT_S):
                snapshot.pending = await shop.relay.pending()
        except (SQLAlchemyError, RedisError, OSError, TimeoutError) as error:
            log.warning("metrics: could not count pending events: %s", describe_error(error))
            snapshot.pending = None

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)
