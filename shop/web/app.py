"""The HTTP server beside the bots: payment webhooks, a health check and metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aiohttp import web

from shop.bootstrap import Shop
from shop.web.metrics import Metrics
from shop.web.monitoring import add_monitoring_routes
from shop.web.stripe_webhook import add_stripe_route

# Adds a channel's routes (the WhatsApp webhook, the Stripe landing pages): shop/ knows no
# channel, channels mount here.
Mount = Callable[[web.Application], None]


def build_app(shop: Shop, mounts: Iterable[Mount] = (), *,
              metrics: Metrics | None = None) -> web.Application:
    """The server's routes; `metrics` (a new Metrics by default) is served on /metrics and
    kept as `app[shop.web.monitoring.METRICS]`."""
    app = web.Application(client_max_size=1024 * 1024)
    add_monitoring_routes(app, shop, metrics or Metrics())
    if shop.stripe is not None:
        add_stripe_route(app, shop.payments)
    for mount in mounts:
        mount(app)
    return app


async def start_http(shop: Shop, mounts: Iterable[Mount] = (), *,
                     metrics: Metrics | None = None, reuse_port: bool = False) -> web.AppRunner:
    """Serve on HTTP_HOST:HTTP_PORT; `reuse_port` lets several worker processes bind the
    same port, the kernel spreading connections among them."""
    runner = web.AppRunner(build_app(shop, mounts, metrics=metrics), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, shop.settings.http_host, shop.settings.http_port,
                      reuse_port=reuse_port or None).start()
    return runner
