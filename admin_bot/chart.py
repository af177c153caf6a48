"""The sales report as a PNG: revenue per day above, the funnel below.

Drawn on a bare `matplotlib.figure.Figure` with the Agg canvas, never pyplot: no global
figure registry, no GUI backend, so it is safe to call from worker threads
(`await asyncio.to_thread(render_report_chart, report)`) and on headless servers.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal

from shop.money import exponent
from shop.reports.types import SalesReport

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 6.0, 100
REVENUE_COLOR = "#2f6db5"
FUNNEL_COLOR = "#e08a2c"


@dataclass(frozen=True, slots=True)
class ChartLabels:
    """The words on the chart; the staff bot passes them translated."""

    revenue: str = "Revenue per day ({currency})"
    funnel: str = "Funnel (customers)"
    searched: str = "Searched"
    added_to_cart: str = "Added to cart"
    checked_out: str = "Checked out"
    paid: str = "Paid"
    summary: str = "{label} · revenue {revenue} · {orders} orders"


def _major(minor: int, currency: str) -> float:
    # Display only: bar heights in major units. Totals shown as text stay exact (Money).
    return float(Decimal(minor).scaleb(-exponent(currency)))


def render_report_chart(report: SalesReport, labels: ChartLabels | None = None) -> bytes:
    """A deterministic PNG (800×600) of the report's daily revenue and its funnel."""
    # matplotlib is imported by the first chart, not with the staff bot: it is tens of MB of
    # heap that every worker would otherwise carry (and the garbage collector scan).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    words = labels or ChartLabels()
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(words.summary.format(label=report.label, revenue=str(report.revenue),
                                         orders=report.orders_paid), fontsize=12)
    revenue_ax, funnel_ax = figure.subplots(2, 1, height_ratios=(3, 2))

    heights = [_major(day.revenue.minor, report.currency) for day in report.days]
    positions = list(range(len(heights)))
    revenue_ax.bar(positions, heights, color=REVENUE_COLOR, width=0.7)
    revenue_ax.set_title(words.revenue.format(currency=report.currency), fontsize=10,
                         loc="left")
    # About eight date labels whatever the period's length.
    step = max(1, -(-len(positions) // 8))
    revenue_ax.set_xticks(positions[::step],
                          [report.days[i].day.strftime("%m-%d") for i in positions[::step]],
                          fontsize=8)
    revenue_ax.set_xlim(-0.6, max(len(positions), 1) - 0.4)
    revenue_ax.set_ylim(0, max([*heights, 1.0]) * 1.15)  # an empty period still has an axis
    revenue_ax.tick_params(axis="y", labelsize=8)
    revenue_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    revenue_ax.grid(axis="y", alpha=0.3)
    revenue_ax.set_axisbelow(True)

    names = (words.searched, words.added_to_cart, words.checked_out, words.paid)
    counts = [count for _, count in report.funnel.steps()]
    rows = list(range(len(counts)))
    funnel_ax.barh(rows, counts, color=FUNNEL_COLOR, height=0.6)
    funnel_ax.set_yticks(rows, names, fontsize=9)
    funnel_ax.invert_yaxis()  # the funnel's top step on top
    widest = max([*counts, 1])
    funnel_ax.set_xlim(0, widest * 1.15)
    for row, count in zip(rows, counts, strict=True):
        funnel_ax.text(count + widest * 0.01, row, str(count), va="center", fontsize=9)
    funnel_ax.set_title(words.funnel, fontsize=10, loc="left")
    funnel_ax.tick_params(axis="x", labelsize=8)
    funnel_ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole customers

    out = io.BytesIO()
    # No "Software" chunk: the same report gives the same bytes across matplotlib versions.
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
