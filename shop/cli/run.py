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
    from bot.channels.whatsapp import whatsapp_channel
    from bot.handlers.storage import make_storage
    from bot.telegram_app import CustomerBot, make_bot
    from bot.telegram_limits import make_limiter

    settings = shop.settings
    whatsapp = whatsapp_channel(shop)  # None unless WHATSAPP_PHONE_ID and WHATSAPP_TOKEN are set
    mounts = [whatsapp.mount] if whatsapp is not None else []
    runner = (await start_http(shop, mounts)
              if shop.stripe is not None or whatsapp is not None else None)
    tasks = []
    # Conversation state and rate limits in Redis when REDIS_URL is set (several workers).
    storage = make_storage(settings)
    limiter = make_limiter(settings.redis_url)
    customer = None
    if settings.bot_token is not None:
        customer = make_bot(settings.bot_token.get_secret_value(), settings.telegram_api_base,
                            limiter)
        customer_bot = CustomerBot(shop, customer, storage=storage)
        tasks.append(asyncio.create_task(customer_bot.run_polling(stop)))
    else:
        tasks.append(asyncio.create_task(shop.run_background(stop)))
    if settings.admin_bot_token is not None:
        # The staff bot shares this process's event relay, which the task above runs.
        from admin_bot.app import AdminBot

        staff_bot = AdminBot(shop, make_bot(settings.admin_bot_token.get_secret_value(),
                                            settings.telegram_api_base, limiter),
                             customer_bot=customer, storage=storage)
        tasks.append(asyncio.create_task(staff_bot.run_polling(stop, background=False)))
    if whatsapp is not None:  # its webhook is on the HTTP server; events come from the relay
        tasks.append(asyncio.create_task(whatsapp.run(stop)))
    try:
        await stop.wait()
    finally:
        await asyncio.gather(*tasks, return_exceptions=True)
        await storage.close()
        await limiter.close()
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
