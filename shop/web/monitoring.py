"""`/healthz` and `/metrics` on the HTTP server."""

from __future__ import annotations

import hmac

from aiohttp import web

from shop.bootstrap import Shop
from shop.web.health import check
from shop.web.metrics import CONTENT_TYPE, Metrics

# The app's Metrics, for whatever else is mounted on it (e.g. a webhook counting refusals).
METRICS = web.AppKey("metrics", Metrics)


def add_monitoring_routes(app: web.Application, shop: Shop, metrics: Metrics) -> None:
    """Serve `/healthz` (200 or 503 with each part's state) and `/metrics` (Prometheus;
    behind `Authorization: Bearer METRICS_TOKEN` when that setting is set: the page shows
    sales figures)."""
    app[METRICS] = metrics

    async def healthz(_: web.Request) -> web.Response:
        health = await check(shop.engine, shop.settings.redis_url)
        return web.json_response(health.as_json(), status=200 if health.ok else 503)

    token = shop.settings.metrics_token
    expected = f"Bearer {token.get_secret_value()}".encode() if token is not None else None

    async def metrics_page(request: web.Request) -> web.Response:
        if expected is not None:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                # Prometheus sends it with `authorization: {credentials: …}` in its job.
                return web.Response(status=401, text="a bearer token is required",
                                    headers={"WWW-Authenticate": "Bearer"})
        await metrics.read_shop(shop)
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
