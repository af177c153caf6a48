"""The report chart: a real PNG, for busy and empty periods, the same bytes every time and
from any thread."""

from __future__ import annotations

import asyncio
import struct
from datetime import UTC, date, datetime, timedelta

from admin_bot.chart import ChartLabels, render_report_chart
from shop.money import Money
from shop.reports.types import DayFigures, Funnel, Period, SalesReport, TopProduct

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def eur(minor: int) -> Money:
    return Money("EUR", minor)


def make_report(period: Period, days: int, *, sales: bool) -> SalesReport:
    last = date(2026, 11, 2)
    first = last - timedelta(days=days - 1)
    series = tuple(DayFigures(first + timedelta(days=i),
                              eur((i * 7919 % 23) * 1250 if sales else 0),
                              (i * 7919 % 23) if sales else 0) for i in range(days))
    revenue = sum(d.revenue.minor for d in series)
    orders = sum(d.orders for d in series)
    funnel = (Funnel(40, 25, 12, 9, 77, 31, 14, 9) if sales
              else Funnel(0, 0, 0, 0, 0, 0, 0, 0))
    return SalesReport(
        period=period, timezone="Europe/Paris", currency="EUR", first_day=first,
        last_day=last, start=datetime(2026, 10, 31, 23, tzinfo=UTC),
        end=datetime(2026, 11, 2, 23, tzinfo=UTC),
        generated_at=datetime(2026, 11, 2, 15, tzinfo=UTC), revenue=eur(revenue),
        refunded=eur(0), net=eur(revenue), orders_paid=orders,
        average_order_value=eur(revenue // orders if orders else 0),
        top_products=(TopProduct(1, "Classic Tee", 3, eur(6400)),) if sales else (),
        funnel=funnel, returns_requested=0, return_rate_bp=0 if orders else None,
        days=series)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_month_chart_is_a_png_of_plausible_size() -> None:
    data = render_report_chart(make_report(Period.MONTH, 30, sales=True))
    assert png_size(data) == (800, 600)
    assert 5_000 < len(data) < 500_000
    assert data.endswith(b"IEND\xaeB`\x82")


def test_empty_and_one_day_reports_render() -> None:
    empty = render_report_chart(make_report(Period.TODAY, 1, sales=False))
    assert png_size(empty) == (800, 600)
    week = render_report_chart(make_report(Period.WEEK, 7, sales=False))
    assert png_size(week) == (800, 600) and week != empty  # seven date labels, not one


def test_same_report_same_bytes_from_any_thread() -> None:
    report = make_report(Period.WEEK, 7, sales=True)
    expected = render_report_chart(report)

    async def many() -> list[bytes]:
        return await asyncio.gather(*(asyncio.to_thread(render_report_chart, report)
                                      for _ in range(4)))

    assert asyncio.run(many()) == [expected] * 4


def test_labels_can_be_translated() -> None:
    report = make_report(Period.TODAY, 1, sales=True)
    french = ChartLabels(revenue="Chiffre d’affaires par jour ({currency})",
                         funnel="Entonnoir (clients)", searched="Recherche",
                         added_to_cart="Panier", checked_out="Commande", paid="Payé",
                         summary="{label} · {revenue} · {orders} commandes")
    translated = render_report_chart(report, french)
    assert png_size(translated) == (800, 600)
    assert translated != render_report_chart(report)
