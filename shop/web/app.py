"""The HTTP server beside the bots: payment webhooks and a health check."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shop.bootstrap import Shop
from shop.messaging.pages import add_payment_pages
from shop.web.stripe_webhook import add_stripe_route

# Adds a channel's routes (the WhatsApp webhook): shop/ knows no channel, channels mount here.
Mount = Callable[[web.Application], None]


def build_app(shop: Shop, mounts: Iterable[Mount] = ()) -> web.Application:
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
        add_payment_pages(app, shop.settings.shop_name)
    for mount in mounts:
        mount(app)
    return app


async def start_http(shop: Shop, mounts: Iterable[Mount] = ()) -> web.AppRunner:
    runner = web.AppRunner(build_app(shop, mounts), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, shop.settings.http_host, shop.settings.http_port).start()
    return runner
