"""Orders and their payments as CSV, for the accountant."""

from __future__ import annotations

import asyncio
import csv
import os
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.money import to_major_str
from shop.orders.models import Order
from shop.payments.models import Payment

COLUMNS = (
    "number", "created_at", "paid_at", "status", "customer_id", "currency", "subtotal",
    "discount", "shipping", "total", "paid", "refunded", "providers", "provider_payment_ids",
    "promo_code", "shipping_method", "country",
)


async def export_orders(sessions: async_sessionmaker[AsyncSession], path: Path) -> int:
    """Write every order (oldest first) with what was paid and refunded; returns the rows.

    Amounts are decimal strings in major units of the order's currency, exact.
    Payments in another currency (Telegram Stars) are listed under providers,
    not added to `paid`. The file is written aside and renamed, so a failure
    never leaves half a file.
    """
    async with sessions() as session:
        orders = (await session.execute(select(Order).order_by(Order.number))).scalars().all()
        by_order: dict[int, list[Payment]] = defaultdict(list)
        for payment in (await session.execute(select(Payment).order_by(Payment.id))).scalars():
            by_order[payment.order_id].append(payment)
    rows = [_row(order, by_order.get(order.id, [])) for order in orders]
    await asyncio.to_thread(_write, path, rows)
    return len(rows)


def _row(order: Order, payments: Sequence[Payment]) -> tuple[object, ...]:
    def money(minor: int) -> str:
        return to_major_str(minor, order.currency)

    same = [p for p in payments if p.currency == order.currency]
    return (
        order.number, order.created_at.isoformat(),
        order.paid_at.isoformat() if order.paid_at else "", order.status, order.customer_id,
        order.currency, money(order.subtotal), money(order.discount),
        money(order.shipping_total), money(order.total), money(sum(p.amount for p in same)),
        money(sum(p.refunded for p in same)),
        " ".join(sorted({f"{p.provider}:{p.currency}" for p in payments})),
        " ".join(p.provider_payment_id for p in payments), order.promo_code or "",
        order.shipping_method_name or "", order.ship_country or "",
    )


def _write(path: Path, rows: list[tuple[object, ...]]) -> None:
    target = path.resolve()
    handle, temp = tempfile.mkstemp(prefix=".orders-", suffix=".csv", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(COLUMNS)
            writer.writerows(rows)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
