"""My orders: the list (newest first, paged), an order's detail with its timeline, tracking and
what can be done with it now (pay, cancel, return, ask support)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from babel.dates import format_date, format_datetime

from bot.flows import status_words as words
from bot.flows.actions import Action
from bot.flows.context import Conversation, Deps
from bot.flows.payment import (
    delivery_text,
    order_lines,
    paid_text,
    payment_step,
    settled_screen,
)
from bot.flows.router import menu_button, on_action, on_command
from bot.flows.screens import Button, Reply, Row, Screen, Text, bold, italic, rows
from shop.money import Money
from shop.orders.states import OrderStatus
from shop.orders.types import HistoryEntry, OrderView, ReturnView

A = Action.make
PAGE_SIZE = 5
MAX_PAGE = 1000
TIMELINE_MAX = 12
S = OrderStatus


def status_word(convo: Conversation, status: str) -> str:
    return words.status_word(convo.t, status)


def return_word(convo: Conversation, status: str) -> str:
    return words.return_word(convo.t, status)


def _date(convo: Conversation, when: datetime) -> str:
    return format_date(when, "medium", locale=convo.language)


def _moment(convo: Conversation, when: datetime) -> str:
    return format_datetime(when, "short", tzinfo=UTC, locale=convo.language)


@on_command("orders")
async def orders_command(deps: Deps, convo: Conversation, _: str) -> Reply:
    return await order_list(deps, convo, A("orders"))


@on_action("orders")
async def order_list(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`orders[:<page>]`: the customer's orders, newest first."""
    t = convo.t
    convo.expect(None)
    page = action.int(0) if action.args else 1
    page = min(max(1, page), MAX_PAGE)
    found = await deps.shop.orders.orders(convo.actor, page=page, page_size=PAGE_SIZE)
    if not found and page > 1:
        return await order_list(deps, convo, A("orders"))
    if not found:
        return Reply.of(Screen(Text.lines(Text.of(bold(t("My orders"))), "",
                                          t("You have no orders yet.")),
                               rows((Button(t("🛍 Catalog"), A("cats")), menu_button(convo)))))
    # One row after this page says whether there is a next one.
    more = await deps.shop.orders.orders(convo.actor, page=page * PAGE_SIZE + 1, page_size=1)
    buttons: list[Row] = [(Button(
        f"#{o.number} · {_date(convo, o.created_at)} · {status_word(convo, o.status)} · "
        f"{t.money(o.total)}", A("order", o.id)),) for o in found]
    nav: list[Button] = []
    if page > 1:
        nav.append(Button(t("‹ Newer"), A("orders", page - 1)))
    if more:
        nav.append(Button(t("Older ›"), A("orders", page + 1)))
    if nav:
        buttons.append(tuple(nav))
    buttons.append((menu_button(convo),))
    heading = t("My orders") if page == 1 else t("My orders · page {page}", page=page)
    return Reply.of(Screen(Text.lines(Text.of(bold(heading)), t("Choose an order to see it.")),
                           tuple(buttons)))


def _timeline(convo: Conversation, history: tuple[HistoryEntry, ...]) -> list[Text | str]:
    t = convo.t
    entries: list[Text | str] = []
    for entry in history:
        if entry.to_status:
            what = status_word(convo, entry.to_status)
        elif entry.kind == "refunded":
            what = t("refund sent: {amount}", amount=entry.note)
        else:
            continue
        entries.append(f"• {_moment(convo, entry.at)} — {what}")
    return entries[-TIMELINE_MAX:]


def returnable(deps: Deps, order: OrderView) -> bool:
    """Whether a return may be asked now (the core decides for good when it is asked)."""
    if order.status not in (S.DELIVERED, S.RETURN_REJECTED) or order.delivered_at is None:
        return False
    window = timedelta(days=deps.shop.settings.return_window_days)
    delivered = order.delivered_at
    if delivered.tzinfo is None:
        delivered = delivered.replace(tzinfo=UTC)
    return deps.shop.clock() <= delivered + window


async def order_returns(deps: Deps, convo: Conversation, order_id: int) -> list[ReturnView]:
    return [r for r in await deps.shop.returns.list(convo.actor, limit=100)
            if r.order_id == order_id]


