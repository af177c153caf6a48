"""`chatshop demo`: the embedded shop with the demo catalog, no account, no network; then a
chat in the terminal on the customer flows when nobody configured a bot."""

from __future__ import annotations

import logging
import sys

import click

from shop.bootstrap import Shop
from shop.cli.support import run_async, settings_from, with_shop
from shop.demo.loader import load_demo


def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


@click.command()
@click.option("--chat/--no-chat", default=None,
              help="Open the local chat after set-up, or only set up. Default: chat when "
                   "BOT_TOKEN is not set and the input is a terminal.")
@click.pass_context
def demo(ctx: click.Context, chat: bool | None) -> None:
    """Set up the embedded shop (SQLite by default), load the demo catalog when empty, then
    chat with the shop in the terminal."""
    settings = settings_from(ctx)
    has_bot = settings.bot_token is not None
    open_chat = chat if chat is not None else (not has_bot and _interactive())

    async def go(shop: Shop) -> None:
        click.echo(f"database: {settings.database_url} (migrated to the newest schema)")
        click.echo(await load_demo(shop))
        count = await shop.catalog.load_index()
        top = [c for c in await shop.catalog.categories() if c.depth == 0]
        click.echo("categories: " + ", ".join(f"{c.name} ({c.product_count})" for c in top))
        click.echo(f"search index: {count} products")
        if has_bot and not open_chat:
            click.echo("BOT_TOKEN is set: running the bots until Ctrl+C")
            from shop.cli.run import serve_until_signalled

            await serve_until_signalled(shop)
            return
        if not open_chat:
            if not has_bot and chat is None:
                click.echo("input is not a terminal, so no local chat opened "
                           "(`chatshop demo --chat` opens it anyway)")
            click.echo('try: chatshop catalog search "zolty chusta"')
            return
        # The CLI is the app's entry point, so it may reach into the bot; the core may not.
        from bot.channels.terminal import run_terminal_chat
        from bot.flows.context import Deps, ShopInfo

        click.echo("\nlocal chat with the shop (the customer flows, as in Telegram):")
        info = ShopInfo(settings.shop_name, settings.shop_terms, settings.shop_contact)
        await run_terminal_chat(Deps(shop, info), language=settings.default_language)

    if open_chat:
        # Warnings and bugs (with their traceback) go to stderr; routine logs stay quiet.
        logging.basicConfig(level=logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
    try:
        run_async(with_shop(settings, go))
    except KeyboardInterrupt:
        click.echo("\nbye")
