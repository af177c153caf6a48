"""The HTTP server beside the bots: payment webhooks and a health check."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shop.bootstrap import Shop
from shop.web.stripe_webhook import add_stripe_route


def build_app(shop: Shop) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)

    async def healthz(_: web.Request) -> web.Response:
        try:
            async with shop.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (DBAPIError, OSError) as error:
            return web.json_response({"ok": False, "database": str(error)[:200]}, status=503)
        return web.json_response({"ok": True})

    app.router.add_get("/healthz", healthz)
    if shop.stripe is not None:
        add_stripe_route(app, shop.payments)
    return app


async def start_http(shop: Shop) -> web.AppRunner:
    runner = web.AppRunner(build_app(shop), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, shop.settings.http_host, shop.settings.http_port).start()
    return runner