def order_screen(deps: Deps, convo: Conversation, order: OrderView,
                 returns: list[ReturnView], note: str | None = None) -> Screen:
    t = convo.t
    lines: list[Text | str] = []
    if note:
        lines += [Text.of(bold(note)), ""]
    lines += [Text.of(bold(t("Order #{number}", number=order.number)), " · ",
                      status_word(convo, order.status)),
              t("Placed on {date}", date=_date(convo, order.created_at)), "",
              *order_lines(convo, order), "",
              t("Subtotal: {amount}", amount=t.money(order.subtotal))]
    if order.discount.minor:
        lines.append(t("Discount: −{amount}", amount=t.money(order.discount)))
    if not order.digital_only:
        lines.append(t("Shipping: {amount}", amount=t.money(order.shipping_total)
                       if order.shipping_total.minor else t("free")))
    lines.append(Text.of(bold(t("Total: {amount}", amount=t.money(order.total)))))
    if order.paid_stars or order.paid.minor:
        lines.append(t("Paid: {amount}", amount=paid_text(convo, order)))
    if order.refunded_stars:
        lines.append(t("Refunded: {amount}", amount=t.money(Money("XTR", order.refunded_stars))))
    elif order.refunded.minor:
        lines.append(t("Refunded: {amount}", amount=t.money(order.refunded)))
    lines += ["", delivery_text(convo, order)]
    buttons: list[Row] = []
    if order.tracking_number:
        lines.append(t("Tracking: {carrier} {number}", carrier=order.carrier or "",
                       number=order.tracking_number))
        if order.tracking_url:
            buttons.append((Button(t("🚚 Track the parcel"), url=order.tracking_url),))
    for ret in returns[:3]:
        items = ", ".join(f"{line.title} × {line.quantity}" for line in ret.lines)
        lines += ["", Text.of(bold(t("Return: {status}", status=return_word(convo, ret.status)))),
                  Text.of(italic(items))]
        if ret.staff_note:
            lines.append(t("Our note: {note}", note=ret.staff_note))
    timeline = _timeline(convo, order.history)
    if timeline:
        lines += ["", Text.of(bold(t("History"))), *timeline]
    if order.status == S.AWAITING_PAYMENT:
        buttons.append((Button(t("💳 Pay"), A("opay", order.id)),
                        Button(t("✕ Cancel order"), A("ocancel", order.id))))
    if returnable(deps, order):
        buttons.append((Button(t("↩ Return items"), A("ret", order.id)),))
    buttons.append((Button(t("💬 Ask about this order"), A("sup", order.id)),))
    buttons.append((Button(t("« My orders"), A("orders")), menu_button(convo)))
    return Screen(Text.lines(*lines), tuple(buttons))


@on_action("order")
async def order_detail(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`order:<order_id>` (NotYourOrder for another customer's, answered by the router)."""
    convo.expect(None)
    order = await deps.shop.orders.order(convo.actor, action.int(0))
    returns = await order_returns(deps, convo, order.id)
    return Reply.of(order_screen(deps, convo, order, returns))


@on_action("opay")
async def pay_again(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`opay:<order_id>`: the payment step again for an order awaiting payment."""
    order = await deps.shop.orders.order(convo.actor, action.int(0))
    if order.status != S.AWAITING_PAYMENT:
        return await settled_screen(deps, convo, order)
    return await payment_step(deps, convo, order, fresh=False)


@on_action("ocancel")
async def ask_cancel(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`ocancel:<order_id>`: confirm before cancelling an unpaid order."""
    t = convo.t
    order = await deps.shop.orders.order(convo.actor, action.int(0))
    if order.status != S.AWAITING_PAYMENT:
        returns = await order_returns(deps, convo, order.id)
        return Reply.of(order_screen(deps, convo, order, returns, t(
            "This order can no longer be cancelled here; write to us if you need help.")))
    return Reply.of(Screen(
        Text.lines(Text.of(bold(t("Cancel order #{number}?", number=order.number))),
                   t("Your items go back on sale and nothing is charged.")),
        rows((Button(t("Yes, cancel it"), A("ocancely", order.id)),
              Button(t("No, keep it"), A("order", order.id))))))


@on_action("ocancely")
async def cancel(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`ocancely:<order_id>`: cancel it (a second tap just shows the cancelled order)."""
    t = convo.t
    order = await deps.shop.orders.order(convo.actor, action.int(0))
    if order.status == S.AWAITING_PAYMENT:
        order, _ = await deps.shop.orders.cancel(convo.actor, order.id,
                                                 reason="cancelled by the customer")
        note = t("Order #{number} is cancelled.", number=order.number)
    elif order.status == S.CANCELLED:
        note = t("Order #{number} is cancelled.", number=order.number)
    else:
        note = t("This order can no longer be cancelled here; write to us if you need help.")
    returns = await order_returns(deps, convo, order.id)
    screen = order_screen(deps, convo, order, returns, note)
    return Reply.of(Screen(screen.text, screen.buttons, toast=note))
