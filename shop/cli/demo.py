"""`chatshop demo`: the embedded shop with the demo catalog, no account, no network."""

from __future__ import annotations

import click

from shop.bootstrap import Shop
from shop.cli.support import run_async, settings_from, with_shop
from shop.demo.loader import load_demo


@click.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Set up the embedded shop (SQLite by default) and load the demo catalog when empty."""
    settings = settings_from(ctx)

    async def go(shop: Shop) -> None:
        click.echo(f"database: {settings.database_url} (migrated to the newest schema)")
        click.echo(await load_demo(shop))
        count = await shop.catalog.load_index()
        top = [c for c in await shop.catalog.categories() if c.depth == 0]
        click.echo("categories: " + ", ".join(f"{c.name} ({c.product_count})" for c in top))
        click.echo(f"search index: {count} products")
        click.echo('try: chatshop catalog search "zolty chusta"')

    run_async(with_shop(settings, go))
