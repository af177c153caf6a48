"""`chatshop run`: the bots (and the HTTP server for payment webhooks) until stopped."""

from __future__ import annotations

import asyncio
import logging
import signal

import click

from shop.bootstrap import Shop
from shop.cli.support import run_async, settings_from, with_shop
from shop.web.app import start_http

log = logging.getLogger(__name__)


async def serve(shop: Shop, stop: asyncio.Event) -> None:
    """Run everything configured until `stop` is set, then shut down cleanly."""
    from bot.telegram_app import CustomerBot, make_bot

    settings = shop.settings
    runner = await start_http(shop) if shop.stripe is not None else None
    tasks = []
    if settings.bot_token is not None:
        bot = make_bot(settings.bot_token.get_secret_value(), settings.telegram_api_base)
        customer_bot = CustomerBot(shop, bot)
        tasks.append(asyncio.create_task(customer_bot.run_polling(stop)))
    else:
        tasks.append(asyncio.create_task(shop.run_background(stop)))
    try:
        await stop.wait()
    finally:
        await asyncio.gather(*tasks, return_exceptions=True)
        if runner is not None:
            await runner.cleanup()


async def serve_until_signalled(shop: Shop) -> None:
    """Serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(shop, stop)


@click.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the bots until SIGINT or SIGTERM (needs BOT_TOKEN for the customer bot)."""
    settings = settings_from(ctx)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    if settings.bot_token is None:
        click.echo("BOT_TOKEN is not set: only events and reservations are processed "
                   "(try `chatshop demo` for a local chat)", err=True)

    run_async(with_shop(settings, serve_until_signalled, load_index=True))
    click.echo("stopped")
