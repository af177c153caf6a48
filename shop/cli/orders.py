"""`chatshop orders export`."""

from __future__ import annotations

from pathlib import Path

import click

from shop.bootstrap import Shop
from shop.cli.support import run_async, settings_from, with_shop
from shop.orders.export import export_orders


@click.group()
def orders() -> None:
    """Orders and payments."""


@orders.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_context
def export(ctx: click.Context, file: Path) -> None:
    """Write orders with their payments and refunds to FILE (CSV, for accounting)."""
    if not file.resolve().parent.is_dir():
        raise click.ClickException(f"{file.parent}: no such folder")

    async def go(shop: Shop) -> int:
        return await export_orders(shop.sessions, file)

    rows = run_async(with_shop(settings_from(ctx), go))
    click.echo(f"exported {rows} orders to {file}")
