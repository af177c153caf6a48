"""`/healthz` and `/metrics` on the HTTP server."""

from __future__ import annotations

from aiohttp import web

from shop.bootstrap import Shop
from shop.web.health import check
from shop.web.metrics import CONTENT_TYPE, Metrics

# The app's Metrics, for whatever else is mounted on it (e.g. a webhook counting refusals).
METRICS = web.AppKey("metrics", Metrics)


def add_monitoring_routes(app: web.Application, shop: Shop, metrics: Metrics) -> None:
    """Serve `/healthz` (200 or 503 with each part's state) and `/metrics` (Prometheus)."""
    app[METRICS] = metrics

    async def healthz(_: web.Request) -> web.Response:
        health = await check(shop.engine, shop.settings.redis_url)
        return web.json_response(health.as_json(), status=200 if health.ok else 503)

    async def metrics_page(_: web.Request) -> web.Response:
        await metrics.read_shop(shop)
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
