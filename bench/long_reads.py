"""How long staff's big reads stop the event loop on SQLite: reports and the low-stock list.

    python bench/long_reads.py [--funnel-steps 300000] [--variants 250000] [--repeats 5]

Chatshop's SQLite driver runs each statement in the event loop's thread, so a statement that
scans many rows holds every customer's answer meanwhile; those reads go through a thread-run
engine instead (``shop.db.engine.create_long_read_engine``). One throwaway SQLite database
gets a month of funnel steps (``--funnel-steps``, spread over 28 days) and a catalog of
``--variants`` variants (5 per product, 2% under their low-stock threshold). Each read runs
``--repeats`` times through the shop as wired (off the loop) and, as the baseline in the same
run, through the ordinary in-loop sessions, while a task turns the loop as fast as it can
(a busy worker's other updates); the longest gap between two of its turns is the stall.

Prints readable lines, then one JSON line (DESIGN.md section 4): bench, funnel_steps,
variants, report_ms, report_stall_ms, baseline_report_ms, baseline_report_stall_ms,
low_stock_ms, low_stock_stall_ms, baseline_low_stock_ms, baseline_low_stock_stall_ms
(medians over the repeats).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from shop.auth import StaffActor  # noqa: E402
from shop.bootstrap import Shop, open_shop  # noqa: E402
from shop.catalog import queries  # noqa: E402
from shop.catalog.models import Product, Variant  # noqa: E402
from shop.db.base import utcnow  # noqa: E402
from shop.reports.models import FunnelEvent  # noqa: E402
from shop.reports.service import ReportService  # noqa: E402
from shop.settings import StaffRole, load_settings  # noqa: E402

OWNER = StaffActor(1, StaffRole.OWNER)
BATCH = 50_000


async def seed(shop: Shop, funnel_steps: int, variants: int) -> None:
    now = utcnow()
    month = 28 * 24 * 3600
    async with shop.sessions.begin() as session:
        for start in range(0, funnel_steps, BATCH):
            await session.execute(insert(FunnelEvent), [
                {"kind": "search" if n % 3 else "cart", "customer_id": n % 5000,
                 "at": now - timedelta(seconds=(n * 7919) % month)}
                for n in range(start, min(start + BATCH, funnel_steps))])
    products = max(1, variants // 5)
    async with shop.sessions.begin() as session:
        for start in range(0, products, BATCH):
            await session.execute(insert(Product), [
                {"handle": f"p{n}", "title": f"Product {n}", "description": "", "active": True}
                for n in range(start, min(start + BATCH, products))])
    async with shop.sessions.begin() as session:
        for start in range(0, variants, BATCH):
            await session.execute(insert(Variant), [
                {"product_id": n // 5 + 1, "position": n % 5, "sku": f"SKU-{n}",
                 "price": 1000 + n % 900, "currency": "EUR",
                 "stock": n % 7 if n % 50 == 0 else 100 + n % 50, "low_stock_threshold": 5,
                 "weight_grams": 100}
                for n in range(start, min(start + BATCH, variants))])


async def other_updates(done: asyncio.Event, gap: list[float]) -> None:
    """Turn the loop until `done`, keeping in `gap[0]` the longest wait between two turns."""
    last = time.perf_counter()
    while not done.is_set():
        await asyncio.sleep(0)
        now = time.perf_counter()
        gap[0] = max(gap[0], now - last)
        last = now


async def stalls(read: Callable[[], Awaitable[Any]], repeats: int) -> tuple[float, float]:
    """Median time of `read` and median longest loop stall during it, in ms."""
    times, longest = [], []
    for _ in range(repeats):
        done = asyncio.Event()
        gap = [0.0]
        ticker = asyncio.create_task(other_updates(done, gap))
        await asyncio.sleep(0)  # let it start
        began = time.perf_counter()
        await read()
        times.append(time.perf_counter() - began)
        done.set()
        await ticker
        longest.append(gap[0])
    return (round(1000 * statistics.median(times), 1),
            round(1000 * statistics.median(longest), 1))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="chatshop-bench-") as tmp:
        settings = load_settings(database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'shop.db'}")
        shop = await open_shop(settings, load_index=False)
        try:
            began = time.perf_counter()
            await seed(shop, args.funnel_steps, args.variants)
            print(f"seeded {args.funnel_steps} funnel steps and {args.variants} variants in "
                  f"{time.perf_counter() - began:.1f} s")
            in_loop = ReportService(shop.sessions, timezone="UTC", currency="EUR")

            async def low_in_loop() -> None:
                async with shop.sessions() as session:
                    await queries.low_stock(session, 20)

            figures = {
                "report": await stalls(lambda: shop.reports.report(OWNER, "month"),
                                       args.repeats),
                "baseline_report": await stalls(lambda: in_loop.report(OWNER, "month"),
                                                args.repeats),
                "low_stock": await stalls(lambda: shop.catalog.low_stock(limit=20),
                                          args.repeats),
                "baseline_low_stock": await stalls(low_in_loop, args.repeats),
            }
        finally:
            await shop.close()
    result: dict[str, Any] = {"bench": "long_reads", "funnel_steps": args.funnel_steps,
                              "variants": args.variants}
    for name, (took, stall) in figures.items():
        print(f"{name.replace('_', ' ')}: {took} ms, longest loop stall {stall} ms")
        result[f"{name}_ms"] = took
        result[f"{name}_stall_ms"] = stall
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--funnel-steps", type=int, default=300_000)
    parser.add_argument("--variants", type=int, default=250_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
