"""`chatshop catalog import|export|search`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import click

from shop.bootstrap import Shop
from shop.catalog.exporter import export_catalog
from shop.catalog.importer import ImportReport, import_catalog
from shop.catalog.index_sync import announce_catalog_change
from shop.catalog.search import SearchFilters
from shop.cli.support import run_async, settings_from, with_shop
from shop.money import to_major_str

MAX_ERRORS_SHOWN = 50
BAR_WIDTH = 30


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress callback drawing a bar on a terminal, silent when output is piped."""
    stream = sys.stderr
    live = stream.isatty()
    drawn = -1

    def update(done: int, total: int) -> None:
        nonlocal drawn
        percent = 100 * done // total if total > 0 else 100
        if not live or percent == drawn:
            return
        drawn = percent
        filled = percent * BAR_WIDTH // 100
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        stream.write(f"\r{label} [{bar}] {percent:3d}% ({done}/{total})")
        stream.flush()

    try:
        yield update
    finally:
        if live and drawn >= 0:
            stream.write("\n")


def print_report(report: ImportReport, dry_run: bool) -> None:
    for warning in report.warnings[:MAX_ERRORS_SHOWN]:
        click.echo(f"warning: line {warning.line}: {warning.message}", err=True)
    for error in report.errors[:MAX_ERRORS_SHOWN]:
        click.echo(f"error: line {error.line}: {error.message}", err=True)
    hidden = len(report.errors) - MAX_ERRORS_SHOWN
    if hidden > 0:
        click.echo(f"error: … and {hidden} more", err=True)
    click.echo(
        f"products: {report.products_created} created, {report.products_updated} updated, "
        f"{report.products_unchanged} unchanged; variants: {report.variants_created} created, "
        f"{report.variants_updated} updated, {report.variants_unchanged} unchanged; "
        f"rejected rows: {report.rejected}"
    )
    if report.errors:
        click.echo("nothing was imported: fix the rows above and run the import again")
    elif dry_run:
        click.echo("dry run: nothing was written")


@click.group()
def catalog() -> None:
    """The product catalog."""


@catalog.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["native", "shopify"]), default="native",
              show_default=True, help="native CSV (DESIGN.md) or Shopify's product export")
@click.option("--dry-run", is_flag=True, help="check the file and count changes, write nothing")
@click.pass_context
def import_(ctx: click.Context, file: Path, fmt: Literal["native", "shopify"],
            dry_run: bool) -> None:
    """Import FILE: all of it or nothing; re-importing the same file changes nothing."""
    settings = settings_from(ctx)

    async def go(shop: Shop) -> ImportReport:
        with progress_bar(f"importing {file.name}") as progress:
            report = await import_catalog(
                shop.sessions, file, fmt=fmt, currency=settings.shop_currency,
                low_stock_threshold=settings.low_stock_threshold, progress=progress,
                dry_run=dry_run,
            )
        if report.committed and settings.redis_url:
            # Running workers would see it at their next poll; this makes it immediate.
            await announce_catalog_change(settings.redis_url)
        return report

    report = run_async(with_shop(settings, go))
    print_report(report, dry_run)
    if report.errors:
        ctx.exit(1)


@catalog.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_context
def export(ctx: click.Context, file: Path) -> None:
    """Export the catalog to FILE in the native CSV format."""
    settings = settings_from(ctx)

    async def go(shop: Shop) -> int:
        with progress_bar(f"exporting {file.name}") as progress:
            return await export_catalog(shop.sessions, file, progress=progress)

    rows = run_async(with_shop(settings, go))
    click.echo(f"exported {rows} variant rows to {file}")


@catalog.command("search")
@click.argument("query")
@click.option("--category", help="a category path, e.g. Clothing/T-shirts")
@click.option("--in-stock", is_flag=True, help="only products in stock")
@click.option("--page", default=1, show_default=True)
@click.pass_context
def search(ctx: click.Context, query: str, category: str | None, in_stock: bool,
           page: int) -> None:
    """Search the catalog the way customers do (typos forgiven)."""
    settings = settings_from(ctx)

    async def go(shop: Shop) -> None:
        result = await shop.catalog.search(
            query, SearchFilters(category_path=category, in_stock_only=in_stock), page=page
        )
        if result.did_you_mean:
            click.echo(f"did you mean: {result.did_you_mean}")
        if not result.products:
            click.echo("no products found")
        for product in result.products:
            price = to_major_str(product.min_price.minor, product.min_price.currency)
            stock = "in stock" if product.in_stock else "sold out"
            click.echo(f"{product.title} · {product.category_path} · from {price} "
                       f"{product.min_price.currency} · {stock} · {product.handle}")
        click.echo(f"page {result.page}, {result.total} found")

    run_async(with_shop(settings, go, load_index=True))
