"""The `chatshop` command: one entry point for set-up, the catalog and the demo."""

from __future__ import annotations

import click

from shop.cli.catalog import catalog
from shop.cli.demo import demo
from shop.cli.orders import orders
from shop.cli.run import run
from shop.cli.support import run_async, settings_from
from shop.db.engine import create_engine
from shop.db.migrate import upgrade
from shop.settings import SettingsError, load_settings


@click.group()
@click.version_option(package_name="chatshop")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Chatshop: sell inside Telegram and WhatsApp, run the shop from a staff bot."""
    try:
        ctx.obj = load_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


@cli.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply the migrations up to the newest."""
    settings = settings_from(ctx)

    async def go() -> None:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    run_async(go())
    click.echo("database is up to date")


cli.add_command(catalog)
cli.add_command(demo)
cli.add_command(orders)
cli.add_command(run)


def main() -> None:
    cli.main(prog_name="chatshop")
