"""A sales report as text for staff (the chart is drawn by admin_bot.chart)."""

from __future__ import annotations

from admin_bot.context import Staff
from admin_bot.screens.common import A
from bot.flows.screens import Button, Screen, Text, bold
from bot.i18n import Translator
from shop.reports.types import Period, SalesReport

CHOICES = (Period.TODAY, Period.WEEK, Period.MONTH)


def period_label(t: Translator, period: Period) -> str:
    return {Period.TODAY: t("today"), Period.YESTERDAY: t("yesterday"),
            Period.WEEK: t("last 7 days"), Period.MONTH: t("last 30 days")}[period]


def percent(basis_points: int) -> str:
    return f"{basis_points // 100}.{basis_points % 100:02d}%"


def report_screen(staff: Staff, report: SalesReport) -> Screen:
    t = staff.t
    parts: list[Text | str] = [
        Text.of(bold(t("📊 Sales, {period}", period=period_label(t, report.period)))),
        t("{days} ({zone})", days=report.label, zone=report.timezone), "",
        t("Revenue: {amount}", amount=t.money(report.revenue))]
    if report.refunded.minor:
        parts.append(t("Refunded: {amount} · net {net}", amount=t.money(report.refunded),
                       net=t.money(report.net)))
    parts.append(t("Orders paid: {count} · average {amount}", count=report.orders_paid,
                   amount=t.money(report.average_order_value)))
    if report.top_products:
        parts += ["", Text.of(bold(t("Top products")))]
        for i, p in enumerate(report.top_products, 1):
            sold = t("{units} sold", units=p.units)
            parts.append(f"{i}. {p.title} — {sold} — {t.money(p.revenue)}")
    f = report.funnel
    parts += ["", Text.of(bold(t("Funnel (customers)"))),
              t("searched {searched} → added to cart {cart} → checked out {checkout} → "
                "paid {paid}", searched=f.searched, cart=f.added_to_cart,
                checkout=f.checked_out, paid=f.paid),
              t("({searches} searches, {adds} cart adds, {orders} orders placed)",
                searches=f.searches, adds=f.cart_adds, orders=f.checkouts), ""]
    if report.return_rate_bp is None:
        parts.append(t("Returns requested: {count}", count=report.returns_requested))
    else:
        parts.append(t("Returns requested: {count} ({rate} of orders paid)",
                       count=report.returns_requested, rate=percent(report.return_rate_bp)))
    buttons = (tuple(Button(("• " if p == report.period else "") + period_label(t, p),
                            A("rep", p.value)) for p in CHOICES),)
    return Screen(Text.lines(*parts), buttons)
