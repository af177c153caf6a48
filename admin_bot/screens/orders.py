"""Orders as staff see them: the new-order alert, the list with filters, the card with its
history, and the buttons for what may happen next."""

from __future__ import annotations

from admin_bot.context import Staff
from admin_bot.screens.common import A, clip, pager, status_label, when
from bot.flows.screens import Button, Row, Screen, Text, bold, italic
from bot.i18n import Translator
from shop.auth import Permission
from shop.customers.types import CustomerInfo
from shop.orders.states import OrderStatus
from shop.orders.types import OrderSummary, OrderView

FILTERS: dict[str, tuple[OrderStatus, ...]] = {
    "confirm": (OrderStatus.PAID,),
    "ship": (OrderStatus.CONFIRMED,),
    "returns": (OrderStatus.RETURN_REQUESTED, OrderStatus.RETURN_APPROVED,
                OrderStatus.RETURNED),
    "recent": (),
}
PAGE_SIZE = 8
HISTORY_SHOWN = 12


def filter_label(t: Translator, name: str) -> str:
    return {"confirm": t("To confirm"), "ship": t("To ship"), "returns": t("Returns"),
            "recent": t("Recent")}[name]


def _customer_line(t: Translator, customer: CustomerInfo) -> str:
    contact = ", ".join(p for p in (customer.phone, customer.email) if p)
    who = f"{customer.name or t('(no name)')} · {customer.channel}"
    return t("Customer: {who}", who=who + (f" · {contact}" if contact else ""))


def _lines(t: Translator, order: OrderView) -> list[str]:
    out = []
    for line in order.lines:
        options = f" ({line.options})" if line.options else ""
        out.append(f"{line.quantity} × {line.title}{options} [{line.sku}] — "
                   f"{t.money(line.line_total)}")
    return out


def _totals(t: Translator, order: OrderView) -> list[str]:
    out = []
    if order.discount.minor:
        out.append(t("Discount ({code}): −{amount}", code=order.promo_code or "",
                     amount=t.money(order.discount)))
    if order.shipping_method:
        out.append(t("Shipping: {method} — {price}", method=order.shipping_method,
                     price=t.money(order.shipping_total)))
    out.append(t("Total: {total}", total=t.money(order.total)))
    if order.refunded.minor:
        out.append(t("Refunded: {amount}", amount=t.money(order.refunded)))
    return out


def _address(t: Translator, order: OrderView) -> str:
    a = order.address
    if a is None:
        return t("Digital order: nothing to ship.") if order.digital_only else t("No address.")
    parts = [a.name, a.street, f"{a.postcode} {a.city}", a.country, a.phone or ""]
    return t("Ship to: {address}", address=", ".join(p for p in parts if p))


def order_actions(staff: Staff, order: OrderView) -> list[Row]:
    """The buttons for what staff may do next with this order."""
    t, oid = staff.t, order.id
    result: list[Row] = []
    if staff.may(Permission.ORDERS):
        if order.status == OrderStatus.PAID:
            result.append((Button(t("✅ Confirm"), A("o.conf", oid)),
                           Button(t("❌ Cancel & refund"), A("o.cancel", oid))))
        elif order.status == OrderStatus.CONFIRMED:
            result.append((Button(t("🚚 Ship"), A("o.ship", oid)),
                           Button(t("❌ Cancel & refund"), A("o.cancel", oid))))
        elif order.status == OrderStatus.SHIPPED:
            result.append((Button(t("📬 Delivered"), A("o.dlv", oid)),))
    if staff.may(Permission.MESSAGES):
        result.append((Button(t("💬 Message customer"), A("o.msg", oid)),))
    return result


def order_alert(staff: Staff, order: OrderView, customer: CustomerInfo) -> Screen:
    t = staff.t
    body = Text.lines(
        Text.of(bold(t("🛒 New paid order #{number}", number=order.number))),
        _customer_line(t, customer), "", *_lines(t, order), *_totals(t, order), "",
        _address(t, order))
    buttons = [*order_actions(staff, order), (Button(t("📋 Open"), A("o.view", order.id)),)]
    return Screen(body, tuple(buttons), new_message=True)


def order_card(staff: Staff, order: OrderView, customer: CustomerInfo) -> Screen:
    t = staff.t
    parts: list[Text | str] = [
        Text.of(bold(t("Order #{number}", number=order.number)), " · ",
                italic(status_label(t, order.status))),
        t("Placed {at}", at=when(order.created_at)) + (
            " · " + t("paid {at}", at=when(order.paid_at)) if order.paid_at else ""),
        _customer_line(t, customer), "", *_lines(t, order), *_totals(t, order), "",
        _address(t, order)]
    if order.tracking_number:
        parts.append(t("Tracking: {carrier} {code}", carrier=order.carrier or "",
                       code=order.tracking_number))
    if order.history:
        parts += ["", Text.of(bold(t("History")))]
        for entry in order.history[-HISTORY_SHOWN:]:
            step = (f"{entry.from_status or '·'} → {entry.to_status}" if entry.to_status
                    else entry.kind)
            note = f" — {entry.note}" if entry.note else ""
            parts.append(clip(f"{when(entry.at)} {step} ({entry.actor}){note}", 300))
    buttons = [*order_actions(staff, order),
               (Button(t("🔄 Refresh"), A("o.view", order.id)),
                Button(t("« Orders"), A("o.list", "recent", 1)))]
    return Screen(Text.lines(*parts), tuple(buttons))


def orders_list(staff: Staff, name: str, page: int, orders: list[OrderSummary],
                has_next: bool) -> Screen:
    t = staff.t
    tabs = tuple(Button(("• " if key == name else "") + filter_label(t, key),
                        A("o.list", key, 1)) for key in FILTERS)
    if orders:
        heading = t("{filter}: page {page}", filter=filter_label(t, name), page=page)
    else:
        heading = t("No orders here right now.")
    buttons: list[Row] = [tabs[:2], tabs[2:]]
    buttons += [(Button(
        f"#{o.number} · {status_label(t, o.status)} · {t.money(o.total)} · "
        + t("{count} items", count=o.item_count), A("o.view", o.id)),) for o in orders]
    paging = pager(t, "o.list", page, has_next, name)
    if paging:
        buttons.append(tuple(paging))
    return Screen(Text.of(bold(heading)), tuple(buttons))


def cancel_choice(staff: Staff, order: OrderView) -> Screen:
    t = staff.t
    refundable = order.paid - order.refunded
    text = Text.lines(
        Text.of(bold(t("Cancel order #{number}?", number=order.number))),
        t("Paid {paid}, already refunded {refunded}. The items go back into stock.",
          paid=t.money(order.paid), refunded=t.money(order.refunded)))
    choices: list[Row] = []
    if refundable.minor > 0:
        choices.append((Button(t("Cancel, refund {amount}", amount=t.money(refundable)),
                               A("o.cnf", order.id, "full")),))
        if not order.paid_stars:  # Telegram Stars are refunded in full only
            choices.append((Button(t("Cancel, refund part…"), A("o.cnf", order.id, "part")),))
    choices.append((Button(t("Cancel without refund"), A("o.cnf", order.id, "none")),))
    choices.append((Button(t("« Keep the order"), A("o.view", order.id)),))
    return Screen(text, tuple(choices))


def done(staff: Staff, text: str, order: OrderView, customer: CustomerInfo) -> Screen:
    """The order card again, with what just happened on top."""
    card = order_card(staff, order, customer)
    return Screen(Text.lines(Text.of(bold(text)), "", card.text), card.buttons,
                  toast=text)




