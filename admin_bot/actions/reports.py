"""Sales reports for owners and managers: `/report today|week|month` and the daily summary,
as text and a chart."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from admin_bot.chart import ChartLabels, render_report_chart
from admin_bot.context import AdminDeps, Staff
from admin_bot.router import Outcome, WithImage, action, command
from admin_bot.screens.reports import period_label, report_screen
from bot.flows.actions import Action
from bot.flows.screens import Screen, Text, bold
from shop.reports.types import Period, SalesReport


def chart_labels(staff: Staff) -> ChartLabels:
    t = staff.t
    return ChartLabels(revenue=t("Revenue per day ({currency})"),
                       funnel=t("Funnel (customers)"), searched=t("Searched"),
                       added_to_cart=t("Added to cart"), checked_out=t("Checked out"),
                       paid=t("Paid"), summary=t("{label} · revenue {revenue} · {orders} orders"))


async def _with_chart(staff: Staff, report: SalesReport) -> WithImage:
    # matplotlib is CPU work: keep the event loop free for other updates meanwhile.
    png = await asyncio.to_thread(render_report_chart, report, chart_labels(staff))
    return WithImage(report_screen(staff, report), png)


async def show(deps: AdminDeps, staff: Staff, period: str) -> Outcome:
    report = await deps.shop.reports.report(staff.actor, period)
    return await _with_chart(staff, report)


@command("report")
async def report_command(deps: AdminDeps, staff: Staff, args: str) -> Outcome:
    return await show(deps, staff, args.strip() or "today")


@action("rep")
async def report_action(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    return await show(deps, staff, str(act.args[0]) if act.args else "today")


async def daily_report(deps: AdminDeps, staff: Staff, day: str) -> WithImage:
    """The summary of one past local day (`2026-11-22`), whenever it is asked for."""
    zone = ZoneInfo(deps.shop.settings.shop_timezone)
    # "Yesterday" as seen at noon of the next day: right even if the alert goes out late.
    as_of = datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(12), zone)
    report = await deps.shop.reports.report(staff.actor, Period.YESTERDAY, now=as_of)
    result = await _with_chart(staff, report)
    heading = Text.of(bold(staff.t("☀️ Daily summary")))
    screen = Screen(Text.lines(heading, result.screen.text), result.screen.buttons,
                    new_message=True)
    return WithImage(screen, result.png, period_label(staff.t, Period.YESTERDAY))
